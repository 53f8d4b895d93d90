import { Chart } from 'cdk8s';
import { SecretKeyRef } from '../lib';

/**
 * The reference service's image (service/Dockerfile), which every chart here runs as its API
 * and, with {@link WORKER_COMMAND}, as its workers; put your own image in its place.
 */
export const REFERENCE_IMAGE = 'ghcr.io/hscale/reference-service:0.1.0';

/** The reference service's queue worker (service/src/worker.ts), run from {@link REFERENCE_IMAGE}. */
export const WORKER_COMMAND = ['node', 'service/dist/worker.js'];

/** Where the reference service's key for write tokens lives in a chart named `chart`: a Secret `<chart>-api-auth`, key `signing-key`. */
export function signingKeySecret(chart: Chart): SecretKeyRef {
  return { secretName: `${chart.node.id}-api-auth`, key: 'signing-key' };
}

/**
 * The reference service's Secrets as env: `ADMIN_TOKEN`, the bearer token of its admin routes
 * (`/deep`, cache invalidation), from `<chart>-api-admin`; `AUTH_SIGNING_KEY`, the HS256 key its
 * write tokens are signed and verified with (at least 32 bytes, e.g. `openssl rand -hex 32`), from
 * `signingKey` ({@link signingKeySecret} unless a guide names its own).
 */
export function referenceSecretEnv(chart: Chart, signingKey: SecretKeyRef = signingKeySecret(chart)): Record<string, SecretKeyRef> {
  return { ADMIN_TOKEN: { secretName: `${chart.node.id}-api-admin`, key: 'token' }, AUTH_SIGNING_KEY: signingKey };
}
