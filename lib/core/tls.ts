import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { propError } from './validation';

/**
 * TLS of a store (PostgreSQL, Redis): a Secret in the cert-manager layout (`type: kubernetes.io/tls`,
 * keys `tls.crt`, `tls.key` and `ca.crt`), whose certificate names every address clients and peers
 * use (each pod's DNS name under the headless Service and the Services'). Clients verify the server
 * against `ca.crt`; the server's key never leaves the store's pods.
 */
export interface StoreTls {
  /** Name of the Secret, in the store's namespace (a cert-manager `Certificate`'s `secretName`). */
  readonly secretName: string;
}

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

const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `tls` checked: a Secret name (DNS-1123 subdomain); undefined stays undefined (plain connections). */
export function resolveStoreTls(scope: Construct, prop: string, tls: StoreTls | undefined): StoreTls | undefined {
  if (tls === undefined) return undefined;
  if (tls.secretName.length > 253 || !SECRET_NAME.test(tls.secretName)) {
    throw propError(scope, `${prop}.secretName`, tls.secretName, 'must name a Secret: a DNS-1123 subdomain of at most 253 characters');
  }
  return { secretName: tls.secretName };
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
