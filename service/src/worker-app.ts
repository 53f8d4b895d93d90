import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ReadThroughCache } from './cache/cache';
import { cacheClientFromEnv } from './cache/client';
import { intFromEnv } from './config';
import { ItemRepository } from './db/items';
import { migrate } from './db/migrations';
import { databaseConfigFromEnv, QueryRouter } from './db/router';
import { logger } from './logger';
import { itemJobs } from './queue/jobs';
import { JobHandler, QueueWorker } from './queue/worker';

/** The worker's Prometheus metrics, in a registry of its own. */
export class WorkerMetrics {
  public readonly registry = new Registry();
  public readonly jobs = new Counter({ name: 'worker_jobs_total', help: 'Jobs taken, by type and outcome', labelNames: ['type', 'outcome'], registers: [this.registry] });
  public readonly duration = new Histogram({
    name: 'worker_job_duration_seconds', help: 'Time to run a job, by type', labelNames: ['type'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60], registers: [this.registry],
  });
  public readonly active = new Gauge({ name: 'worker_active', help: '1 while the worker takes jobs', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

/** A started worker: the loop, its metrics listener, and a way to stop both. */
export interface RunningWorker {
  readonly worker: QueueWorker;
  readonly metrics: WorkerMetrics;
  /** The port /metrics answers on. */
  readonly metricsPort: number;
  /** Finishes the job in hand, then closes the listener, the pools and the Redis client. */
  stop(): Promise<void>;
}

/**
 * Starts the reference queue worker from env (what WorkerPool injects): WORKER_QUEUE, METRICS_PORT,
 * the database contract and one of the Redis contracts. It migrates like the API does (under the
 * same advisory lock), so a worker that starts first finds the schema too. `handlers` replaces
 * the reference jobs with your own.
 */
export async function startWorker(env: NodeJS.ProcessEnv = process.env, handlers?: Record<string, JobHandler>): Promise<RunningWorker> {
  const queue = env.WORKER_QUEUE;
  if (!queue) throw new Error('WORKER_QUEUE must name the Redis list the worker takes jobs from');
  // Every setting is read before a client opens, so a bad one leaves nothing connecting in the background.
  const port = intFromEnv(env, 'METRICS_PORT', 9100, 0, 65535);
  const ttlSeconds = intFromEnv(env, 'CACHE_DEFAULT_TTL', 300, 1, 86_400);
  const cacheTimeoutMs = intFromEnv(env, 'CACHE_TIMEOUT_MS', 250, 10, 60_000);
  const databaseConfig = databaseConfigFromEnv(env);
  const redis = cacheClientFromEnv(env);
  if (!redis) throw new Error('a worker needs its queue\'s Redis: set REDIS_CLUSTER_NODES, REDIS_SENTINELS or REDIS_URL');
  const router = new QueryRouter(databaseConfig);
  const cache = new ReadThroughCache(redis, ttlSeconds, cacheTimeoutMs);
  const metrics = new WorkerMetrics();
  const worker = new QueueWorker(redis, queue, handlers ?? itemJobs(new ItemRepository(router), cache), undefined, {
    onJob: (type, outcome, seconds) => {
      metrics.jobs.inc({ type, outcome });
      metrics.duration.observe({ type }, seconds);
    },
  });
  const closeBackends = () => Promise.all([router.close(), cache.close()]);
  let server: Server | undefined;
  try {
    await migrate(router.primarySql);
    await router.start();
    server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/metrics') {
        metrics.active.set(worker.active ? 1 : 0);
        metrics.registry.metrics().then(
          text => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
          error => res.writeHead(500).end(String(error)),
        );
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":{"code":"not_found","message":"only GET /metrics here"}}');
    });
    await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(port, resolve));
  } catch (error) {
    await closeBackends();
    throw error;
  }
  worker.start();
  logger.info({ queue, metricsPort: (server.address() as AddressInfo).port }, 'worker started');
  return {
    worker, metrics,
    metricsPort: (server.address() as AddressInfo).port,
    stop: async () => {
      await worker.stop();
      await new Promise(resolve => server!.close(resolve));
      await closeBackends();
    },
  };
}
