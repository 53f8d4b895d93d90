import postgres, { Sql } from 'postgres';
import { intFromEnv } from '../config';
import { logger } from '../logger';
import { isConnectionError, PoolTimeoutError } from './errors';
import { lsnToBigInt } from './lsn';

/** Where a read may go, like ioredis's `scaleReads`: replicas with fallback to the primary, or always the primary. */
export type ReadPolicy = 'replicas' | 'primary';
export const READ_POLICIES: ReadPolicy[] = ['replicas', 'primary'];

/** Settings of the router, with the env names that set them. */
export interface DatabaseConfig {
  /** DATABASE_URL: the primary. */
  readonly primaryUrl: string;
  /** POSTGRES_READ_REPLICAS: `host:port` of each replica. */
  readonly replicas: string[];
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
  /** PG_STATEMENT_TIMEOUT_MS: statements running longer are cancelled by the server. */
  readonly statementTimeoutMs: number;
  /** PG_CONNECT_TIMEOUT_MS: a server that does not answer within it counts as down. */
  readonly connectTimeoutMs: number;
}

export const DEFAULT_DATABASE_CONFIG = {
  readPolicy: 'replicas' as ReadPolicy,
  maxLagMs: 5000,
  healthIntervalMs: 1000,
  primaryPoolMax: 10,
  replicaPoolMax: 10,
  poolTimeoutMs: 30_000,
  statementTimeoutMs: 5000,
  connectTimeoutMs: 2000,
};

export function databaseConfigFromEnv(env: NodeJS.ProcessEnv): DatabaseConfig {
  if (!env.DATABASE_URL) throw new Error('DATABASE_URL must name the primary, e.g. postgres://app@db-rw:5432/app');
  const readPolicy = (env.READ_POLICY ?? DEFAULT_DATABASE_CONFIG.readPolicy) as ReadPolicy;
  if (!READ_POLICIES.includes(readPolicy)) {
    throw new Error(`READ_POLICY (${JSON.stringify(readPolicy)}) must be one of ${READ_POLICIES.map(p => `"${p}"`).join(', ')}`);
  }
  const replicas = (env.POSTGRES_READ_REPLICAS ?? '').split(',').map(s => s.trim()).filter(Boolean);
  for (const replica of replicas) {
    if (!/^[^:\s]+:\d{1,5}$/.test(replica)) throw new Error(`POSTGRES_READ_REPLICAS entry ${JSON.stringify(replica)} must be host:port`);
  }
  const d = DEFAULT_DATABASE_CONFIG;
  return {
    primaryUrl: env.DATABASE_URL,
    replicas,
    readPolicy,
    maxLagMs: intFromEnv(env, 'REPLICA_MAX_LAG_MS', d.maxLagMs, 0, 3_600_000),
    healthIntervalMs: intFromEnv(env, 'REPLICA_CHECK_INTERVAL_MS', d.healthIntervalMs, 50, 600_000),
    primaryPoolMax: intFromEnv(env, 'PG_POOL_MAX', d.primaryPoolMax, 1, 1000),
    replicaPoolMax: intFromEnv(env, 'PG_REPLICA_POOL_MAX', d.replicaPoolMax, 1, 1000),
    poolTimeoutMs: intFromEnv(env, 'PG_POOL_TIMEOUT_MS', d.poolTimeoutMs, 1, 600_000),
    statementTimeoutMs: intFromEnv(env, 'PG_STATEMENT_TIMEOUT_MS', d.statementTimeoutMs, 1, 3_600_000),
    connectTimeoutMs: intFromEnv(env, 'PG_CONNECT_TIMEOUT_MS', d.connectTimeoutMs, 100, 600_000),
  };
}

/** How long past the statement timeout a read may go unanswered before its server counts as unreachable. */
export const READ_DEADLINE_SLACK_MS = 1000;

export type ReadTarget = 'replica' | 'primary';
export type ReadReason = 'replica' | 'policy' | 'no-replicas-configured' | 'no-healthy-replica' | 'token-not-reached' | 'replica-failed';

/** Hooks the metrics module listens on. */
export interface RouterObserver {
  onRead?(target: ReadTarget, reason: ReadReason, replica?: string): void;
  onWrite?(): void;
  onReplicaStateChange?(replica: string, healthy: boolean, why: string): void;
}

