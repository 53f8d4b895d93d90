import { existsSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { PgReplicaSet } from '../lib';
import { renderPgHba } from '../lib/postgres/postgres-conf';
import {
  PG_BIN, pgEnv, PgServer, ReplicatedPostgres, startReplicatedPostgres, startSingleServer, TEST_APP, TEST_MONITOR, TEST_REPLICATION,
} from './support/postgres';
import { freePort, ProcessGroup, run, waitFor } from './support/processes';

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

test('the exporter logs in over loopback as the monitoring role with the chart\'s own pg_hba.conf, and the app and replication roles do not', async () => {
  // GIVEN a server with the pg_hba.conf of a synthesized PgReplicaSet, unchanged (its pod networks admit no loopback client)
  const hba = new PgReplicaSet(Testing.chart(), 'db', { engine: 'statefulset' }).hbaConf!;
  const server = await startSingleServer(group, hba);
  // WHEN the exporter connects the way the sidecar's DATA_SOURCE_URI says, as the role the chart gives it
  const metricsPort = await freePort();
  const exporter = group.spawn('prometheus-postgres-exporter', [`--web.listen-address=127.0.0.1:${metricsPort}`], {
    env: {
      ...process.env, DATA_SOURCE_URI: `127.0.0.1:${server.port}/postgres?sslmode=disable`,
      DATA_SOURCE_USER: TEST_MONITOR.MONITOR_USER, DATA_SOURCE_PASS: TEST_MONITOR.MONITOR_PASSWORD,
    },
  });
  // THEN it reports the server up
  const metrics = () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(r => r.text()).catch(() => '');
  await waitFor('pg_up 1', async () => /^pg_up 1$/m.test(await metrics()), 15_000, 500).catch(error => {
    throw new Error(`${(error as Error).message}\n${exporter.output()}`);
  });
  // AND the replication and application roles, which lack pg_monitor, are refused on the same loopback address
  for (const [user, password] of [[TEST_REPLICATION.REPLICATION_USER, TEST_REPLICATION.REPLICATION_PASSWORD], [TEST_APP.APP_USER, TEST_APP.APP_PASSWORD]]) {
    await expect(run(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(server.port), '-U', user, '-d', 'postgres', '-c', 'select 1'],
      { env: pgEnv({ PGPASSWORD: password }) })).rejects.toThrow(new RegExp(`no pg_hba.conf entry for host "127.0.0.1", user "${user}"`));
  }
  // AND only the monitoring role is a pg_monitor member; it may read the statistics but no table of the application
  expect(await server.sql('select string_agg(m.rolname, \',\' order by m.rolname) from pg_auth_members a join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member where r.rolname = \'pg_monitor\''))
    .toBe('monitor');
  await server.sql('create table secrets (x text)', 'app');
  expect(await server.sql('select has_table_privilege(\'monitor\', \'secrets\', \'select\'), has_table_privilege(\'monitor\', \'pg_catalog.pg_stat_replication\', \'select\')', 'app')).toBe('f|t');
});

test('the superuser is refused over TCP even from a client network, where the application role logs in', async () => {
  // GIVEN a server whose pg_hba.conf admits clients from loopback
  const server = await startSingleServer(group, renderPgHba({ replicationUser: 'replicator', replicationNetworks: [], clientNetworks: ['127.0.0.1/32'] }));
  await server.sql('alter role postgres password \'test-only-superuser\'');
  const psqlAs = (user: string, password: string) => run(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(server.port), '-U', user, '-d', 'postgres', '-tAc', 'select 1'],
    { env: pgEnv({ PGPASSWORD: password }) });
  // THEN the application role logs in and the superuser, with its right password, is rejected
  expect((await psqlAs(TEST_APP.APP_USER, TEST_APP.APP_PASSWORD)).trim()).toBe('1');
  await expect(psqlAs('postgres', 'test-only-superuser')).rejects.toThrow(/pg_hba.conf rejects connection for host "127.0.0.1", user "postgres"/);
});

test('a replica down past max_slot_wal_keep_size: its slot is invalidated, the primary\'s WAL stays bounded and vacuum is free again', async () => {
  // GIVEN a primary whose slot may hold 64 MB, with one streaming replica that reports its snapshot (hot_standby_feedback)
  const small = await startReplicatedPostgres(group, 1, {
    walKeepSize: '16MB', maxSlotWalKeepSize: '64MB', parameters: { fsync: 'off', max_wal_size: '96MB', min_wal_size: '32MB' },
  });
  const slot = () => small.primary.sql('select coalesce(wal_status, \'-\'), xmin is not null from pg_replication_slots');
  await waitFor('the replica to hold back vacuum through its slot', async () => (await slot()) === 'reserved|t', 30_000, 200);
  // WHEN the replica is down while 300 MB of WAL is written (to a table autovacuum leaves alone: its
  // analyze would hold the lock and the snapshot the vacuum below needs)
  await small.replicas[0].stop('fast');
  await small.primary.sql('create table filler (x text) with (autovacuum_enabled = false); insert into filler select repeat(\'x\', 1000) from generate_series(1, 300000)', 'app');
  await small.primary.sql('checkpoint');
  // THEN the slot is lost and pg_wal is bounded by the slot's share and max_wal_size
  expect(await slot()).toMatch(/^lost\|/);
  const walBytes = Number(await small.primary.sql('select sum(size) from pg_ls_waldir()'));
  expect(walBytes).toBeLessThan(200 * 2 ** 20);
  // AND vacuum is no longer held back by the dead replica's snapshot: every deleted row goes, the table is truncated
  await small.primary.sql('delete from filler where true', 'app');
  // A snapshot some other backend holds for a moment (autovacuum analyzing another table) also keeps
  // the rows: vacuum again until none is left; a slot still holding them back would keep them for good.
  // (The lost slot still shows its xmin; PostgreSQL no longer counts it.)
  const truncated = await waitFor('vacuum to remove every deleted row and truncate the table', async () => {
    await small.primary.sql('vacuum filler', 'app');
    return await small.primary.sql('select pg_relation_size(\'filler\')', 'app') === '0';
  }, 10_000, 500).catch(() => false);
  const holders = truncated ? '' : await small.primary.sql(
    'select string_agg(format(\'%s %s xmin %s\', backend_type, coalesce(query, \'\'), backend_xmin), \'; \') from pg_stat_activity where backend_xmin is not null and pid <> pg_backend_pid() '
    + 'union all select string_agg(format(\'slot %s xmin %s catalog_xmin %s\', slot_name, xmin, catalog_xmin), \'; \') from pg_replication_slots', 'app');
  expect({ truncated, holders }).toEqual({ truncated: true, holders: '' });
});
