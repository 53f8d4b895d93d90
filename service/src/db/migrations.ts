import { Sql, TransactionSql } from 'postgres';
import { logger } from '../logger';
import { DEFAULT_DATABASE_CONFIG } from './config';
import { isConnectionError } from './errors';

/** Versioned migrations, applied in order, each once. */
export const MIGRATIONS: Array<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'create items',
    sql: `
      create table items (
        id uuid primary key default gen_random_uuid(),
        name text not null,
        payload jsonb not null default '{}'::jsonb,
        version integer not null default 1,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create index items_keyset on items (created_at, id);`,
  },
  {
    version: 2,
    name: 'job keys and daily item counts',
    // job_key: the queue job that created the item, unique, so a job run twice inserts once.
    sql: `
      alter table items add column job_key text unique;
      create table item_daily_counts (
        day date primary key,
        items bigint not null,
        computed_at timestamptz not null default now()
      );`,
  },
  {
    version: 3,
    name: 'request hash of idempotent creates',
    // The sha256 of the body that first used a key: a repeat with another body is refused (422).
    sql: 'alter table items add column request_hash text;',
  },
];

// Any fixed number: every instance takes the same advisory lock.
export const MIGRATION_LOCK = 7_263_301;

const FIRST_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5_000;

/**
 * Applies the migrations not applied yet, retrying with a growing delay while the primary cannot
 * be reached, for at most `retryForMs` (PG_STARTUP_RETRY_MS), so a primary that comes up after
 * the instance (a new cluster, a failover, a loaded node) is waited for instead of ending the
 * process; any other error, or the last connection error, is thrown. `defaults` ({@link roleDefaults}
 * of the config) become the role's settings in the database.
 */
export async function migrate(sql: Sql, retryForMs = DEFAULT_DATABASE_CONFIG.startupRetryMs, defaults: Record<string, string> = {}): Promise<number[]> {
  const deadline = Date.now() + retryForMs;
  for (let delay = FIRST_RETRY_DELAY_MS; ; delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS)) {
    try {
      return await applyPending(sql, defaults);
    } catch (error) {
      if (!isConnectionError(error) || Date.now() + delay > deadline) throw error;
      logger.warn({ err: error, retryInMs: delay }, 'primary not reachable yet; migrations retried');
      await new Promise(resolve => setTimeout(resolve, delay));
    }
  }
}

/**
 * Instances starting at once serialize on an advisory lock held for the transaction (which a
 * transaction-pooling PgBouncer keeps on one server connection), so each migration runs exactly once.
 */
async function applyPending(sql: Sql, defaults: Record<string, string>): Promise<number[]> {
  return sql.begin(async tx => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await setRoleDefaults(tx, defaults);
    await tx`create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<Array<{ version: number }>>`select version from schema_migrations`).map(r => r.version));
    const applied: number[] = [];
    for (const migration of MIGRATIONS.filter(m => !done.has(m.version))) {
      await tx.unsafe(migration.sql);
      await tx`insert into schema_migrations (version, name) values (${migration.version}, ${migration.name})`;
      applied.push(migration.version);
      logger.info({ version: migration.version, name: migration.name }, 'migration applied');
    }
    return applied;
  });
}

/**
 * Makes `defaults` the settings of every new session of the current role in the current
 * database (ALTER ROLE ... IN DATABASE: a role may set its own), under the migrations' lock
 * (two at once fail with "tuple concurrently updated"), and of this session: a pooler's server
 * connection opened before keeps its settings until it is closed (PgBouncer's server_lifetime).
 */
async function setRoleDefaults(tx: TransactionSql, defaults: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(defaults)) {
    await tx`select set_config(${name}, ${value}, false)`;
    await tx.unsafe(`do $$ begin execute format('alter role current_user in database %I set %I = %L', current_database(), ${literal(name)}, ${literal(value)}); end $$`);
    logger.info({ setting: name, value }, 'role default set');
  }
}

/** `text` as an SQL string literal (DO takes no parameters). */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
