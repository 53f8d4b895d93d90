import { Construct } from 'constructs';
import { propError } from './validation';

// The two shapes of a reference to a Secret that props and members use (issue 25: one name per
// concept). A Secret is always named by `secretName`, as in a Pod's Secret volume and a
// cert-manager Certificate; a single value adds its `key`.

/** A Secret whose several keys a construct reads: credentials, a TLS certificate. */
export interface SecretRef {
  /** Name of the Secret, in the construct's namespace. */
  readonly secretName: string;
}

/** One key of a Secret, for a value that must not appear in the YAML (an env var's `secretKeyRef`). */
export interface SecretKeyRef extends SecretRef {
  /** Key inside the Secret. */
  readonly key: string;
}

const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `ref.secretName`, checked to be a Secret's name (a DNS-1123 subdomain); `prop` is the reference's prop path. */
export function requireSecretName(scope: Construct, prop: string, ref: SecretRef): string {
  if (ref.secretName.length > 253 || !SECRET_NAME.test(ref.secretName)) {
    throw propError(scope, `${prop}.secretName`, ref.secretName, 'must name a Secret: a DNS-1123 subdomain of at most 253 characters');
  }
  return ref.secretName;
}
