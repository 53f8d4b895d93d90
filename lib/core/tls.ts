import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { requireSecretName, SecretRef } from './secret-refs';

/**
 * TLS of a store (PostgreSQL, Redis): a Secret in the cert-manager layout (`type: kubernetes.io/tls`,
 * keys `tls.crt`, `tls.key` and `ca.crt`), whose certificate names every address clients and peers
 * use (each pod's DNS name under the headless Service and the Services'). Clients verify the server
 * against `ca.crt`; the server's key never leaves the store's pods.
 */
export type StoreTls = SecretRef;

/** The keys of a `kubernetes.io/tls` Secret as cert-manager writes it. */
export const TLS_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/** Where a store's TLS files are, once its Secret is mounted at `dir`. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** The TLS files under `dir`. */
export function tlsFiles(dir: string): TlsFiles {
  return { certFile: `${dir}/${TLS_KEYS.cert}`, keyFile: `${dir}/${TLS_KEYS.key}`, caFile: `${dir}/${TLS_KEYS.ca}` };
}

/** `tls` checked: a Secret name (DNS-1123 subdomain); undefined stays undefined (plain connections). */
export function resolveStoreTls(scope: Construct, prop: string, tls: StoreTls | undefined): StoreTls | undefined {
  return tls === undefined ? undefined : { secretName: requireSecretName(scope, prop, tls) };
}

/**
 * The volume of the TLS Secret and its read-only mount at `dir`. Files are 0440 and owned by root with
 * the pod's fsGroup: PostgreSQL accepts a root-owned key readable by its group, and nobody else reads it.
 */
export function tlsVolume(tls: StoreTls, dir: string): { volume: k8s.Volume; mount: k8s.VolumeMount } {
  return {
    volume: { name: 'tls', secret: { secretName: tls.secretName, defaultMode: 0o440 } },
    mount: { name: 'tls', mountPath: dir, readOnly: true },
  };
}

/** An env var with the CA certificate (PEM) of the store's TLS Secret, which clients verify the server against. */
export function tlsCaEnv(name: string, tls: StoreTls): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: tls.secretName, key: TLS_KEYS.ca } } };
}

/**
 * The volume of the TLS Secret's CA certificate alone, mounted read-only at `dir`: for a pod of the
 * store's that is only ever a client (a Job), which has no use for the server's key.
 */
export function tlsCaVolume(tls: StoreTls, dir: string): { volume: k8s.Volume; mount: k8s.VolumeMount } {
  return {
    volume: { name: 'tls-ca', secret: { secretName: tls.secretName, defaultMode: 0o444, items: [{ key: TLS_KEYS.ca, path: TLS_KEYS.ca }] } },
    mount: { name: 'tls-ca', mountPath: dir, readOnly: true },
  };
}

/** What `renderCertificateReloadLoop` watches and how it makes the server read the files again. */
export interface CertificateReloadOptions {
  /** The files to watch, as the Secret volume shows them (the kubelet swaps them all at once). */
  readonly files: string[];
  /** The shell command that makes the server read them again (a signal, a `CONFIG SET`). */
  readonly reload: string;
  readonly intervalSeconds: number;
}

/**
 * A shell loop that runs `reload` when the watched files change. A server reads its certificate at
 * start and reload only, and the kubelet updates a mounted Secret in place when cert-manager (or
 * anyone) renews it, so without the loop the server serves the old certificate until it expires.
 * Start it in the background of the shell that then `exec`s the server: `$$` is that shell, which
 * becomes the server, and the loop ends with it. A failed reload (a mismatched pair) leaves the
 * server on the files it had.
 */
export function renderCertificateReloadLoop(o: CertificateReloadOptions): string {
  const digest = `cat ${o.files.join(' ')} | md5sum`;
  return `last=$(${digest}); while sleep ${o.intervalSeconds} && kill -0 $$; do now=$(${digest}); `
    + `if [ "$now" != "$last" ]; then last=$now; ${o.reload}; fi; done`;
}

/** The loop in the background, its stdio on /dev/null so it holds none of the container's pipes. */
export function backgroundReloadLoop(o: CertificateReloadOptions): string {
  return `(${renderCertificateReloadLoop(o)}) </dev/null >/dev/null 2>&1 &`;
}

/**
 * `command` run by a shell that first starts the reload loop in the background, then `exec`s it, so
 * the loop's `$$` is the server's process (an entrypoint that `exec`s the server keeps the pid) and
 * `command`'s arguments pass through untouched.
 */
export function withCertificateReload(command: string[], o: CertificateReloadOptions): string[] {
  return ['sh', '-c', `${backgroundReloadLoop(o)} exec "$@"`, 'sh', ...command];
}
