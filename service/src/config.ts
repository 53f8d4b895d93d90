import { readFileSync } from 'fs';
import { join } from 'path';
import { AuthConfig, authConfigFromEnv } from './auth/config';
import { DatabaseConfig, databaseConfigFromEnv } from './db/config';
import { intFromEnv, secretFromEnv } from './env';
import { queueNamesFromEnv, WorkerSettings, workerSettingsFromEnv } from './queue/settings';
import { queueRedisContractFromEnv, RedisContract, redisContractFromEnv } from './redis-contract';

/**
 * Everything the API and the worker read from the environment, read once at start by
 * {@link loadConfig}: the one place that knows the env names of the constructs' contract.
 */
export interface Config {
  readonly service: ServiceConfig;
  /** The router's settings; undefined without DATABASE_URL (the enqueue CLI needs none). */
  readonly database?: DatabaseConfig;
  /** The cache's Redis; undefined when no Redis env is set. */
  readonly redis?: RedisContract;
  /** The queues' Redis: QUEUE_REDIS_* when the charts give the queue its own (it must never evict), else the cache's. */
  readonly queueRedis?: RedisContract;
  /** WORKER_QUEUES: the queues the API enqueues for and the worker takes jobs from. */
  readonly queues: string[];
  /** The worker's settings, when WORKER_QUEUES names queues. */
  readonly worker?: WorkerSettings;
  /** The signing key of write tokens and the users who may log in. */
  readonly auth: AuthConfig;
}

/** Reads and checks the whole environment; throws naming the variable on a bad value, so the process exits at start. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const queues = queueNamesFromEnv(env);
  return {
    service: serviceConfigFromEnv(env),
    database: env.DATABASE_URL ? databaseConfigFromEnv(env) : undefined,
    redis: redisContractFromEnv(env),
    queueRedis: queueRedisContractFromEnv(env),
    queues,
    worker: queues.length > 0 ? workerSettingsFromEnv(env) : undefined,
    auth: authConfigFromEnv(env),
  };
}

/** SHUTDOWN_TIMEOUT_MS when unset, for the API and the worker alike (WorkerPool sets it from the pod's grace period). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;

/** Settings of the service, read once from the environment (the contract the constructs inject). */
export interface ServiceConfig {
  /** PORT: where the HTTP server listens (8000). */
  readonly port: number;
  /** ADMIN_TOKEN or the file ADMIN_TOKEN_FILE names: the bearer token of /deep and /cache/invalidate; unset, those answer 401. */
  readonly adminToken?: string;
  /** BODY_LIMIT: the largest JSON body accepted ('100kb'); larger ones get 413. */
  readonly bodyLimit: string;
  /** SHUTDOWN_TIMEOUT_MS: the grace period after SIGTERM; requests still running then are dropped (exit 1). */
  readonly shutdownTimeoutMs: number;
  /** SHUTDOWN_DELAY_MS: how long to keep serving with readiness failing before the listener closes (0 on Kubernetes, where preStop waits). */
  readonly shutdownDelayMs: number;
  /** CACHE_DEFAULT_TTL: seconds a cached read lives (300). */
  readonly cacheDefaultTtlSeconds: number;
  /** CACHE_TIMEOUT_MS: the longest a Redis command may take before the request goes to the database instead. */
  readonly cacheTimeoutMs: number;
  /** SERVICE_VERSION: the version `/health` reports; unset, the package's version. */
  readonly version: string;
  /** METRICS_PREFIX: serves the guides' `<prefix>_db_pool_size`, ... beside our metrics; unset, they are not served. */
  readonly metricsPrefix?: string;
  /** PG_POOL_SIZE: the guide's base pool size (SQLAlchemy's `pool_size`), which `<prefix>_db_pool_size` reports; unset, the pool's bound (PG_POOL_MAX). */
  readonly guidePoolSize?: number;
  /** GUIDE_METRICS: 'bet-intel' serves that guide's unprefixed names beside ours (the API `requests_total`, `cache_hit_rate`; the worker `celery_task_duration_seconds`, `celery_workers_active`); unset, they are not served. */
  readonly guideMetrics?: 'bet-intel';
}

/** The service's settings from env; throws naming the variable on a bad value, so the process exits at start, not later. */
export function serviceConfigFromEnv(env: NodeJS.ProcessEnv): ServiceConfig {
  return {
    port: intFromEnv(env, 'PORT', 8000, 1, 65535),
    adminToken: secretFromEnv(env, 'ADMIN_TOKEN'),
    bodyLimit: bodyLimitFromEnv(env),
    shutdownTimeoutMs: intFromEnv(env, 'SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS, 0, 3_600_000),
    shutdownDelayMs: intFromEnv(env, 'SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    cacheDefaultTtlSeconds: intFromEnv(env, 'CACHE_DEFAULT_TTL', 300, 1, 86_400),
    cacheTimeoutMs: intFromEnv(env, 'CACHE_TIMEOUT_MS', 250, 10, 60_000),
    version: versionFromEnv(env),
    metricsPrefix: metricsPrefixFromEnv(env),
    guidePoolSize: env.PG_POOL_SIZE ? intFromEnv(env, 'PG_POOL_SIZE', 0, 1, 1000) : undefined,
    guideMetrics: guideMetricsFromEnv(env),
  };
}

/** The version in package.json, read at run time: the image and the repository both hold it two levels above the code. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

function versionFromEnv(env: NodeJS.ProcessEnv): string {
  const raw = env.SERVICE_VERSION;
  if (raw === undefined || raw === '') return packageVersion();
  // It lands in JSON bodies and logs: a tag or a commit, not free text.
  if (!/^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/.test(raw)) {
    throw new Error(`SERVICE_VERSION (${JSON.stringify(raw)}) must be 1 to 64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit, e.g. 1.4.2`);
  }
  return raw;
}

function metricsPrefixFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.METRICS_PREFIX;
  if (raw === undefined || raw === '') return undefined;
  // A Prometheus metric name without colons (those are for recording rules), so `<prefix>_db_pool_size` is a valid name.
  if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/.test(raw)) {
    throw new Error(`METRICS_PREFIX (${JSON.stringify(raw)}) must be 1 to 64 letters, digits or '_', not starting with a digit, e.g. fastnext`);
  }
  return raw;
}

function guideMetricsFromEnv(env: NodeJS.ProcessEnv): 'bet-intel' | undefined {
  const raw = env.GUIDE_METRICS;
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'bet-intel') throw new Error(`GUIDE_METRICS (${JSON.stringify(raw)}) must be bet-intel, the one guide whose names are served unprefixed`);
  return raw;
}

function bodyLimitFromEnv(env: NodeJS.ProcessEnv): string {
  const raw = env.BODY_LIMIT || '100kb';
  // body-parser reads a limit it cannot parse as no limit at all: refuse it here instead.
  if (!/^\d+(b|kb|mb)$/i.test(raw)) throw new Error(`BODY_LIMIT (${JSON.stringify(raw)}) must be a size such as 100kb or 1mb`);
  return raw;
}
