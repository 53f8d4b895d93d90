import { X509Certificate } from 'crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'fs';
import { join } from 'path';
import { connect as tlsConnect } from 'tls';
import { TlsFiles, tlsFiles } from '../../lib/core/tls';
import { run } from './processes';

/** openssl in `dir`. */
const ssl = (dir: string, ...args: string[]) => run('openssl', args, { cwd: dir });

/** A server certificate for 127.0.0.1, localhost and `addresses` from the CA in `caDir`, written to `dir` as cert-manager lays it out. */
async function issueServerCertificate(caDir: string, dir: string, addresses: string[]): Promise<void> {
  await ssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.csr');
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...addresses.map(a => `IP:${a}`)].join(',')}\n`);
  await ssl(dir, 'x509', '-req', '-in', 'tls.csr', '-CA', join(caDir, 'ca.crt'), '-CAkey', join(caDir, 'ca.key'), '-CAcreateserial',
    '-days', '1', '-extfile', 'san.ext', '-out', 'tls.crt');
}

/**
 * A throwaway CA (and a second one nobody trusts, `other-ca.crt`) and a server certificate for
 * 127.0.0.1, localhost and the IP `addresses`, as cert-manager lays them out in `dir`. With `keyGroup`,
 * the key is 0440 and owned by root with that group, as a pod's Secret volume with fsGroup shows it.
 */
export async function makeCertificates(dir: string, keyGroup?: string, addresses: string[] = []): Promise<TlsFiles> {
  for (const name of ['ca', 'other-ca']) {
    await ssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=hscale test ${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
  }
  await issueServerCertificate(dir, dir, addresses);
  await ssl(dir, 'x509', '-in', 'ca.crt', '-out', 'ca.crt');
  if (keyGroup) await groupReadableKey(dir, keyGroup);
  chmodSync(dir, 0o755);
  return tlsFiles(dir);
}

/** The key's mode and owner as a pod's Secret volume with fsGroup `keyGroup` shows it: 0440, root and that group. */
async function groupReadableKey(dir: string, keyGroup: string): Promise<void> {
  await run('chmod', ['0440', 'tls.key'], { cwd: dir });
  await run('chown', [`root:${keyGroup}`, 'tls.key'], { cwd: dir });
}

/**
 * Renews the server certificate in `dir` (same CA, new key) as the kubelet updates a Secret volume:
 * the new files replace the old ones whole (the key with `keyGroup` as `makeCertificates` gave it).
 */
export async function renewCertificate(dir: string, keyGroup?: string, addresses: string[] = []): Promise<void> {
  const renewed = join(dir, `renewed-${Date.now()}`);
  mkdirSync(renewed);
  await issueServerCertificate(dir, renewed, addresses);
  if (keyGroup) await groupReadableKey(renewed, keyGroup);
  renameSync(join(renewed, 'tls.key'), join(dir, 'tls.key'));
  renameSync(join(renewed, 'tls.crt'), join(dir, 'tls.crt'));
}

/** The SHA-256 fingerprint of the certificate a TLS server presents on `port` (not verified: only looked at). */
export function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** The SHA-256 fingerprint of a PEM certificate. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** The SHA-256 fingerprint of the certificate PostgreSQL presents on `host`:`port` (its SSLRequest first, as clients send it; not verified). */
export async function servedPostgresFingerprint(port: number, host = '127.0.0.1'): Promise<string> {
  const out = await run('sh', ['-c', `openssl s_client -starttls postgres -connect ${host}:${port} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`]);
  return out.trim().split('=')[1];
}
