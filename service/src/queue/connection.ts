import { Cluster, Redis } from 'ioredis';
import { logger } from '../logger';
import { queueRedisContractFromEnv, RedisContract } from '../redis-contract';

/** A connection for BullMQ: ioredis on one node, a Cluster, or a Sentinel-managed master. */
export type QueueConnection = Redis | Cluster;

/**
 * `worker`: commands wait for the connection however long it takes (BullMQ requires it of a
 * worker's blocking connection); `producer`: a command fails at once while Redis is away, so an
 * enqueue request answers 503 rather than hanging.
 */
export type ConnectionRole = 'worker' | 'producer';

/** The queue's connection for the Redis deployment the env names (see {@link queueRedisContractFromEnv}): for tools and tests. */
export function queueConnectionFromEnv(env: NodeJS.ProcessEnv, role: ConnectionRole): QueueConnection | undefined {
  return createQueueConnection(queueRedisContractFromEnv(env), role);
}

/** An ioredis connection for BullMQ to the deployment `contract` names, the same contract as the cache's; none without one. */
export function createQueueConnection(contract: RedisContract | undefined, role: ConnectionRole): QueueConnection | undefined {
  if (!contract) return undefined;
  const password = {
    ...(contract.username ? { username: contract.username } : {}), ...(contract.password ? { password: contract.password } : {}),
    // Verified TLS to every node and Sentinel: the server's certificate must chain to the CA and name the host connected to.
    ...(contract.tlsCa ? { tls: { ca: contract.tlsCa, rejectUnauthorized: true } } : {}),
  };
  const behaviour = role === 'worker'
    ? { maxRetriesPerRequest: null }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false };
  const retryStrategy = (times: number) => Math.min(100 * 2 ** times, 2000);
  const connection = connect(contract, password, behaviour, retryStrategy);
  // Without a listener an 'error' event (a node going away) would crash the process.
  connection.on('error', (error: unknown) => logger.warn({ err: String(error) }, 'queue redis error'));
  return connection;
}

function connect(
  contract: RedisContract, password: { username?: string; password?: string; tls?: { ca: string; rejectUnauthorized: boolean } },
  behaviour: { maxRetriesPerRequest: number | null; enableOfflineQueue?: boolean }, retryStrategy: (times: number) => number,
): QueueConnection {
  if (contract.mode === 'cluster') {
    return new Cluster(contract.nodes.map(n => ({ ...n })), {
      ...behaviour,
      // With TLS, connect to the seed nodes by name, so the certificate is checked against the name (ioredis resolves them to IPs otherwise).
      ...(password.tls ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...password, connectTimeout: 2000, ...behaviour },
      // A failover moves slots: refresh the map quickly rather than wait for MOVED errors.
      slotsRefreshTimeout: 2000,
    });
  }
  if (contract.mode === 'sentinel') {
    return new Redis({
      sentinels: contract.sentinels.map(n => ({ ...n })), name: contract.masterName, sentinelPassword: contract.sentinelPassword, ...password, connectTimeout: 2000, retryStrategy, ...behaviour,
      // The Sentinels serve the same TLS as the nodes.
      ...(password.tls ? { enableTLSForSentinelMode: true, sentinelTLS: password.tls } : {}),
    });
  }
  return new Redis(contract.url, { ...password, connectTimeout: 2000, retryStrategy, ...behaviour });
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
