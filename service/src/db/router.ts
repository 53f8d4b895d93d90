import postgres, { Sql } from 'postgres';
import { Deadlines } from '../deadlines';
import { logger } from '../logger';
import { DatabaseConfig, READ_DEADLINE_SLACK_MS, sessionSettings, validateDatabaseConfig } from './config';
import { DatabaseUnavailableError, isConnectionError, toDomainError, TokenAheadError } from './errors';
import { lsnToBigInt } from './lsn';
import { planRead, ReadReason, ReadTarget } from './read-policy';
import { ReplicaHealth, ReplicaState } from './replica-health';
import { Semaphore } from './semaphore';

export type { ReplicaState } from './replica-health';

/** What a routed statement does: a read-only query, or a write transaction. */
export type QueryOperation = 'read' | 'write';

/** Hooks the metrics module listens on. */
export interface RouterObserver {
  onRead?(target: ReadTarget, reason: ReadReason, replica?: string): void;
  onWrite?(): void;
  /** A routed statement ended (answered or failed) after `seconds` on its connection, its wait for a pool slot not counted. */
  onQuery?(operation: QueryOperation, target: ReadTarget, seconds: number): void;
  onReplicaStateChange?(replica: string, healthy: boolean, why: string): void;
}

export interface PoolStats {
  readonly pool: string;
  /** Connections. */
  readonly max: number;
  /** Queries in flight: up to max x PG_POOL_PIPELINE. */
  readonly busy: number;
  readonly waiting: number;
}

interface Pool {
  readonly name: string;
  /** The pool's client now: {@link QueryRouter.renew} replaces it after a connection error. */
  sql: Sql;
  /** Makes a new client of the pool. */
  readonly open: () => Sql;
  /** Bounds the queries in flight on the pool, and how long one waits for a connection. */
  readonly slots: Semaphore;
  /**
   * One transaction per connection: a transaction holds its connection to itself (no query is
   * pipelined into it), so past `connections` it would wait inside postgres.js, unbounded by the
   * pool timeout and counted against the statement deadline.
   */
  readonly transactions: Semaphore;
  readonly connections: number;
}

/**
 * Sends writes and transactions to the primary and reads where {@link planRead} says. Replicas are
 * checked in the background ({@link ReplicaHealth} judges them); every query, the checks' and the
 * live token checks' included, holds one of its pool's slots ({@link Semaphore}). Errors leave it
 * as domain errors ({@link toDomainError}).
 */
export class QueryRouter {
  public readonly config: DatabaseConfig;
  private readonly primary: Pool;
  private readonly replicas: Pool[];
  private readonly health: ReplicaHealth;
  private turn = 0;
  /** The newest primary LSN this process has seen (its writes, the samples, the token checks). */
  private primaryLsn = 0n;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  /** The deadline of every routed read and write. */
  private readonly deadlines: Deadlines;

  constructor(config: DatabaseConfig, private readonly observer: RouterObserver = {}) {
    this.config = validateDatabaseConfig(config);
    this.primary = this.pool('primary', {}, config.primaryPoolMax);
    this.replicas = config.replicas.map(hostPort => {
      const [host, port] = hostPort.split(':');
      return this.pool(hostPort, { host, port: Number(port) }, config.replicaPoolMax);
    });
    this.health = new ReplicaHealth(config.replicas, config.maxLagMs, (name, healthy, why) => observer.onReplicaStateChange?.(name, healthy, why));
    // statement_timeout is enforced by the server: one that stops answering (frozen, partitioned)
    // never sends the cancellation, so the client keeps its own deadline a little beyond it.
    this.deadlines = new Deadlines(this.config.statementTimeoutMs + READ_DEADLINE_SLACK_MS);
  }

