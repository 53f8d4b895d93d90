import { booleanFromEnv, hostPortsFromEnv, intFromEnv, secretFromEnv } from '../env';

/** Where a read may go, like ioredis's `scaleReads`: replicas with fallback to the primary, or always the primary. */
export type ReadPolicy = 'replicas' | 'primary';
export const READ_POLICIES: ReadPolicy[] = ['replicas', 'primary'];

/** PgBouncer's pool_mode of a pooler between the service and PostgreSQL; `statement` is refused (it forbids transactions). */
export type PoolMode = 'session' | 'transaction';
export const POOL_MODES: PoolMode[] = ['session', 'transaction'];

/** Settings of the router, with the env names that set them. */
export interface DatabaseConfig {
  /** DATABASE_URL: the primary. */
  readonly primaryUrl: string;
  /** POSTGRES_READ_REPLICAS: `host:port` of each replica. */
  readonly replicas: string[];
  /** READ_POLICY: where reads go. */
  readonly readPolicy: ReadPolicy;
  /** REPLICA_MAX_LAG_MS: replay lag above which a replica takes no reads. */
  readonly maxLagMs: number;
  /** REPLICA_CHECK_INTERVAL_MS: how often each replica is checked. */
  readonly healthIntervalMs: number;
  /** PG_POOL_MAX / PG_REPLICA_POOL_MAX: connections per pool. */
  readonly primaryPoolMax: number;
  readonly replicaPoolMax: number;
  /** PG_POOL_TIMEOUT_MS: the longest a query waits for a free connection of its pool before it fails (SQLAlchemy's pool_timeout). */
  readonly poolTimeoutMs: number;
  /**
   * PG_POOL_PIPELINE: queries in flight per connection (8 by default; 1: one at a time). postgres.js
   * pipelines them, which costs less CPU and round trips per query. A query that took a slot beyond
   * one per connection and may be waiting behind a slow one is refused after PG_POOL_TIMEOUT_MS
   * like any waiter, so the pool timeout bounds the wait either way: docs/performance.md.
   */
  readonly poolPipeline?: number;
  /** PG_STATEMENT_TIMEOUT_MS: statements running longer are cancelled by the server. */
  readonly statementTimeoutMs: number;
  /** PG_CONNECT_TIMEOUT_MS: a server that does not answer within it counts as down. */
  readonly connectTimeoutMs: number;
  /**
   * PG_STARTUP_RETRY_MS: how long a starting instance retries its migrations while the primary
   * cannot be reached, inside ScaledApi's default startup window (30 probes 5 s apart); 0 fails at once.
   */
  readonly startupRetryMs: number;
  /**
   * POSTGRES_TLS_CA (or POSTGRES_TLS_CA_FILE): the CA certificate (PEM) that every server of the set
   * must present a certificate from, for its host name; with it, each pool connects over TLS only.
   * PgReplicaSet's `tls` injects it. Without it, DATABASE_URL's `sslmode` decides.
   */
  readonly tlsCa?: string;
  /**
   * POSTGRES_POOL_MODE: the pool_mode of the PgBouncer that DATABASE_URL and the replicas reach
   * (PgReplicaSet's cloudnative-pg engine with `pooler` injects it); unset: the servers themselves.
   * Behind it the session settings are the role's defaults ({@link roleDefaults}), since PgBouncer
   * refuses them as startup parameters, and in `transaction` mode no statement is prepared by name.
   */
  readonly poolMode?: PoolMode;
  /**
   * POSTGRES_READ_REPLICAS_BALANCED=true: each replica address is a Service balanced over several
   * servers (PgReplicaSet's cloudnative-pg engine injects it), so one connection's answer says
   * nothing of the next: a read with a token is checked in its own transaction. Unset: each
   * address is one server, and a replica known to have replayed the token is read at once.
   */
  readonly replicasBalanced?: boolean;
}

/** The defaults of every setting but the addresses. */
export const DEFAULT_DATABASE_CONFIG = {
  readPolicy: 'replicas' as ReadPolicy,
  maxLagMs: 5000,
  healthIntervalMs: 1000,
  primaryPoolMax: 10,
  replicaPoolMax: 10,
  poolTimeoutMs: 30_000,
  poolPipeline: 8,
  statementTimeoutMs: 5000,
  connectTimeoutMs: 2000,
  startupRetryMs: 120_000,
  replicasBalanced: false,
};

/** How long past the statement timeout a query may go unanswered before its server counts as unreachable. */
export const READ_DEADLINE_SLACK_MS = 1000;