export interface ReplicaState {
  readonly name: string;
  healthy: boolean;
  lagMs: number | null;
  lagBytes: number | null;
  replayLsn: string | null;
  lastError?: string;
  lastCheckedAt?: string;
}

export interface PoolStats {
  readonly pool: string;
  readonly max: number;
  readonly busy: number;
  readonly waiting: number;
}

interface Pool {
  readonly name: string;
  /** The pool's client now: {@link QueryRouter.renew} replaces it after a connection error. */
  sql: Sql;
  /** Makes a new client of the pool. */
  readonly open: () => Sql;
  readonly max: number;
  /** Queries holding one of the `max` connections. */
  inFlight: number;
  /** Queries waiting for one, first come first served: each is handed the slot of the query that ends. */
  readonly waiting: Array<() => void>;
}

interface Replica extends Pool {
  readonly state: ReplicaState;
}

/**
 * Sends writes and transactions to the primary and reads to healthy replicas. Replicas are
 * checked in the background: one that is down, or whose replay lags the primary by more than
 * `maxLagMs`, takes no reads until it is healthy again. Lag is measured from LSNs: the age of
 * the oldest primary LSN sample the replica has not replayed (an idle primary gives lag 0,
 * where replay timestamps would grow forever).
 */
export class QueryRouter {
  public readonly config: DatabaseConfig;
  private readonly primary: Pool;
  private readonly replicaPools: Replica[];
  private readonly lsnSamples: Array<{ at: number; lsn: bigint }> = [];
  private next = 0;
  /** The primary's LSN at start; a replica that has not replayed it takes no reads. */
  private replayFloor = 0n;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;

  constructor(config: DatabaseConfig, private readonly observer: RouterObserver = {}) {
    this.config = config;
    this.primary = this.pool('primary', config.primaryUrl, {}, config.primaryPoolMax);
    this.replicaPools = config.replicas.map(hostPort => {
      const [host, port] = hostPort.split(':');
      const pool = this.pool(hostPort, config.primaryUrl, { host, port: Number(port) }, config.replicaPoolMax);
      return { ...pool, state: { name: hostPort, healthy: false, lagMs: null, lagBytes: null, replayLsn: null } };
    });
  }

  private pool(name: string, url: string, override: { host?: string; port?: number }, max: number): Pool {
    const open = () => postgres(url, {
      ...override,
      max,
      // Without these a replica that stops answering at network level stalls every request sent to it.
      connect_timeout: this.config.connectTimeoutMs / 1000,
      idle_timeout: 60,
      max_lifetime: 30 * 60,
      connection: { statement_timeout: this.config.statementTimeoutMs, application_name: `hscale-service/${name}` },
      onnotice: () => undefined,
      // postgres.js runs its array-types query on each new connection and drops its promise: a
      // server dying during it (connect ECONNREFUSED on the reconnect) was an unhandled rejection
      // that ended the process. The service sends and reads no array values.
      fetch_types: false,
      // Query text, duration and row count are logged by `timed`; parameters never are.
      debug: false,
    });
    return { name, sql: open(), open, max, inFlight: 0, waiting: [] };
  }

  /**
   * Replaces the client of `pool` after a connection error on `failed`. postgres.js 3.4 can keep
   * a connection whose socket died with a write still scheduled (porsager/postgres#1208): used
   * again, its queries are never sent and hang, or it throws outside any promise and ends the
   * process (seen in a primary failover). A new client holds no such connection; the old one is
   * ended once its running queries finish.
   */
  private renew(pool: Pool, failed: Sql): void {
    if (pool.sql !== failed) return;
    pool.sql = pool.open();
    logger.warn({ pool: pool.name }, 'database client replaced after a connection error');
    void failed.end({ timeout: 5 }).catch(() => undefined);
  }

  /**
   * Starts the background replica checks (and runs one now). Call it after the migrations: a
   * replica takes reads only once it has replayed what the primary holds now, the schema this
   * code expects included (lag alone would admit one that is a moment behind a migration).
   */
  public async start(): Promise<void> {
    const [{ lsn }] = await this.primary.sql<Array<{ lsn: string }>>`select pg_current_wal_lsn()::text as lsn`;
    this.replayFloor = lsnToBigInt(lsn);
    await this.checkReplicas();
    this.timer = setInterval(() => void this.checkReplicas(), this.config.healthIntervalMs);
    this.timer.unref();
  }