  private pool(name: string, override: { host?: string; port?: number }, max: number): Pool {
    const pipeline = this.config.poolPipeline ?? 1;
    const open = () => postgres(this.config.primaryUrl, {
      ...override,
      max,
      // No connection carries more queries than the pool's slots allow it: a slow query delays at
      // most pipeline - 1 others, each refused after the pool timeout (Semaphore).
      ...maxPipeline(pipeline),
      // Verified TLS: the server's certificate must chain to the CA and name the host connected to.
      ...(this.config.tlsCa ? { ssl: { ca: this.config.tlsCa, rejectUnauthorized: true } } : {}),
      // Without these a replica that stops answering at network level stalls every request sent to it.
      connect_timeout: this.config.connectTimeoutMs / 1000,
      idle_timeout: 60,
      max_lifetime: 30 * 60,
      // Behind PgBouncer the session settings are the role's defaults (roleDefaults), and in transaction
      // pooling a statement prepared by name on one server connection is missing on the next.
      connection: { ...(this.config.poolMode ? {} : sessionSettings(this.config)), application_name: `hscale-service/${name}` },
      prepare: this.config.poolMode !== 'transaction',
      onnotice: () => undefined,
      // postgres.js runs its array-types query on each new connection and drops its promise: a
      // server dying during it (connect ECONNREFUSED on the reconnect) was an unhandled rejection
      // that ended the process. The service sends and reads no array values.
      fetch_types: false,
      // Query text, duration and row count are logged by `timed`; parameters never are.
      debug: false,
    });
    const slots = new Semaphore(name, max * pipeline, this.config.poolTimeoutMs, pipeline);
    const transactions = new Semaphore(`${name} transactions`, max, this.config.poolTimeoutMs);
    return { name, sql: open(), open, slots, transactions, connections: max };
  }

  /**
   * Replaces the client of `pool` after a connection error on `failed`. postgres.js 3.4 can keep
   * a connection whose socket died with a write still scheduled (porsager/postgres#1208): used
   * again, its queries are never sent and hang, or it throws outside any promise and ends the
   * process (seen in a primary failover). A new client holds no such connection; the old one is
   * ended once its running queries finish.
   */
  private renew(pool: Pool, failed: Sql, why = 'after a connection error'): void {
    if (pool.sql !== failed) return;
    pool.sql = pool.open();
    logger.warn({ pool: pool.name }, `database client replaced ${why}`);
    void failed.end({ timeout: 5 }).catch(() => undefined);
  }

  /**
   * Starts the background replica checks (and runs one now). Call it after the migrations: a
   * replica takes reads only once it has replayed what the primary holds now, the schema this
   * code expects included (lag alone would admit one that is a moment behind a migration).
   */
  public async start(): Promise<void> {
    this.health.setFloor(await this.currentPrimaryLsn(false));
    await this.checkReplicas();
    this.timer = setInterval(() => void this.checkReplicas(), this.config.healthIntervalMs);
    this.timer.unref();
  }

  /** Runs `fn` in a transaction on the primary; resolves with its result and the commit LSN as token. */
  public async write<T>(fn: (sql: postgres.TransactionSql) => Promise<T>): Promise<{ result: T; token: string }> {
    try {
      // Bounded like reads: a primary that stops answering gets a 503 in time, not a request held open.
      const result = await this.primary.transactions.run(() => this.measured('write', 'primary', this.primary, sql => this.bounded(sql.begin(fn) as Promise<T>)));
      // Read after COMMIT: inside the writing transaction the LSN would be older than the commit record.
      const lsn = await this.currentPrimaryLsn();
      this.observer.onWrite?.();
      return { result, token: lsnText(lsn) };
    } catch (error) {
      throw toDomainError(error);
    }
  }

  /**
   * Runs a read-only query on a healthy replica that has replayed `token` (when given), else on
   * the primary. A replica failing with a connection error is marked down and the query is
   * retried once elsewhere. A token beyond the primary's LSN is refused ({@link TokenAheadError}).
   */
  public async read<T>(fn: (sql: Sql) => Promise<T>, token?: string): Promise<T> {
    try {
      if (token === undefined) return await this.routeRead(fn);
      return await this.routeTokenRead(fn, token, !await this.tokenConfirmed(token));
    } catch (error) {
      throw toDomainError(error);
    }
  }

