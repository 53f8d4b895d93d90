import { CacheObserver, ReadThroughCache } from './cache/cache';
import { createCacheClient } from './cache/client';
import { Config } from './config';
import { QueryRouter, RouterObserver } from './db/router';
import { closeQuietly, createQueueConnection, QueueConnection } from './queue/connection';
import { JobProducer } from './queue/producer';

/** The clients of PostgreSQL and Redis that the API and the worker share the making of. */
export interface Backends {
  readonly router: QueryRouter;
  readonly cache: ReadThroughCache;
  /** The API's producer for the queues of WORKER_QUEUES; undefined without queues or a Redis contract. */
  readonly producer?: JobProducer;
  /** The worker's connection to the queues' Redis (blocking commands wait for it). */
  readonly queueConnection?: QueueConnection;
  /** Closes what it made: the producer's queues, the queue connection, the pools and the cache client. */
  close(): Promise<void>;
}

export interface BackendOptions {
  /** `api`: a producer when queues are configured; `worker`: a worker connection, required. */
  readonly role: 'api' | 'worker';
  readonly routerObserver?: RouterObserver;
  readonly cacheObserver?: CacheObserver;
}

/** Opens the backends `config` names for `role`; the clients connect in the background. */
export function createBackends(config: Config, options: BackendOptions): Backends {
  if (!config.database) throw new Error('DATABASE_URL must name the primary, e.g. postgres://app@db-rw:5432/app');
  const { service } = config;
  const wantsQueue = options.role === 'worker' || config.queues.length > 0;
  const queueConnection = wantsQueue ? createQueueConnection(config.queueRedis, options.role === 'worker' ? 'worker' : 'producer') : undefined;
  const router = new QueryRouter(config.database, options.routerObserver);
  const cache = new ReadThroughCache(createCacheClient(config.redis), service.cacheDefaultTtlSeconds, service.cacheTimeoutMs, options.cacheObserver);
  const producer = options.role === 'api' && queueConnection ? new JobProducer(queueConnection, config.queues) : undefined;
  return {
    router, cache, producer, queueConnection,
    close: async () => {
      await producer?.close();
      if (queueConnection) closeQuietly(queueConnection);
      await Promise.all([router.close(), cache.close()]);
    },
  };
}
