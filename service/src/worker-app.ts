import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createBackends } from './backends';
import { Config, loadConfig } from './config';
import { roleDefaults } from './db/config';
import { ItemRepository } from './db/items';
import { migrate } from './db/migrations';
import { BetIntelWorkerMetrics } from './guide-metrics';
import { logger } from './logger';
import { IGNORE_CONNECTION_ERROR } from './queue/connection';
import { JobHandler, referenceJobs } from './queue/jobs';
import { QUEUE_PREFIX, WorkerSettings } from './queue/settings';
import { JOB_OUTCOMES, JobOutcome, QueueWorkers } from './queue/worker';

const JOB_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300];

/** The worker's Prometheus metrics, in a registry of its own; with `guideMetrics` 'bet-intel' that guide's worker names beside them. */
export class WorkerMetrics {
  public readonly registry = new Registry();
  public readonly jobs = new Counter({
    name: 'worker_jobs_total', help: 'Job runs by queue, name and outcome (completed, failed, retried)',
    labelNames: ['queue', 'name', 'outcome'], registers: [this.registry],
  });
  public readonly duration = new Histogram({
    name: 'worker_job_duration_seconds', help: 'Time to run a job, by queue and name', labelNames: ['queue', 'name'],
    buckets: JOB_DURATION_BUCKETS, registers: [this.registry],
  });
  public readonly active = new Gauge({ name: 'worker_active', help: '1 while the worker takes jobs', registers: [this.registry] });
  private readonly guide?: BetIntelWorkerMetrics;

  constructor(queues: string[] = [], guideMetrics?: 'bet-intel') {
    collectDefaultMetrics({ register: this.registry });
    if (guideMetrics === 'bet-intel') this.guide = new BetIntelWorkerMetrics(this.registry, queues, JOB_DURATION_BUCKETS);
  }

  /** One run of a job: counted by outcome, its duration observed. */
  public observeRun(queue: string, name: string, outcome: JobOutcome, seconds: number): void {
    this.jobs.inc({ queue, name, outcome });
    this.duration.observe({ queue, name }, seconds);
    this.guide?.observe(name, seconds);
  }

  /** Whether the worker takes jobs now. */
  public setActive(active: boolean): void {
    this.active.set(active ? 1 : 0);
    this.guide?.setActive(active);
  }

  /**
   * Starts every queue, job and outcome at 0: a counter that has never counted has no series, and
   * a failure ratio over a missing `outcome="failed"` series would be empty rather than 0.
   */
  public countFrom0(queues: string[], jobNames: string[]): void {
    for (const queue of queues) {
      for (const name of jobNames) {
        for (const outcome of JOB_OUTCOMES) this.jobs.inc({ queue, name, outcome }, 0);
      }
    }
  }

  /** Waiting and active jobs per queue, read from Redis at scrape time. */
  public watchQueues(queues: Queue[]): void {
    new Gauge({
      name: 'worker_queue_jobs', help: 'Jobs of each queue by state (waiting, active, delayed, failed)', labelNames: ['queue', 'state'], registers: [this.registry],
      async collect() {
        // The liveness probe asks /metrics: a Redis outage must leave these gauges stale, not hang or fail the scrape.
        const counts = await Promise.race([
          Promise.all(queues.map(q => q.getJobCounts('waiting', 'active', 'delayed', 'failed'))),
          new Promise<undefined>(resolve => setTimeout(() => resolve(undefined), 1000).unref()),
        ]).catch(() => undefined);
        counts?.forEach((byState, i) => {
          for (const [state, count] of Object.entries(byState)) this.set({ queue: queues[i].name, state }, count);
        });
      },
    });
  }
}

/** A started worker: the queue workers, its metrics listener, and a way to stop both. */
export interface RunningWorker {
  readonly workers: QueueWorkers;
  readonly metrics: WorkerMetrics;
  readonly settings: WorkerSettings;
  /** The port /metrics answers on. */
  readonly metricsPort: number;
  /** Finishes the jobs in hand, then closes the listener, the pools and the Redis clients. */
  stop(): Promise<void>;
}

/**
 * Starts the reference queue worker from env (what WorkerPool injects): the settings of
 * {@link workerSettingsFromEnv}, the database contract and one of the Redis contracts. It
 * migrates like the API does (under the same advisory lock), so a worker that starts first finds
 * the schema too. `handlers` replaces the reference jobs with your own. `onRssExceeded` is called
 * once when the process's resident size passes WORKER_MAX_RSS_BYTES.
 */