  /** Runs `fn` in a transaction on the primary; resolves with its result and the commit LSN as token. */
  public async write<T>(fn: (sql: postgres.TransactionSql) => Promise<T>): Promise<{ result: T; token: string }> {
    // Bounded like reads: a primary that stops answering gets a 503 in time, not a request held open.
    const deadline = this.config.statementTimeoutMs + READ_DEADLINE_SLACK_MS;
    const result = await this.timed(this.primary, sql => withTimeout(sql.begin(fn) as Promise<T>, deadline));
    // Read after COMMIT: inside the writing transaction the LSN would be older than the commit record.
    const [{ lsn }] = await this.timed(this.primary, sql => withTimeout(sql<Array<{ lsn: string }>>`select pg_current_wal_lsn()::text as lsn`, deadline));
    this.observer.onWrite?.();
    return { result, token: lsn };
  }

  /**
   * Runs a read-only query on a healthy replica that has replayed `token` (when given), else on
   * the primary. A replica failing with a connection error is marked down and the query is
   * retried once elsewhere.
   */
  public async read<T>(fn: (sql: Sql) => Promise<T>, token?: string): Promise<T> {
    // statement_timeout is enforced by the server: one that stops answering (frozen, partitioned)
    // never sends the cancellation, so the client keeps its own deadline a little beyond it.
    const bounded = (sql: Sql) => withTimeout(fn(sql), this.config.statementTimeoutMs + READ_DEADLINE_SLACK_MS);
    const pick = await this.pickReplica(token);
    if (!pick.replica) {
      this.observer.onRead?.('primary', pick.reason);
      return this.timed(this.primary, bounded);
    }
    try {
      const result = await this.timed(pick.replica, bounded);
      this.observer.onRead?.('replica', 'replica', pick.replica.name);
      return result;
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      this.markDown(pick.replica, error);
      const retry = await this.pickReplica(token);
      this.observer.onRead?.(retry.replica ? 'replica' : 'primary', 'replica-failed', retry.replica?.name);
      return this.timed(retry.replica ?? this.primary, bounded);
    }
  }

  private async pickReplica(token?: string): Promise<{ replica?: Replica; reason: ReadReason }> {
    if (this.config.readPolicy === 'primary') return { reason: 'policy' };
    if (this.replicaPools.length === 0) return { reason: 'no-replicas-configured' };
    const healthy = this.replicaPools.filter(r => r.state.healthy);
    if (healthy.length === 0) return { reason: 'no-healthy-replica' };
    const start = this.next++;
    const ordered = healthy.map((_, i) => healthy[(start + i) % healthy.length]);
    if (!token) return { replica: ordered[0], reason: 'replica' };
    const wanted = lsnToBigInt(token);
    // Judged per replica: one that caught up says nothing about the others.
    for (const replica of ordered) {
      if (replica.state.replayLsn && lsnToBigInt(replica.state.replayLsn) >= wanted) return { replica, reason: 'replica' };
    }
    for (const replica of ordered) {
      const live = await withTimeout(this.replayLsn(replica), this.config.connectTimeoutMs + 500).catch(() => undefined);
      if (live && lsnToBigInt(live) >= wanted) return { replica, reason: 'replica' };
    }
    return { reason: 'token-not-reached' };
  }

  private async replayLsn(replica: Replica): Promise<string | undefined> {
    const [row] = await replica.sql<Array<{ lsn: string | null }>>`select pg_last_wal_replay_lsn()::text as lsn`;
    if (row.lsn) replica.state.replayLsn = row.lsn;
    return row.lsn ?? undefined;
  }

  /** One round of replica checks; rounds never overlap. */
  public checkReplicas(): Promise<void> {
    this.checking ??= this.runChecks().finally(() => { this.checking = undefined; });
    return this.checking;
  }

