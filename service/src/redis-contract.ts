import { hostPortsFromEnv } from './env';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * The Redis deployment the constructs name in env, parsed once and shared by the cache client
 * (node-redis) and the queue connection (ioredis): a cluster's seed nodes (REDIS_CLUSTER_NODES),
 * a Sentinel-managed master (REDIS_SENTINELS + REDIS_SENTINEL_MASTER) or one server (REDIS_URL),
 * with REDIS_PASSWORD.
 */
export type RedisContract = (
  | { readonly mode: 'cluster'; readonly nodes: HostPort[] }
  | { readonly mode: 'sentinel'; readonly sentinels: HostPort[]; readonly masterName: string }
  | { readonly mode: 'single'; readonly url: string }
) & { readonly password?: string };

/** The contract in env, or undefined when none is set; throws naming the variable on a malformed one. */
export function redisContractFromEnv(env: NodeJS.ProcessEnv): RedisContract | undefined {
  const password = env.REDIS_PASSWORD || undefined;
  if (env.REDIS_CLUSTER_NODES) {
    return { mode: 'cluster', nodes: nonEmpty(hostPortsFromEnv(env, 'REDIS_CLUSTER_NODES'), 'REDIS_CLUSTER_NODES'), password };
  }
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_MASTER) throw new Error('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set');
    return { mode: 'sentinel', sentinels: nonEmpty(hostPortsFromEnv(env, 'REDIS_SENTINELS'), 'REDIS_SENTINELS'), masterName: env.REDIS_SENTINEL_MASTER, password };
  }
  if (env.REDIS_URL) {
    if (!/^rediss?:\/\//.test(env.REDIS_URL)) throw new Error('REDIS_URL must be a redis:// or rediss:// URL');
    return { mode: 'single', url: env.REDIS_URL, password };
  }
  return undefined;
}

function nonEmpty(list: HostPort[], name: string): HostPort[] {
  if (list.length === 0) throw new Error(`${name} must list at least one host:port`);
  return list;
}