export async function startWorker(
  env: NodeJS.ProcessEnv = process.env, handlers?: Record<string, JobHandler>, onRssExceeded?: () => void,
): Promise<RunningWorker> {
  // Every setting is read before a client opens, so a bad one leaves nothing connecting in the background.
  const config = loadConfig(env);
  if (!config.worker) throw new Error('WORKER_QUEUES must name the queues the worker takes jobs from (comma-separated)');
  if (!config.queueRedis) throw new Error('a worker needs its queue\'s Redis: set QUEUE_REDIS_* or REDIS_* (CLUSTER_NODES, SENTINELS or URL)');
  return startWorkerFrom(config, config.worker, handlers, onRssExceeded);
}

async function startWorkerFrom(
  config: Config, settings: WorkerSettings, handlers?: Record<string, JobHandler>, onRssExceeded?: () => void,
): Promise<RunningWorker> {
  const backends = createBackends(config, { role: 'worker' });
  const connection = backends.queueConnection!;
  const metrics = new WorkerMetrics(settings.queues, config.service.guideMetrics);
  const queues = settings.queues.map(name => new Queue(name, { connection, prefix: QUEUE_PREFIX }).on('error', IGNORE_CONNECTION_ERROR));
  metrics.watchQueues(queues);
  const rss = new RssWatch(settings.maxRssBytes, onRssExceeded);
  const jobHandlers = handlers ?? referenceJobs(new ItemRepository(backends.router), backends.cache);
  metrics.countFrom0(settings.queues, Object.keys(jobHandlers));
  const workers = new QueueWorkers(connection, settings, jobHandlers, {
    onRun: (queue, name, outcome, seconds) => {
      metrics.observeRun(queue, name, outcome, seconds);
      rss.check();
    },
  });
  const closeBackends = async () => {
    await Promise.all(queues.map(q => q.close()));
    await backends.close();
  };
  // /metrics (the probes' path) answers first, with worker_active 0, so a migration slower than the
  // liveness window (one waiting on another pod's migration lock) does not get the pod killed.
  const server = await listenForMetrics(settings.metricsPort, metrics).catch(async (error: unknown) => {
    await closeBackends();
    throw error;
  });
  const closeAll = async () => {
    await new Promise(resolve => server.close(resolve));
    await closeBackends();
  };
  try {
    await migrate(backends.router.primarySql, backends.router.config.startupRetryMs, roleDefaults(backends.router.config));
    await backends.router.start();
  } catch (error) {
    await closeAll();
    throw error;
  }
  workers.start();
  metrics.setActive(true);
  rss.start();
  const metricsPort = (server.address() as AddressInfo).port;
  logger.info({ queues: settings.queues, concurrency: settings.concurrency, metricsPort }, 'worker started');
  return {
    workers, metrics, settings, metricsPort,
    stop: async () => {
      rss.stop();
      metrics.setActive(false);
      await workers.close(connection.status !== 'ready');
      await closeAll();
    },
  };
}

function listenForMetrics(port: number, metrics: WorkerMetrics): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry.metrics().then(
        text => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
        error => {
          logger.error({ err: error }, 'metrics collection failed');
          res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"error":{"code":"internal","message":"metrics collection failed"}}');
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":{"code":"not_found","message":"only GET /metrics here"}}');
  });
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, () => resolve(server)));
}

/**
 * The memory bound: checked after every job and every few seconds; past it, `onExceeded` runs once
 * (the process then finishes its jobs and exits, and Kubernetes starts it afresh), as Celery's
 * max-memory-per-child replaces a bloated child.
 */
class RssWatch {
  private timer?: NodeJS.Timeout;
  private fired = false;

  constructor(private readonly maxBytes: number, private readonly onExceeded?: () => void) {}

  public start(): void {
    if (this.maxBytes === 0) return;
    this.timer = setInterval(() => this.check(), 5000);
    this.timer.unref();
  }

  public stop(): void {
    clearInterval(this.timer);
  }

  public check(): void {
    if (this.maxBytes === 0 || this.fired) return;
    const rss = process.memoryUsage.rss();
    if (rss <= this.maxBytes) return;
    this.fired = true;
    logger.warn({ rss, maxRssBytes: this.maxBytes }, 'memory bound passed: finishing the jobs in hand, then exiting');
    this.onExceeded?.();
  }
}
