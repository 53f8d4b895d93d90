import { intFromEnv } from '../env';

/**
 * The key prefix of every queue (QUEUE_PREFIX, which WorkerPool's `queuePrefix` sets), hash-tagged: BullMQ's scripts
 * touch several keys of a queue at once, and on a Redis Cluster they must share a slot.
 */
export const QUEUE_PREFIX = process.env.QUEUE_PREFIX || '{hscale}';

/** Jobs are added with this many attempts; the pool's own JOB_ATTEMPTS (never more) decides when a failing job stops. */
export const MAX_JOB_ATTEMPTS = 100;

/** The backoff type jobs are added with: the delay comes from the worker's JOB_BACKOFF_* env, not from the producer. */
export const POOL_BACKOFF = 'pool';

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The queue names in a comma-separated env var (WORKER_QUEUES); throws naming the variable when one is malformed. */
export function queueNamesFromEnv(env: NodeJS.ProcessEnv, name = 'WORKER_QUEUES'): string[] {
  const names = (env[name] ?? '').split(',').map(q => q.trim()).filter(q => q !== '');
  for (const queue of names) {
    if (!QUEUE_NAME.test(queue)) throw new Error(`${name} names ${JSON.stringify(queue)}: a queue is 1-100 letters, digits or '._-', starting with a letter or digit`);
  }
  return [...new Set(names)];
}

export type BackoffType = 'fixed' | 'exponential';

/** How a worker process takes and retries jobs, read from the env WorkerPool injects. */
export interface WorkerSettings {
  /** WORKER_QUEUES: the queues this process takes jobs from. */
  readonly queues: string[];
  /** WORKER_CONCURRENCY: jobs in hand at once, per queue (1). */
  readonly concurrency: number;
  /** WORKER_QUEUE_CONCURRENCY (`queue=n,...`): the queues whose concurrency is their own. */
  readonly queueConcurrency: Record<string, number>;
  /** JOB_ATTEMPTS: runs of a failing job before it goes to the failed set (3). */
  readonly attempts: number;
  /** JOB_BACKOFF_TYPE: 'exponential' (delay doubles per retry) or 'fixed'. */
  readonly backoffType: BackoffType;
  /** JOB_BACKOFF_DELAY_MS: the first retry's delay (1000). */
  readonly backoffDelayMs: number;
  /** JOB_TIMEOUT_MS: a run taking longer fails (and is retried) (300000). */
  readonly jobTimeoutMs: number;
  /** WORKER_MAX_RSS_BYTES: past this resident size the process finishes its jobs and exits; 0 for no bound. */
  readonly maxRssBytes: number;
  /** WORKER_LOCK_DURATION_MS: how long a job's lock lasts without renewal; a killed worker's jobs are retried after it (30000). */
  readonly lockDurationMs: number;
  /** WORKER_STALLED_INTERVAL_MS: how often workers look for jobs whose lock expired (30000). */
  readonly stalledIntervalMs: number;
  /** WORKER_MAX_STALLED_COUNT: times a job may stall (its worker died) before it fails (1). */
  readonly maxStalledCount: number;
  /** METRICS_PORT: where GET /metrics answers (9100). */
  readonly metricsPort: number;
}

/** The worker's settings; throws naming the variable on a bad value, before any client opens. */
export function workerSettingsFromEnv(env: NodeJS.ProcessEnv): WorkerSettings {
  const queues = queueNamesFromEnv(env);
  if (queues.length === 0) throw new Error('WORKER_QUEUES must name the queues the worker takes jobs from (comma-separated)');
  const backoffType = env.JOB_BACKOFF_TYPE || 'exponential';
  if (backoffType !== 'fixed' && backoffType !== 'exponential') {
    throw new Error(`JOB_BACKOFF_TYPE (${JSON.stringify(backoffType)}) must be 'fixed' or 'exponential'`);
  }
  return {
    queues,
    concurrency: intFromEnv(env, 'WORKER_CONCURRENCY', 1, 1, 1000),
    queueConcurrency: queueConcurrencyFromEnv(env),
    attempts: intFromEnv(env, 'JOB_ATTEMPTS', 3, 1, MAX_JOB_ATTEMPTS),
    backoffType,
    backoffDelayMs: intFromEnv(env, 'JOB_BACKOFF_DELAY_MS', 1000, 0, 86_400_000),
    jobTimeoutMs: intFromEnv(env, 'JOB_TIMEOUT_MS', 300_000, 1, 86_400_000),
    maxRssBytes: intFromEnv(env, 'WORKER_MAX_RSS_BYTES', 0, 0, Number.MAX_SAFE_INTEGER),
    lockDurationMs: intFromEnv(env, 'WORKER_LOCK_DURATION_MS', 30_000, 1000, 3_600_000),
    stalledIntervalMs: intFromEnv(env, 'WORKER_STALLED_INTERVAL_MS', 30_000, 500, 3_600_000),
    maxStalledCount: intFromEnv(env, 'WORKER_MAX_STALLED_COUNT', 1, 0, 100),
    metricsPort: intFromEnv(env, 'METRICS_PORT', 9100, 0, 65535),
  };
}

/** WORKER_QUEUE_CONCURRENCY as `{ queue: n }`; throws naming the variable on a malformed entry. */
function queueConcurrencyFromEnv(env: NodeJS.ProcessEnv): Record<string, number> {
  const entries = (env.WORKER_QUEUE_CONCURRENCY ?? '').split(',').filter(e => e.trim() !== '').map(entry => {
    const [queue, n] = entry.trim().split('=');
    if (!QUEUE_NAME.test(queue) || !/^[1-9][0-9]{0,3}$/.test(n ?? '')) {
      throw new Error(`WORKER_QUEUE_CONCURRENCY names ${JSON.stringify(entry)}: each entry is <queue>=<jobs at once>, e.g. 'emails=8'`);
    }
    return [queue, Number(n)] as const;
  });
  return Object.fromEntries(entries);
}

/** The delay before retry number `attemptsMade` (1 for the first retry). */
export function backoffDelay(settings: Pick<WorkerSettings, 'backoffType' | 'backoffDelayMs'>, attemptsMade: number): number {
  if (settings.backoffType === 'fixed') return settings.backoffDelayMs;
  return Math.min(settings.backoffDelayMs * 2 ** Math.max(attemptsMade - 1, 0), 3_600_000);
}