  private get deadlineMs(): number {
    return this.deadlines.timeoutMs;
  }

  /** `query`, rejected with a connection timeout (ETIMEDOUT) past the statement deadline. */
  private bounded<T>(query: Promise<T>): Promise<T> {
    return this.deadlines.within(query, () => Object.assign(new Error(`no answer within ${this.deadlineMs} ms`), { code: 'ETIMEDOUT' }));
  }

  /** A read without a token: on a healthy replica, else the primary. */
  private async routeRead<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const bounded = (sql: Sql) => this.bounded(fn(sql));
    const first = this.pickReplica();
    if (!first.replica) {
      this.observer.onRead?.('primary', first.reason);
      return this.measured('read', 'primary', this.primary, bounded);
    }
    try {
      const result = await this.measured('read', 'replica', first.replica, bounded);
      this.observer.onRead?.('replica', 'replica', first.replica.name);
      return result;
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      this.health.down(first.replica.name, error);
      const retry = this.pickReplica();
      this.observer.onRead?.(retry.replica ? 'replica' : 'primary', 'replica-failed', retry.replica?.name);
      return this.measured('read', retry.replica ? 'replica' : 'primary', retry.replica ?? this.primary, bounded);
    }
  }

  /**
   * A read with a token: on the first candidate replica that, in the read's own transaction, has
   * replayed it; else the primary (none when `unconfirmed`: the primary could not confirm the
   * token). Check and read share one server connection even when a replica address is balanced
   * over several servers (CloudNativePG's -ro Service) or reached through PgBouncer's transaction
   * pooling, where only a transaction pins a server connection.
   */
  private async routeTokenRead<T>(fn: (sql: Sql) => Promise<T>, token: string, unconfirmed: boolean): Promise<T> {
    let plan = planRead(this.config.readPolicy, this.health.view(), this.turn++, token);
    if (plan.target === 'replica' && !this.config.replicasBalanced) {
      const known = await this.readKnownReplica(fn, plan.replica);
      if (known.answered) return known.result;
      plan = planRead(this.config.readPolicy, this.health.view(), this.turn++, token);
    }
    let reason: ReadReason = plan.target === 'primary' ? plan.reason : 'token-not-reached';
    for (const name of plan.target === 'primary' ? [] : plan.target === 'replica' ? [plan.replica] : plan.candidates) {
      const replica = this.replicaNamed(name);
      try {
        const answer = await replica.transactions.run(() => this.measured('read', 'replica', replica, sql => this.bounded(this.readIfReplayed(replica, sql, fn, lsnToBigInt(token)))));
        if (answer.replayed) {
          this.observer.onRead?.('replica', 'replica', name);
          return answer.result;
        }
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        this.health.down(name, error);
        reason = 'replica-failed';
      }
    }
    this.observer.onRead?.('primary', reason);
    return this.measured('read', 'primary', this.primaryFor(unconfirmed), sql => this.bounded(fn(sql)));
  }

  /**
   * `fn` on a replica whose checks saw it replay the read's token: with one server per address
   * (not {@link DatabaseConfig.replicasBalanced}) that stays true of it, so no check runs. Not
   * answered when it failed with a connection error: it is then marked down.
   */
  private async readKnownReplica<T>(fn: (sql: Sql) => Promise<T>, name: string): Promise<{ answered: true; result: T } | { answered: false }> {
    try {
      const result = await this.measured('read', 'replica', this.replicaNamed(name), sql => this.bounded(fn(sql)));
      this.observer.onRead?.('replica', 'replica', name);
      return { answered: true, result };
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      this.health.down(name, error);
      return { answered: false };
    }
  }

  /**
   * `fn` in one read-only transaction with the check that the server has replayed `wanted`; its
   * result only when it has. The two are sent together (one round trip): a read-only statement
   * whose answer is dropped costs less than waiting for the check, and on a standby a later
   * statement's snapshot holds everything replayed before it. So the check must run first:
   * `execute()` queues it now. postgres.js queues a query when something first awaits it, and
   * `withTimeout`'s race does so a microtask late, after `fn`'s query: the read ran first, and a
   * replay landing between the two made a snapshot without the write pass the check.
   */
  private async readIfReplayed<T>(replica: Pool, sql: Sql, fn: (sql: Sql) => Promise<T>, wanted: bigint): Promise<{ replayed: true; result: T } | { replayed: false }> {
    return await sql.begin('read only', async tx => {
      const check = withTimeout(tx<Array<{ lsn: string | null }>>`${tx.unsafe(REPLAY_LSN)}`.execute(), this.config.connectTimeoutMs + 500);
      // A TransactionSql runs the same tagged queries as an Sql; postgres.js types it apart for begin/end alone.
      const read = fn(tx as unknown as Sql);
      read.catch(() => undefined);
      const [{ lsn }] = await check;
      if (lsn) this.health.noteReplay(replica.name, lsn);
      if (!lsn || lsnToBigInt(lsn) < wanted) return { replayed: false as const };
      return { replayed: true as const, result: await read };
    }) as { replayed: true; result: T } | { replayed: false };
  }

  /**
   * The primary's pool for a read; none when the primary could not confirm the read's token: the
   * address may reach a member still being promoted, whose data may predate the token.
   */
  private primaryFor(unconfirmed: boolean): Pool {
    if (unconfirmed) throw new DatabaseUnavailableError('the primary cannot confirm the consistency token now, and no replica has replayed it');
    return this.primary;
  }

  /**
   * Whether the primary has reached `token` (past the newest LSN known, it is asked once); false when
   * it cannot say now (down, or still in recovery while promoted). Refuses a token no write of this
   * primary gave.
   */
  private async tokenConfirmed(token: string): Promise<boolean> {
    const wanted = lsnToBigInt(token);
    if (wanted <= this.primaryLsn) return true;
    let current: bigint;
    try {
      current = await this.currentPrimaryLsn();
    } catch (error) {
      if (toDomainError(error) instanceof DatabaseUnavailableError) return false;
      throw error;
    }
    if (wanted <= current) return true;
    throw new TokenAheadError(`the consistency token ${token} is beyond the primary's position ${lsnText(this.primaryLsn)}`);
  }

  private pickReplica(): { replica?: Pool; reason: ReadReason } {
    const plan = planRead(this.config.readPolicy, this.health.view(), this.turn++);
    if (plan.target === 'replica') return { replica: this.replicaNamed(plan.replica), reason: 'replica' };
    // Only a read with a token is planned as a check.
    return { reason: plan.target === 'primary' ? plan.reason : 'token-not-reached' };
  }

  private replicaNamed(name: string): Pool {
    return this.replicas.find(r => r.name === name)!;
  }

  /**
   * The replica's replay LSN now, within the connect deadline, for the background check: one per
   * replica and interval, outside the pool's slots, so a busy replica is not judged down for want
   * of a free slot. Behind a balanced address it is the replay of whichever server answers.
   */
  private async replayLsn(replica: Pool): Promise<string | null> {
    const [row] = await this.unslotted(replica, sql => withTimeout(sql<Array<{ lsn: string | null }>>`${sql.unsafe(REPLAY_LSN)}`, this.config.connectTimeoutMs + 500));
    return row.lsn;
  }

  /** The primary's current LSN (through the pool's slots unless `throughSlots` is false); remembered as the newest known. */
  private async currentPrimaryLsn(throughSlots = true): Promise<bigint> {
    const ask = (sql: Sql) => this.bounded(sql<Array<{ lsn: string }>>`select pg_current_wal_lsn()::text as lsn`);
    const [{ lsn }] = throughSlots ? await this.timed(this.primary, ask) : await this.unslotted(this.primary, ask);
    const value = lsnToBigInt(lsn);
    if (value > this.primaryLsn) this.primaryLsn = value;
    return value;
  }

  /** One round of replica checks; rounds never overlap. */
  public checkReplicas(): Promise<void> {
    this.checking ??= this.runChecks().finally(() => { this.checking = undefined; });
    return this.checking;
  }

  private async runChecks(): Promise<void> {
    if (this.replicas.length === 0) return;
    const now = Date.now();
    try {
      this.health.recordPrimary(await this.currentPrimaryLsn(false), now);
    } catch (error) {
      logger.warn({ err: error }, 'primary LSN sample failed');
      this.health.primaryUnanswered();
    }
    await Promise.all(this.replicas.map(async replica => {
      try {
        const sql = replica.sql;
        const lsn = await this.replayLsn(replica);
        const wasLeading = this.health.state(replica.name).leading;
        this.health.replayed(replica.name, lsn, now);
        // Its connections would stay open beside the primary pool's on the same server until they idle out.
        if (lsn === null && !wasLeading) this.renew(replica, sql, 'as its server leads: the replica pool is closed');
      } catch (error) {
        this.health.down(replica.name, error);
      }
    }));
  }

  /** Runs `fn` on the pool's client holding one of its slots. */
  private timed<T>(pool: Pool, fn: (sql: Sql) => Promise<T>): Promise<T> {
    return pool.slots.run(() => this.unslotted(pool, fn));
  }

  /** {@link timed}, reporting the statement's duration on the connection to the observer as `operation` on `target`. */
  private measured<T>(operation: QueryOperation, target: ReadTarget, pool: Pool, fn: (sql: Sql) => Promise<T>): Promise<T> {
    return pool.slots.run(async () => {
      const started = process.hrtime.bigint();
      try {
        return await this.unslotted(pool, fn);
      } finally {
        this.observer.onQuery?.(operation, target, Number(process.hrtime.bigint() - started) / 1e9);
      }
    });
  }

  /** Runs `fn` on the pool's client, logging its duration and row count; a connection error renews the client. */
  private async unslotted<T>(pool: Pool, fn: (sql: Sql) => Promise<T>): Promise<T> {
    const started = Date.now();
    const sql = pool.sql;
    try {
      const result = await fn(sql);
      if (logger.isLevelEnabled('debug')) logger.debug({ pool: pool.name, ms: Date.now() - started, rows: Array.isArray(result) ? result.length : undefined }, 'query');
      return result;
    } catch (error) {
      if (isConnectionError(error)) this.renew(pool, sql);
      throw error;
    }
  }

  /** Round-trip time to the primary in ms; rejects when it does not answer. */
  public async pingPrimary(): Promise<number> {
    const started = Date.now();
    await withTimeout(this.primary.sql`select 1`, this.config.connectTimeoutMs + 500);
    return Date.now() - started;
  }

  public replicaStates(): ReplicaState[] {
    return this.health.states();
  }

  public poolStats(): PoolStats[] {
    return [this.primary, ...this.replicas].map(p => ({ pool: p.name, max: p.connections, busy: p.slots.busy, waiting: p.slots.queued }));
  }

  /** Stops the checks and closes every pool, letting running queries finish (at most `timeoutS`). */
  public async close(timeoutS = 5): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.primary, ...this.replicas].map(p => p.sql.end({ timeout: timeoutS })));
  }

  /** The primary's client, for the migrations. */
  public get primarySql(): Sql {
    return this.primary.sql;
  }
}

/** A replica's replay LSN; null on a server not in recovery (a promoted one keeps answering pg_last_wal_replay_lsn() with where its recovery ended). */
const REPLAY_LSN = 'select case when pg_is_in_recovery() then pg_last_wal_replay_lsn()::text end as lsn';

/** postgres.js's `max_pipeline` option (queries sent ahead on one connection; 100 by default), which its types lack. */
function maxPipeline(queries: number): object {
  return { max_pipeline: queries };
}

/** An LSN as PostgreSQL writes it ('16/B374D848'). */
function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
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
