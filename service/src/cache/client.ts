import { createClient, createCluster, createSentinel, ErrorReply } from 'redis';
import { Deadlines } from '../deadlines';
import { logger } from '../logger';
import { RedisContract, redisContractFromEnv } from '../redis-contract';

/** The few commands the cache needs, whatever the deployment (cluster, sentinel or one node). */
export interface CacheClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * Sets `key` to `value`, expiring in `ttlSeconds` or later (a longer TTL the key has is kept),
   * only while it holds what a reader saw: a value starting with `prefix`, or, with `prefix` null,
   * none at all. One atomic step on the server; answers whether it set.
   */
  setIfUnchanged(key: string, prefix: string | null, value: string, ttlSeconds: number): Promise<boolean>;
  del(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The cache's client for the Redis deployment the env names (see {@link redisContractFromEnv}), or none: for tools and tests. */
export function cacheClientFromEnv(env: NodeJS.ProcessEnv): CacheClient | undefined {
  return createCacheClient(redisContractFromEnv(env));
}

/** A node-redis client of the deployment `contract` names (cluster, sentinel or one node), or none without one. */
export function createCacheClient(contract: RedisContract | undefined): CacheClient | undefined {
  if (!contract) return undefined;
  const auth = { username: contract.username, password: contract.password };
  // Verified TLS: the server's certificate must chain to the CA and name the host connected to.
  const tls = contract.tlsCa ? { tls: true as const, ca: contract.tlsCa, rejectUnauthorized: true } : {};
  const socket = { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000), ...tls };
  // Without a listener an 'error' event (a node going away) would crash the process.
  const onError = (error: unknown) => logger.warn({ err: String(error) }, 'redis error');
  if (contract.mode === 'cluster') {
    const rootNodes = contract.nodes.map(({ host, port }) => ({ url: `${contract.tlsCa ? 'rediss' : 'redis'}://${host}:${port}` }));
    // node-redis re-reads the slot map only on a MOVED reply: commands for a master that died
    // wait on its reconnecting client, no MOVED ever comes, and its slots stay uncached for good.
    // So a command that fails for want of a node (offline at once, not queued) gets the cluster
    // client rebuilt from the root nodes, which reads the map of after the failover; connecting
    // lazily keeps a dead master still in the map from stalling that rebuild.
    return resilient(() => {
      const cluster = createCluster({ rootNodes, defaults: { ...auth, socket, disableOfflineQueue: true }, minimizeConnections: true });
      cluster.on('error', onError);
      return { commands: cluster, connect: () => cluster.connect(), destroy: () => cluster.destroy() };
    }, { rebuildOnFailureMs: CLUSTER_REBUILD_INTERVAL_MS });
  }
  if (contract.mode === 'sentinel') {
    const { masterName: name, sentinels: sentinelRootNodes, sentinelPassword } = contract;
    return resilient(() => {
      // scanInterval: how soon a promoted replica is found when no Sentinel notification got through.
      const sentinel = createSentinel({
        name, sentinelRootNodes: [...sentinelRootNodes], nodeClientOptions: { ...auth, socket }, sentinelClientOptions: { password: sentinelPassword, socket }, scanInterval: 2000,
      });
      sentinel.on('error', onError);
      return { commands: sentinel, connect: () => sentinel.connect(), destroy: () => sentinel.destroy() };
    });
  }
  const url = contract.url;
  return resilient(() => {
    const client = createClient({ url, ...auth, socket });
    client.on('error', onError);
    return { commands: client, connect: () => client.connect(), destroy: () => client.destroy() };
  });
}

