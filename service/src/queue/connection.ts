import { Cluster, Redis } from 'ioredis';
import { logger } from '../logger';

/** A connection for BullMQ: ioredis on one node, a Cluster, or a Sentinel-managed master. */
export type QueueConnection = Redis | Cluster;

/**
 * `worker`: commands wait for the connection however long it takes (BullMQ requires it of a
 * worker's blocking connection); `producer`: a command fails at once while Redis is away, so an
 * enqueue request answers 503 rather than hanging.
 */
export type ConnectionRole = 'worker' | 'producer';

/**
 * The queue's Redis from the env the constructs inject, the same contract as the cache's:
 * REDIS_CLUSTER_NODES, REDIS_SENTINELS + REDIS_SENTINEL_MASTER, or REDIS_URL, with REDIS_PASSWORD.
 */
export function queueConnectionFromEnv(env: NodeJS.ProcessEnv, role: ConnectionRole): QueueConnection | undefined {
  const password = env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {};
  const behaviour = role === 'worker'
    ? { maxRetriesPerRequest: null }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false };
  const retryStrategy = (times: number) => Math.min(100 * 2 ** times, 2000);
  const connection = connect(env, password, behaviour, retryStrategy);
  // Without a listener an 'error' event (a node going away) would crash the process.
  connection?.on('error', (error: unknown) => logger.warn({ err: String(error) }, 'queue redis error'));
  return connection;
}

function connect(
  env: NodeJS.ProcessEnv, password: { password?: string },
  behaviour: { maxRetriesPerRequest: number | null; enableOfflineQueue?: boolean }, retryStrategy: (times: number) => number,
): QueueConnection | undefined {
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = hostPorts(env.REDIS_CLUSTER_NODES);
    return new Cluster(nodes, {
      ...behaviour,
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...password, connectTimeout: 2000, ...behaviour },
      // A failover moves slots: refresh the map quickly rather than wait for MOVED errors.
      slotsRefreshTimeout: 2000,
    });
  }
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_MASTER) throw new Error('REDIS_SENTINEL_MASTER must name the master when REDIS_SENTINELS is set');
    return new Redis({
      sentinels: hostPorts(env.REDIS_SENTINELS), name: env.REDIS_SENTINEL_MASTER, ...password, connectTimeout: 2000, retryStrategy, ...behaviour,
    });
  }
  if (env.REDIS_URL) return new Redis(env.REDIS_URL, { ...password, connectTimeout: 2000, retryStrategy, ...behaviour });
  return undefined;
}

function hostPorts(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map(node => {
    const [host, port] = node.trim().split(':');
    return { host, port: Number(port) };
  });
}

/**
 * Closes a connection whose queues and workers are closed: nothing is left to send, and a QUIT
 * would wait for ever in the offline queue of a connection that never got through.
 */
export function closeQuietly(connection: QueueConnection): void {
  connection.disconnect();
}

/** For BullMQ objects on a connection: its errors are the connection's, which its own listener logs; without a listener BullMQ prints them. */
export const IGNORE_CONNECTION_ERROR = (): void => undefined;
