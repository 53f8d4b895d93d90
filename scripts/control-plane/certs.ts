import { execFile } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { promisify } from 'util';

const execFileAsync = promisify(execFile);

/** The files of a test control plane's PKI, all under one directory. */
export interface ControlPlaneCerts {
  readonly caCert: string;
  readonly caKey: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  /** A client certificate in `system:masters`, for the kubeconfig and the controllers. */
  readonly adminCert: string;
  readonly adminKey: string;
  /** The key pair that signs and verifies service account tokens. */
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
}

const openssl = async (args: string[], cwd: string) => {
  try {
    await execFileAsync('openssl', args, { cwd, timeout: 30_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
};

/** An EC P-256 key and a certificate for it signed by the CA, with the given extensions. */
async function issue(dir: string, name: string, subject: string, extensions: string[]): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '30', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
}

/**
 * Makes a CA, the API server's serving certificate (127.0.0.1, localhost and the in-cluster
 * names), an admin client certificate and the service account signing key, with openssl.
 * Valid for 30 days; made anew at every start.
 */
export async function makeCerts(dir: string, serviceIP: string): Promise<ControlPlaneCerts> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=hscale-control-plane-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const names = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  await issue(dir, 'apiserver', '/CN=kube-apiserver', [
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:127.0.0.1,IP:${serviceIP},${names.map(n => `DNS:${n}`).join(',')}`,
  ]);
  await issue(dir, 'admin', '/O=system:masters/CN=hscale-admin', [
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  const at = (file: string) => join(dir, file);
  return {
    caCert: at('ca.crt'), caKey: at('ca.key'),
    apiserverCert: at('apiserver.crt'), apiserverKey: at('apiserver.key'),
    adminCert: at('admin.crt'), adminKey: at('admin.key'),
    serviceAccountKey: at('sa.key'), serviceAccountPub: at('sa.pub'),
  };
}

/** A kubeconfig for the admin client certificate (paths, so it stays valid while the files do). */
export function kubeconfigYaml(server: string, certs: ControlPlaneCerts): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: hscale-control-plane
  cluster:
    server: ${server}
    certificate-authority: ${certs.caCert}
users:
- name: hscale-admin
  user:
    client-certificate: ${certs.adminCert}
    client-key: ${certs.adminKey}
contexts:
- name: hscale-control-plane
  context:
    cluster: hscale-control-plane
    user: hscale-admin
current-context: hscale-control-plane
`;
}