  private async runChecks(): Promise<void> {
    if (this.replicaPools.length === 0) return;
    const now = Date.now();
    try {
      const [{ lsn }] = await this.primary.sql<Array<{ lsn: string }>>`select pg_current_wal_lsn()::text as lsn`;
      const value = lsnToBigInt(lsn);
      if (this.lsnSamples.at(-1)?.lsn !== value) this.lsnSamples.push({ at: now, lsn: value });
      // Keep the samples a lag judgement can need: a little more than the bound.
      while (this.lsnSamples.length > 1 && this.lsnSamples[1].at < now - this.config.maxLagMs * 2 - 10_000) this.lsnSamples.shift();
    } catch (error) {
      logger.warn({ err: String(error) }, 'primary LSN sample failed');
    }
    await Promise.all(this.replicaPools.map(async replica => {
      const client = replica.sql;
      try {
        const lsn = await withTimeout(this.replayLsn(replica), this.config.connectTimeoutMs + 500);
        if (!lsn) throw new Error('not a replica: pg_last_wal_replay_lsn() is null');
        const replayed = lsnToBigInt(lsn);
        const newest = this.lsnSamples.at(-1);
        const behind = this.lsnSamples.find(s => s.lsn > replayed);
        replica.state.lagBytes = newest && newest.lsn > replayed ? Number(newest.lsn - replayed) : 0;
        replica.state.lagMs = behind ? now - behind.at : 0;
        replica.state.lastCheckedAt = new Date(now).toISOString();
        const lagging = replica.state.lagMs > this.config.maxLagMs;
        const beforeStart = replayed < this.replayFloor;
        this.setHealthy(replica, !lagging && !beforeStart,
          beforeStart ? 'has not replayed the primary\'s state at start (migrations)' : lagging ? `replay lag ${replica.state.lagMs} ms` : 'replaying');
      } catch (error) {
        this.markDown(replica, error);
        if (isConnectionError(error)) this.renew(replica, client);
      }
    }));
  }

  private markDown(replica: Replica, error: unknown): void {
    replica.state.lastError = String((error as Error).message ?? error);
    replica.state.lagMs = null;
    this.setHealthy(replica, false, replica.state.lastError);
  }

  private setHealthy(replica: Replica, healthy: boolean, why: string): void {
    if (replica.state.healthy !== healthy) {
      logger.info({ replica: replica.name, healthy, why }, 'replica state changed');
      this.observer.onReplicaStateChange?.(replica.name, healthy, why);
    }
    replica.state.healthy = healthy;
  }

  private async timed<T>(pool: Pool, fn: (sql: Sql) => Promise<T>): Promise<T> {
    await this.acquire(pool);
    const started = Date.now();
    const sql = pool.sql;
    try {
      const result = await fn(sql);
      logger.debug({ pool: pool.name, ms: Date.now() - started, rows: Array.isArray(result) ? result.length : undefined }, 'query');
      return result;
    } catch (error) {
      if (isConnectionError(error)) this.renew(pool, sql);
      throw error;
    } finally {
      this.release(pool);
    }
  }

  /**
   * Takes one of the pool's connections, waiting at most `poolTimeoutMs` for one to be free:
   * postgres.js would queue the query without a bound, so a slow database would pile up requests
   * until their clients gave up, instead of answering 503 in bounded time.
   */
  private async acquire(pool: Pool): Promise<void> {
    if (pool.inFlight < pool.max) {
      pool.inFlight++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const handOver = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        pool.waiting.splice(pool.waiting.indexOf(handOver), 1);
        reject(new PoolTimeoutError(pool.name, this.config.poolTimeoutMs));
      }, this.config.poolTimeoutMs);
      pool.waiting.push(handOver);
    });
  }

  private release(pool: Pool): void {
    const next = pool.waiting.shift();
    // The connection passes to the next waiter, so the count of queries holding one stays the same.
    if (next) next();
    else pool.inFlight--;
  }

  /** Round-trip time to the primary in ms; rejects when it does not answer. */
  public async pingPrimary(): Promise<number> {
    const started = Date.now();
    await withTimeout(this.primary.sql`select 1`, this.config.connectTimeoutMs + 500);
    return Date.now() - started;
  }

  public replicaStates(): ReplicaState[] {
    return this.replicaPools.map(r => ({ ...r.state }));
  }

  public poolStats(): PoolStats[] {
    return [this.primary, ...this.replicaPools].map(p => ({
      pool: p.name, max: p.max, busy: p.inFlight, waiting: p.waiting.length,
    }));
  }

  /** Stops the checks and closes every pool, letting running queries finish (at most `timeoutS`). */
  public async close(timeoutS = 5): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.primary, ...this.replicaPools].map(p => p.sql.end({ timeout: timeoutS })));
  }

  /** The primary's client, for the migrations and the repository's writes. */
  public get primarySql(): Sql {
    return this.primary.sql;
  }
}

/** Rejects when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}