/** The router's settings from env; throws naming the variable on a bad value. */
export function databaseConfigFromEnv(env: NodeJS.ProcessEnv): DatabaseConfig {
  if (!env.DATABASE_URL) throw new Error('DATABASE_URL must name the primary, e.g. postgres://app@db-rw:5432/app');
  const d = DEFAULT_DATABASE_CONFIG;
  return validateDatabaseConfig({
    primaryUrl: env.DATABASE_URL,
    replicas: hostPortsFromEnv(env, 'POSTGRES_READ_REPLICAS').map(r => `${r.host}:${r.port}`),
    readPolicy: (env.READ_POLICY || d.readPolicy) as ReadPolicy,
    maxLagMs: intFromEnv(env, 'REPLICA_MAX_LAG_MS', d.maxLagMs, 0, 3_600_000),
    healthIntervalMs: intFromEnv(env, 'REPLICA_CHECK_INTERVAL_MS', d.healthIntervalMs, 50, 600_000),
    primaryPoolMax: intFromEnv(env, 'PG_POOL_MAX', d.primaryPoolMax, 1, 1000),
    replicaPoolMax: intFromEnv(env, 'PG_REPLICA_POOL_MAX', d.replicaPoolMax, 1, 1000),
    poolTimeoutMs: intFromEnv(env, 'PG_POOL_TIMEOUT_MS', d.poolTimeoutMs, 1, 600_000),
    poolPipeline: intFromEnv(env, 'PG_POOL_PIPELINE', d.poolPipeline, 1, 100),
    statementTimeoutMs: intFromEnv(env, 'PG_STATEMENT_TIMEOUT_MS', d.statementTimeoutMs, 1, 3_600_000),
    connectTimeoutMs: intFromEnv(env, 'PG_CONNECT_TIMEOUT_MS', d.connectTimeoutMs, 100, 600_000),
    startupRetryMs: intFromEnv(env, 'PG_STARTUP_RETRY_MS', d.startupRetryMs, 0, 3_600_000),
    tlsCa: secretFromEnv(env, 'POSTGRES_TLS_CA'),
    poolMode: (env.POSTGRES_POOL_MODE || undefined) as PoolMode | undefined,
    replicasBalanced: booleanFromEnv(env, 'POSTGRES_READ_REPLICAS_BALANCED'),
  });
}

/**
 * Checks a config built in code (tests, benchmarks) as the env reader does, like ioredis's
 * `scaleReads` check; returns it unchanged.
 */
export function validateDatabaseConfig(config: DatabaseConfig): DatabaseConfig {
  if (!READ_POLICIES.includes(config.readPolicy)) {
    throw new Error(`READ_POLICY (${JSON.stringify(config.readPolicy)}) must be one of ${READ_POLICIES.map(p => `"${p}"`).join(', ')}`);
  }
  if (config.poolMode !== undefined && !POOL_MODES.includes(config.poolMode)) {
    throw new Error(`POSTGRES_POOL_MODE (${JSON.stringify(config.poolMode)}) must be one of ${POOL_MODES.map(m => `"${m}"`).join(', ')}, or unset without a pooler`);
  }
  for (const replica of config.replicas) {
    if (!/^[^:\s]+:\d{1,5}$/.test(replica)) throw new Error(`POSTGRES_READ_REPLICAS entry ${JSON.stringify(replica)} must be host:port`);
  }
  const positive: Array<keyof DatabaseConfig> = ['healthIntervalMs', 'primaryPoolMax', 'replicaPoolMax', 'poolTimeoutMs', 'poolPipeline', 'statementTimeoutMs', 'connectTimeoutMs'];
  for (const key of positive) {
    const value = config[key];
    if (key === 'poolPipeline' && value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`database config '${key}' (${JSON.stringify(value)}) must be a positive integer`);
  }
  if (config.tlsCa !== undefined && !config.tlsCa.includes('-----BEGIN CERTIFICATE-----')) throw new Error('POSTGRES_TLS_CA must be a PEM certificate (-----BEGIN CERTIFICATE-----)');
  if (!Number.isInteger(config.maxLagMs) || config.maxLagMs < 0) throw new Error(`database config 'maxLagMs' (${JSON.stringify(config.maxLagMs)}) must be an integer of 0 or more`);
  return config;
}

/** What each session of the service runs with: sent at connection start without a pooler, the role's defaults behind one. */
export function sessionSettings(config: DatabaseConfig): Record<string, string> {
  return { statement_timeout: String(config.statementTimeoutMs) };
}

/**
 * The settings the migrations make the defaults of the service's role in its database: none
 * without a pooler; behind PgBouncer, {@link sessionSettings}, because PgBouncer refuses them
 * as startup parameters ("unsupported startup parameter: statement_timeout", which the
 * CloudNativePG Pooler's ignore_startup_parameters does not list) and a transaction-pooled
 * server connection carries no session state of a client.
 */
export function roleDefaults(config: DatabaseConfig): Record<string, string> {
  return config.poolMode ? sessionSettings(config) : {};
}
