import { Testing } from 'cdk8s';
import postgres from 'postgres';
import request from 'supertest';
import { PgReplicaSet, ScaledApi } from '../lib';
import { createService, Service } from '../service/src/app';
import { databaseConfigFromEnv, roleDefaults, sessionSettings } from '../service/src/db/config';
import { migrate, MIGRATIONS } from '../service/src/db/migrations';
import { TEST_AUTH_ENV, testWriteToken } from './support/auth';
import { findObject } from './support/find';
import { Manifest } from './support/manifest-checks';
import { startPgbouncer } from './support/pgbouncer';
import { ReplicatedPostgres, startReplicatedPostgres, TEST_APP } from './support/postgres';
import { ProcessGroup, waitFor } from './support/processes';

// The reference service through real PgBouncers (Debian's) configured as the CloudNativePG operator
// configures the Poolers that PgReplicaSet renders with `pooler`, in front of a real primary and replica.
jest.setTimeout(120_000);

const STATEMENT_TIMEOUT_MS = 1000;

/** The Poolers of a pooled cloudnative-pg PgReplicaSet and the env it gives a linked ScaledApi. */
function synthPooled() {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'db', { engine: 'cloudnative-pg', replicas: 1, pooler: true });
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', database: db });
  const manifests = Testing.synth(chart);
  const pooler = (type: string) => manifests.find(m => m.kind === 'Pooler' && m.spec.type === type)!;
  const env = findObject(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0].env as Manifest[];
  return { rw: pooler('rw'), ro: pooler('ro'), poolMode: env.find(e => e.name === 'POSTGRES_POOL_MODE')?.value as string };
}

const group = new ProcessGroup();
const user = { name: TEST_APP.APP_USER, password: TEST_APP.APP_PASSWORD };
const urlOf = (port: number, database = TEST_APP.APP_DATABASE) => `postgres://${user.name}:${user.password}@127.0.0.1:${port}/${database}`;
let pg: ReplicatedPostgres;
let rwPort: number;
let env: NodeJS.ProcessEnv;
let service: Service;
let writeToken: string;

beforeAll(async () => {
  writeToken = await testWriteToken();
  const pooled = synthPooled();
  pg = await startReplicatedPostgres(group, 1);
  rwPort = (await startPgbouncer(group, pooled.rw, pg.primary.port, user)).port;
  const ro = await startPgbouncer(group, pooled.ro, pg.replicas[0].port, user);
  env = {
    DATABASE_URL: urlOf(rwPort), POSTGRES_READ_REPLICAS: `127.0.0.1:${ro.port}`, POSTGRES_POOL_MODE: pooled.poolMode,
    PG_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), PG_POOL_MAX: '2', PG_REPLICA_POOL_MAX: '2', REPLICA_CHECK_INTERVAL_MS: '200', ...TEST_AUTH_ENV,
  };
  // The role's settings exist before any server connection does: PgBouncer keeps a server
  // connection for server_lifetime, and one opened on the replica before it replayed the ALTER
  // ROLE (the service's first replica check raced it: a fresh-clone CI found statement_timeout 0)
  // keeps the session settings it started with. docs/service.md says what this means in a cluster.
  await applyRoleSettingsFirst(env);
  service = createService(env);
  await service.start();
  await waitFor('the replica healthy', async () => service.router.replicaStates().every(r => r.healthy));
});

/** Runs the migrations (and with them the role's settings) on the primary, and waits until the replica has replayed them. */
async function applyRoleSettingsFirst(serviceEnv: NodeJS.ProcessEnv): Promise<void> {
  const config = databaseConfigFromEnv(serviceEnv);
  const sql = postgres(urlOf(pg.primary.port), { max: 1, fetch_types: false, onnotice: () => undefined });
  try {
    await migrate(sql, 10_000, roleDefaults(config));
    const lsn = (await sql<Array<{ lsn: string }>>`select pg_current_wal_lsn()::text as lsn`)[0].lsn;
    await waitFor('the replica to replay the role\'s settings', async () =>
      await pg.replicas[0].sql(`select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`) === 't');
  } finally {
    await sql.end({ timeout: 1 });
  }
}

afterAll(async () => {
  await service?.close();
  await group.cleanup();
});

