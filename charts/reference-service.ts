import { Chart } from 'cdk8s';
import { SecretKey } from '../lib';

/**
 * The reference service's image (service/Dockerfile), which every chart here runs as its API
 * and, with {@link WORKER_COMMAND}, as its workers; put your own image in its place.
 */
export const REFERENCE_IMAGE = 'ghcr.io/hscale/reference-service:0.1.0';

/** The reference service's queue worker (service/src/worker.ts), run from {@link REFERENCE_IMAGE}. */
export const WORKER_COMMAND = ['node', 'service/dist/worker.js'];

/** The bearer token of the service's admin routes (`/deep`, cache invalidation), from a Secret `<chart>-api-admin`. */
export function adminTokenEnv(chart: Chart): Record<string, SecretKey> {
  return { ADMIN_TOKEN: { secretName: `${chart.node.id}-api-admin`, key: 'token' } };
}
