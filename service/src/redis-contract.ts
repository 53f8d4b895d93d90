import { hostPortsFromEnv, secretFromEnv } from './env';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * The Redis deployment the constructs name in env, parsed once and shared by the cache client
 * (node-redis) and the queue connection (ioredis): a cluster's seed nodes (REDIS_CLUSTER_NODES),
 * a Sentinel-managed master (REDIS_SENTINELS + REDIS_SENTINEL_MASTER) or one server (REDIS_URL),
 * logging in as REDIS_USERNAME (the ACL user; none: `default`) with REDIS_PASSWORD (or the file
 * REDIS_PASSWORD_FILE names); Sentinels with REDIS_SENTINEL_PASSWORD (or its _FILE). With REDIS_TLS_CA
 * (or its _FILE: a CA certificate, PEM), which RedisCluster's `tls` injects, every connection (nodes
 * and Sentinels) is TLS, and the server must present a certificate from that CA for its host name.
 */
export type RedisContract = (
  | { readonly mode: 'cluster'; readonly nodes: HostPort[] }
  | { readonly mode: 'sentinel'; readonly sentinels: HostPort[]; readonly masterName: string; readonly sentinelPassword?: string }
  | { readonly mode: 'single'; readonly url: string }
) & { readonly username?: string; readonly password?: string; readonly tlsCa?: string };

/**
 * The contract in env, or undefined when none is set; throws naming the variable on a malformed
 * one. `prefix` reads another Redis's contract: `QUEUE_` for the queue's own Redis, which
 * WorkerPool and ScaledApi name `QUEUE_REDIS_*` when the cache's Redis is another one.
 */
export function redisContractFromEnv(env: NodeJS.ProcessEnv, prefix = ''): RedisContract | undefined {
  const name = (suffix: string) => `${prefix}REDIS_${suffix}`;
  const password = secretFromEnv(env, name('PASSWORD'));
  const username = env[name('USERNAME')] || undefined;
  const tlsCa = secretFromEnv(env, name('TLS_CA'));
  if (tlsCa !== undefined && !tlsCa.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${name('TLS_CA')} must be a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  const login = { username, password, ...(tlsCa ? { tlsCa } : {}) };
  if (env[name('CLUSTER_NODES')]) {
    return { mode: 'cluster', nodes: nonEmpty(hostPortsFromEnv(env, name('CLUSTER_NODES')), name('CLUSTER_NODES')), ...login };
  }
  const masterName = env[name('SENTINEL_MASTER')];
  if (env[name('SENTINELS')]) {
    if (!masterName) throw new Error(`${name('SENTINEL_MASTER')} must name the master when ${name('SENTINELS')} is set`);
    const sentinels = nonEmpty(hostPortsFromEnv(env, name('SENTINELS')), name('SENTINELS'));
    return { mode: 'sentinel', sentinels, masterName, sentinelPassword: secretFromEnv(env, name('SENTINEL_PASSWORD')), ...login };
  }
  const url = env[name('URL')];
  if (url) {
    if (!/^rediss?:\/\//.test(url)) throw new Error(`${name('URL')} must be a redis:// or rediss:// URL`);
    if (tlsCa && !url.startsWith('rediss://')) throw new Error(`${name('URL')} must be a rediss:// URL when ${name('TLS_CA')} is set`);
    return { mode: 'single', url, ...login };
  }
  return undefined;
}

/** The queue's Redis: its own (`QUEUE_REDIS_*`) when the env names one, else the cache's. */
export function queueRedisContractFromEnv(env: NodeJS.ProcessEnv): RedisContract | undefined {
  return redisContractFromEnv(env, 'QUEUE_') ?? redisContractFromEnv(env);
}

function nonEmpty(list: HostPort[], name: string): HostPort[] {
  if (list.length === 0) throw new Error(`${name} must list at least one host:port`);
  return list;
}
