import { totalmem } from 'os';
import { Gauge, Histogram, Registry } from 'prom-client';
import { ReadThroughCache } from './cache/cache';
import { QueryRouter } from './db/router';
import { TallyCounter } from './tally';

/**
 * The guides' own metric names (FastNext serves `fastnext_db_pool_size`, ...) under `prefix`,
 * beside ours, so the guides' dashboards and queries work unchanged. Each means what the guide's
 * does, measured the way this process can: the pool figures are the primary's, as the guide's
 * `db_router.primary_engine.pool`; the hit ratio is this process's since it started; CPU and
 * memory are this process's, not the node's (psutil's figures are the whole machine's, which on
 * Kubernetes is not the pod).
 */
export function registerGuideMetrics(registry: Registry, prefix: string, router: QueryRouter, cache: ReadThroughCache, poolSize?: number): void {
  const primaryPool = () => router.poolStats().find(p => p.pool === 'primary')!;
  const gauge = (name: string, help: string, read: () => number) => new Gauge({
    name: `${prefix}_${name}`, help, registers: [registry],
    collect() { this.set(read()); },
  });
  // SQLAlchemy's pool.size() is the configured pool_size, overflow not counted: PG_POOL_SIZE when the chart gives it.
  gauge('db_pool_size', 'Base size of the primary pool (PG_POOL_SIZE; PG_POOL_MAX without it)', () => poolSize ?? primaryPool().max);
  gauge('db_pool_checked_out', 'Primary pool connections running a query now', () => primaryPool().busy);
  // Without a cache there is no ratio to report; a 0 would fire every hit-ratio alert.
  if (cache.enabled) gauge('redis_hit_ratio', 'Cache hits over lookups since the process started (0 before the first lookup)', () => cache.getStats().hitRatio ?? 0);
  gauge('cpu_percent', 'CPU the process used since the previous scrape, percent of one core', cpuPercentSinceLastRead());
  gauge('memory_percent', 'Resident memory, percent of the container memory limit (of the machine without one)', () => 100 * process.memoryUsage.rss() / memoryLimitBytes());
}

/**
 * bet-intel's names (its l.407-422) that this process can serve as the guide means them, unprefixed as
 * the guide has them: `cache_hit_rate` in percent (this process's, since it started; none without a
 * cache) and `requests_total{method,endpoint,status}`, which the returned counter counts (the
 * request-metrics middleware increments it, `endpoint` being our `route`).
 */
export function registerBetIntelMetrics(registry: Registry, cache: ReadThroughCache): TallyCounter<'method' | 'endpoint' | 'status'> {
  if (cache.enabled) {
    new Gauge({
      name: 'cache_hit_rate', help: 'Cache hits over lookups since the process started, percent (0 before the first lookup)', registers: [registry],
      collect() { this.set(100 * (cache.getStats().hitRatio ?? 0)); },
    });
  }
  return new TallyCounter({ name: 'requests_total', help: 'HTTP requests by method, endpoint (route) and status', labelNames: ['method', 'endpoint', 'status'], registers: [registry] });
}

/**
 * bet-intel's worker names (its l.419-422) that a worker measures, unprefixed as the guide has them:
 * `celery_task_duration_seconds{task_name}`, observed with each run as our `worker_job_duration_seconds`
 * (same buckets), and `celery_workers_active{worker_type}`, 1 per queue this process takes jobs from
 * while it takes them (the guide's `WORKER_TYPE` is the queue). The guide's `celery_queue_length` and
 * `cache_memory_bytes` are one figure per queue and per cache, not per process: Observability records them.
 */
export class BetIntelWorkerMetrics {
  private readonly taskDuration: Histogram<'task_name'>;
  private readonly workersActive: Gauge<'worker_type'>;

  constructor(registry: Registry, private readonly queues: string[], buckets: number[]) {
    this.taskDuration = new Histogram({ name: 'celery_task_duration_seconds', help: 'Time to run a job, by its name', labelNames: ['task_name'], buckets, registers: [registry] });
    this.workersActive = new Gauge({ name: 'celery_workers_active', help: '1 per queue (worker type) while this worker takes its jobs', labelNames: ['worker_type'], registers: [registry] });
    this.setActive(false);
  }

  public observe(name: string, seconds: number): void {
    this.taskDuration.observe({ task_name: name }, seconds);
  }

  public setActive(active: boolean): void {
    for (const queue of this.queues) this.workersActive.set({ worker_type: queue }, active ? 1 : 0);
  }
}

/** A reader of the CPU share used since its previous call (since its creation, the first time). */
export function cpuPercentSinceLastRead(): () => number {
  let previousCpu = process.cpuUsage();
  let previousAt = process.hrtime.bigint();
  let last = 0;
  return () => {
    const now = process.hrtime.bigint();
    const used = process.cpuUsage(previousCpu);
    const wallMicros = Number(now - previousAt) / 1000;
    // Two scrapes in the same microsecond: the previous figure stands.
    if (wallMicros > 0) last = 100 * (used.user + used.system) / wallMicros;
    previousCpu = process.cpuUsage();
    previousAt = now;
    return last;
  };
}

/** The cgroup memory limit when there is one (Node reports a huge number without), else the machine's memory. */
export function memoryLimitBytes(): number {
  const constrained = process.constrainedMemory();
  return constrained > 0 ? Math.min(constrained, totalmem()) : totalmem();
}