interface Commands {
  get(key: string): Promise<unknown>;
  set(key: string, value: string, options: { EX: number }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

interface Connection {
  readonly commands: Commands;
  connect(): Promise<unknown>;
  destroy(): unknown;
}

/** Destroys a client whatever its state; destroying one that is already closed throws, and that is fine. */
function destroy(connection: Connection): Promise<void> {
  return Promise.resolve().then(() => connection.destroy()).then(() => undefined, () => undefined);
}

/** The least time between two rebuilds of a cluster client whose commands fail for want of a node. */
export const CLUSTER_REBUILD_INTERVAL_MS = 1000;

interface ResilientOptions {
  readonly firstRetryMs?: number;
  readonly maxRetryMs?: number;
  /** When set, a command failing otherwise than by an error reply, or unanswered this long, makes a new client (at most once per this many ms), swapped in once connected. */
  readonly rebuildOnFailureMs?: number;
}

/**
 * Connects in the background, so the service starts and serves from the database while Redis is
 * away. Once connected, the client reconnects by itself; a first connection that fails (a cluster
 * whose root nodes are all down gives up for good) is retried with a fresh client, with backoff.
 * Until then every command fails at once, and the cache falls back to the loader. With
 * `rebuildOnFailureMs`, a connected client whose commands fail or stall is replaced by a new one.
 */
export function resilient(make: () => Connection, options: ResilientOptions = {}): CacheClient {
  const { firstRetryMs = 200, maxRetryMs = 5000, rebuildOnFailureMs } = options;
  /** The connected client commands go to; a rebuilt one replaces it only once connected. */
  let serving: Connection | undefined;
  let connecting = false;
  let closed = false;
  let lastRebuild = 0;
  let retry: NodeJS.Timeout | undefined;
  let pending: Connection | undefined;
  const attempt = (delayMs: number): void => {
    const connection = make();
    connecting = true;
    pending = connection;
    connection.connect().then(() => {
      connecting = false;
      pending = undefined;
      if (closed) return void destroy(connection);
      const replaced = serving;
      serving = connection;
      if (replaced) void destroy(replaced);
    }, error => {
      pending = undefined;
      logger.warn({ err: String(error), retryInMs: delayMs }, 'redis connect failed');
      void destroy(connection);
      if (closed) return;
      retry = setTimeout(() => attempt(Math.min(delayMs * 2, maxRetryMs)), delayMs);
      retry.unref();
    });
  };
  attempt(firstRetryMs);
  const rebuild = (): void => {
    if (rebuildOnFailureMs === undefined || closed || connecting || Date.now() - lastRebuild < rebuildOnFailureMs) return;
    lastRebuild = Date.now();
    logger.info('redis command failed for want of a node: rebuilding the client');
    attempt(firstRetryMs);
  };
  // A node client still trying to connect holds its commands without failing them: a stall counts too.
  const stalls = rebuildOnFailureMs === undefined ? undefined : new Deadlines(rebuildOnFailureMs);
  const run = async <T>(command: (commands: Commands) => Promise<T>): Promise<T> => {
    if (!serving) throw new Error('redis is not connected');
    const stalled = stalls?.watch(rebuild);
    try {
      return await command(serving.commands);
    } catch (error) {
      if (!(error instanceof ErrorReply)) rebuild();
      throw error;
    } finally {
      stalled?.done();
    }
  };
  return cacheCommands(run, async () => {
    closed = true;
    clearTimeout(retry);
    // A client still trying its first connection retries for ever unless it is destroyed too.
    await Promise.all([serving, pending].filter((c): c is Connection => c !== undefined).map(destroy));
  });
}

/** The cache's commands, each sent through `run`. */
function cacheCommands(run: <T>(command: (commands: Commands) => Promise<T>) => Promise<T>, close: () => Promise<void>): CacheClient {
  return {
    get: async key => (await run(c => c.get(key))) as string | null,
    set: async (key, value, ttlSeconds) => {
      await run(c => c.set(key, value, { EX: ttlSeconds }));
    },
    setIfUnchanged: async (key, prefix, value, ttlSeconds) =>
      (await run(c => c.eval(SET_IF_UNCHANGED, { keys: [key], arguments: [prefix === null ? '0' : '1', prefix ?? '', value, String(ttlSeconds)] }))) === 1,
    del: async key => {
      await run(c => c.del(key));
    },
    ping: async () => {
      await run(c => c.get('hscale:ping'));
    },
    close,
  };
}

/**
 * {@link CacheClient.setIfUnchanged} on the server: a compare-and-set, which Redis 7 has no command
 * for. ARGV: 1 when a value was seen (0: none), the prefix it started with, the new value, its TTL
 * in seconds. The key keeps a longer TTL than that: it may hold a write's version, which must
 * outlive the values stored under older ones.
 */
const SET_IF_UNCHANGED = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if not current or string.sub(current, 1, #ARGV[2]) ~= ARGV[2] then return 0 end
elseif current then return 0 end
if current and redis.call('TTL', KEYS[1]) >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
end
return 1`;
