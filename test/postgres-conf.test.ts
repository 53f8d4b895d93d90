import { existsSync, writeFileSync } from 'fs';
import { join } from 'path';
import { PgServer, ReplicatedPostgres, startReplicatedPostgres } from './support/postgres';
import { ProcessGroup, waitFor } from './support/processes';

jest.setTimeout(120_000);

const group = new ProcessGroup();
afterAll(() => group.cleanup());

let cluster: ReplicatedPostgres;
let primary: PgServer;
let replicas: PgServer[];

beforeAll(async () => {
  const started = Date.now();
  cluster = await startReplicatedPostgres(group, 2);
  console.warn(`primary initialized and two replicas bootstrapped with pg_basebackup in ${Date.now() - started} ms`);
  primary = cluster.primary;
  replicas = cluster.replicas;
});

const streaming = async () => (await primary.sql(
  'select application_name, state, sync_state from pg_stat_replication order by application_name')).split('\n').filter(Boolean);

test('the init script creates the replication and application roles, and both replicas stream from their slots', async () => {
  expect(await primary.sql('select rolreplication from pg_roles where rolname = \'replicator\'')).toBe('t');
  expect(await primary.sql('select pg_get_userbyid(datdba) from pg_database where datname = \'app\'')).toBe('app');
  expect(await primary.sql('select extname from pg_extension where extname = \'pg_stat_statements\'', 'app')).toBe('pg_stat_statements');
  await waitFor('both replicas to stream', async () => (await streaming()).length === 2);
  expect(await streaming()).toEqual(cluster.slots.map(slot => `${slot}|streaming|async`));
  expect(await primary.sql('select slot_name, active from pg_replication_slots order by slot_name')).toBe(cluster.slots.map(s => `${s}|t`).join('\n'));
  for (const replica of replicas) expect(await replica.sql('select pg_is_in_recovery()')).toBe('t');
});

test('rows written on the primary appear on both replicas', async () => {
  await primary.sql('create table items (id int primary key, name text); insert into items select g, \'item \' || g from generate_series(1, 100) g', 'app');
  for (const replica of replicas) {
    await waitFor('the rows on the replica', async () => (await replica.sql('select count(*) from items', 'app').catch(() => '')) === '100');
  }
});

test('a restarted replica resumes from its slot without a new base backup', async () => {
  // GIVEN a marker file in the replica's data directory, which a new base backup would not carry over
  const marker = join(replicas[0].dataDir, 'hscale-marker');
  writeFileSync(marker, 'kept');
  // WHEN it restarts through the same script
  await replicas[0].stop('fast');
  await primary.sql('insert into items values (1001, \'written while the replica was down\')', 'app');
  const output = await cluster.restartReplica(0);
  replicas = cluster.replicas;
  // THEN it kept its data directory and catches up through its slot
  expect(output).toContain('exists: resuming streaming from slot test_db_replica_0');
  expect(existsSync(marker)).toBe(true);
  await waitFor('the replica to catch up', async () => (await replicas[0].sql('select name from items where id = 1001', 'app')) === 'written while the replica was down');
  await waitFor('both replicas to stream', async () => (await streaming()).length === 2);
});

test('synchronous mode: both replicas are quorum standbys, and remote_apply makes a commit readable at once', async () => {
  // GIVEN the primary reloaded with the rendering for one synchronous replica and remote_apply
  cluster.rewritePrimaryConfig({ synchronousReplicas: 1, synchronousCommit: 'remote_apply' });
  await primary.sql('select pg_reload_conf()');
  await waitFor('the quorum standbys', async () => (await streaming()).every(row => row.endsWith('|quorum')));
  expect(await primary.sql('show synchronous_standby_names')).toBe(`ANY 1 (${cluster.slots.join(', ')})`);
  // WHEN rows are committed
  for (let id = 2000; id < 2020; id++) {
    await primary.sql(`insert into items values (${id}, 'sync')`, 'app');
    // THEN at least one replica (the one that confirmed) has applied it already
    const seen = await Promise.all(replicas.map(r => r.sql(`select count(*) from items where id = ${id}`, 'app')));
    expect(seen).toContain('1');
  }
});

test('the failover runbook: stop the primary, promote a replica, write to it', async () => {
  await primary.stop('immediate');
  expect(await replicas[1].sql('select pg_promote(wait => true)')).toBe('t');
  expect(await replicas[1].sql('select pg_is_in_recovery()')).toBe('f');
  // The promoted replica keeps the old primary's synchronous settings from the shared rendering: relax them
  // as the runbook says, or every commit waits for a standby that is gone.
  await replicas[1].sql('alter system set synchronous_standby_names = \'\'');
  await replicas[1].sql('select pg_reload_conf()');
  await replicas[1].sql('insert into items values (3000, \'after failover\')', 'app');
  expect(await replicas[1].sql('select name from items where id = 3000', 'app')).toBe('after failover');
});