const writer = () => request.agent(service.app).set('Authorization', `Bearer ${writeToken}`);

test('the construct tells the service it is behind PgBouncer in the Poolers\' pool mode, transaction', () => {
  const { rw, ro, poolMode } = synthPooled();
  expect([rw.spec.pgbouncer.poolMode, ro.spec.pgbouncer.poolMode]).toEqual(['transaction', 'transaction']);
  expect(poolMode).toBe('transaction');
});

test('the Pooler\'s PgBouncer refuses the session settings as startup parameters, as the service sent them without POSTGRES_POOL_MODE', async () => {
  const sql = postgres(urlOf(rwPort), { max: 1, fetch_types: false, connection: sessionSettings(databaseConfigFromEnv(env)) });
  try {
    await expect(sql`select 1`).rejects.toThrow('unsupported startup parameter: statement_timeout');
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('writes, reads on the replica, and reads with the write\'s consistency token go through PgBouncer', async () => {
  // GIVEN the item table made by the migrations, through the read-write PgBouncer
  expect(Number(await pg.primary.sql('select count(*) from schema_migrations', 'app'))).toBe(MIGRATIONS.length);
  for (let i = 0; i < 20; i++) {
    // WHEN an item is written and read at once with the write's token
    const created = await writer().post('/api/v1/items').send({ name: `pooled ${i}` }).expect(201);
    const read = await request(service.app).get(`/api/v1/items/${created.body.id}`).set('X-Consistency-Token', created.get('X-Consistency-Token') as string);
    // THEN the read sees it
    expect([read.status, read.body.name]).toEqual([200, `pooled ${i}`]);
  }
  // AND a read without a token is served by the replica, through the read-only PgBouncer
  const inRecovery = await service.router.read(async sql => (await sql<Array<{ r: boolean }>>`select pg_is_in_recovery() as r`)[0].r);
  // Said in full when it fails: a run failed here once, uncaptured, and never again in ten runs, loaded or not.
  if (!inRecovery) throw new Error(`a read without a token was served by the primary; replica states: ${JSON.stringify(service.router.replicaStates())}`);
});

test('a burst of reads and writes, pipelined on two connections per pool, is answered in full', async () => {
  // postgres.js pipelines up to PG_POOL_PIPELINE queries per connection; with named prepared statements
  // some of such a burst were never answered or failed with CONNECTION_CLOSED (PgBouncer 1.18, transaction pooling).
  const reads = Array.from({ length: 100 }, (_, i) => service.router.read(sql => sql<Array<{ i: number }>>`select ${i}::int as i`));
  const writes = Array.from({ length: 20 }, (_, i) => service.router.write(sql => sql`select ${i}::int as i`));
  const answered = await Promise.all(reads);
  await Promise.all(writes);
  expect(answered.map(rows => rows[0].i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
});

test('behind PgBouncer the statement timeout is the role\'s default, and the server cancels a statement past it on the primary and the replica', async () => {
  const [{ statement_timeout: timeout }] = await service.router.read(sql => sql<Array<{ statement_timeout: string }>>`show statement_timeout`);
  expect(timeout).toBe('1s');
  await expect(service.router.write(sql => sql`select pg_sleep(3)`)).rejects.toThrow('canceling statement due to statement timeout');
  await expect(service.router.read(sql => sql`select pg_sleep(3)`)).rejects.toThrow('canceling statement due to statement timeout');
});

test('two instances migrating a new database through PgBouncer at once apply each migration once (the lock is transaction-scoped)', async () => {
  await pg.primary.sql('create database app_two owner app');
  const clients = [0, 1].map(() => postgres(urlOf(rwPort, 'app_two'), { max: 1, fetch_types: false, prepare: false }));
  try {
    const applied = await Promise.all(clients.map(sql => migrate(sql, 0, { statement_timeout: '2000' })));
    expect(applied.map(versions => versions.length).sort()).toEqual([0, MIGRATIONS.length]);
    expect(await pg.primary.sql('select version from schema_migrations order by version', 'app_two')).toBe(MIGRATIONS.map(m => m.version).join('\n'));
  } finally {
    await Promise.all(clients.map(sql => sql.end({ timeout: 1 })));
  }
});
