import { Sql } from 'postgres';
import { logger } from '../logger';

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
];

// Any fixed number: every instance takes the same advisory lock.
const MIGRATION_LOCK = 7_263_301;

/**
 * Applies the migrations not applied yet. Instances starting at once serialize on an advisory
 * lock held for the transaction, so each migration runs exactly once.
 */
export async function migrate(sql: Sql): Promise<number[]> {
  return sql.begin(async tx => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
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
