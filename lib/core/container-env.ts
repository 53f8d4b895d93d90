import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { IClientAccessible } from './endpoints';
import { SecretKeyRef } from './secret-refs';
import { propError, requireOneOf } from './validation';

/** Env var and key names that suggest a credential. */
export const SECRET_LOOKING_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|(?:^|_)KEY$/i;

/** The prefix of a queue's Redis env when the cache's Redis is another one: `QUEUE_REDIS_CLUSTER_NODES`, `QUEUE_REDIS_PASSWORD`, ... */
export const QUEUE_ENV_PREFIX = 'QUEUE_';

/**
 * `backend` with its env names prefixed, so a container can be linked to two backends of one kind
 * (a cache and a queue, both Redis) without a name set twice; links and admission are the backend's.
 */
export function prefixedLink(backend: IClientAccessible, prefix: string): IClientAccessible {
  return {
    clientEnv: backend.clientEnv.map(env => ({ ...env, name: `${prefix}${env.name}` })),
    clientLinks: backend.clientLinks,
    allowClient: client => backend.allowClient(client),
  };
}

/** A guide whose unprefixed metric names the reference service and worker serve beside their own (`GUIDE_METRICS`). */
export type GuideMetrics = 'bet-intel';

/** `GUIDE_METRICS` when `guide` is given: the one env var of the `guideMetrics` prop of ScaledApi and WorkerPool. */
export function guideMetricsEnv(scope: Construct, guide: GuideMetrics | undefined): k8s.EnvVar[] {
  return guide === undefined ? [] : [{ name: 'GUIDE_METRICS', value: requireOneOf(scope, 'guideMetrics', guide, ['bet-intel']) }];
}

/**
 * The env of a container linked to `backends`: the construct's own vars first, then each
 * backend's contract, then vars `derived` from the wiring, then the user's plain and Secret-backed vars. Refuses plain vars that
 * look like credentials and names set twice, since Kubernetes would silently keep the last.
 */
export function containerEnv(
  scope: Construct,
  own: k8s.EnvVar[],
  backends: IClientAccessible[],
  plain: Record<string, string>,
  secret: Record<string, SecretKeyRef>,
  derived: k8s.EnvVar[] = [],
): k8s.EnvVar[] {
  for (const name of Object.keys(plain)) {
    if (SECRET_LOOKING_NAME.test(name)) {
      throw propError(scope, `env.${name}`, '<redacted>', 'looks like a credential; pass it in \'secretEnv\' as a Secret key');
    }
  }
  const env: k8s.EnvVar[] = [
    ...own,
    ...backends.flatMap(b => b.clientEnv),
    // After the backends' vars, which their values may expand (`$(REDIS_PASSWORD)`).
    ...derived,
    ...Object.entries(plain).map(([name, value]) => ({ name, value })),
    ...Object.entries(secret).map(([name, ref]) => ({ name, valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } })),
  ];
  const seen = new Set<string>();
  for (const { name } of env) {
    if (seen.has(name)) {
      throw propError(scope, 'env', name, 'is set twice (by a linked backend, or by \'env\' and \'secretEnv\'); each name may appear once');
    }
    seen.add(name);
  }
  return env;
}
