import { createClient, createCluster, createSentinel } from 'redis';
import { logger } from '../logger';

/** The few commands the cache needs, whatever the deployment (cluster, sentinel or one node). */
export interface CacheClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  del(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The Redis deployment the env names (REDIS_CLUSTER_NODES, REDIS_SENTINELS + REDIS_SENTINEL_MASTER, REDIS_URL), or none. */
export function cacheClientFromEnv(env: NodeJS.ProcessEnv): CacheClient | undefined {
  const password = env.REDIS_PASSWORD || undefined;
  const socket = { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) };
  // Without a listener an 'error' event (a node going away) would crash the process.
  const onError = (error: unknown) => logger.warn({ err: String(error) }, 'redis error');
  if (env.REDIS_CLUSTER_NODES) {
    const rootNodes = env.REDIS_CLUSTER_NODES.split(',').map(node => ({ url: `redis://${node.trim()}` }));
    return resilient(() => {
      const cluster = createCluster({ rootNodes, defaults: { password, socket } });
      cluster.on('error', onError);
      return { commands: cluster, connect: () => cluster.connect(), destroy: () => cluster.destroy() };
    });
  }
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_MASTER) throw new Error('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set');
    const sentinelRootNodes = env.REDIS_SENTINELS.split(',').map(node => {
      const [host, port] = node.trim().split(':');
      return { host, port: Number(port) };
    });
    const name = env.REDIS_SENTINEL_MASTER;
    return resilient(() => {
      // scanInterval: how soon a promoted replica is found when no Sentinel notification got through.
      const sentinel = createSentinel({ name, sentinelRootNodes, nodeClientOptions: { password, socket }, scanInterval: 2000 });
      sentinel.on('error', onError);
      return { commands: sentinel, connect: () => sentinel.connect(), destroy: () => sentinel.destroy() };
    });
  }
  if (env.REDIS_URL) {
    const url = env.REDIS_URL;
    return resilient(() => {
      const client = createClient({ url, password, socket });
      client.on('error', onError);
      return { commands: client, connect: () => client.connect(), destroy: () => client.destroy() };
    });
  }
  return undefined;
}

interface Commands {
  get(key: string): Promise<unknown>;
  set(key: string, value: string, options: { EX: number }): Promise<unknown>;
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

/**
 * Connects in the background, so the service starts and serves from the database while Redis is
 * away. Once connected, the client reconnects by itself; a first connection that fails (a cluster
 * whose root nodes are all down gives up for good) is retried with a fresh client, with backoff.
 * Until then every command fails at once, and the cache falls back to the loader.
 */
export function resilient(make: () => Connection, firstRetryMs = 200, maxRetryMs = 5000): CacheClient {
  let current: Connection | undefined;
  let connected = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const attempt = (delayMs: number): void => {
    const connection = make();
    current = connection;
    connection.connect().then(() => {
      if (closed) void destroy(connection);
      else connected = true;
    }, error => {
      logger.warn({ err: String(error), retryInMs: delayMs }, 'redis connect failed');
      void destroy(connection);
      if (closed) return;
      retry = setTimeout(() => attempt(Math.min(delayMs * 2, maxRetryMs)), delayMs);
      retry.unref();
    });
  };
  attempt(firstRetryMs);
  const commands = (): Commands => {
    if (!connected || !current) throw new Error('redis is not connected');
    return current.commands;
  };
  return {
    get: async key => (await commands().get(key)) as string | null,
    set: async (key, value, ttlSeconds) => {
      await commands().set(key, value, { EX: ttlSeconds });
    },
    del: async key => {
      await commands().del(key);
    },
    ping: async () => {
      await commands().get('hscale:ping');
    },
    close: async () => {
      closed = true;
      clearTimeout(retry);
      // A client still trying its first connection retries for ever unless it is destroyed too.
      if (current) await destroy(current);
    },
  };
}
