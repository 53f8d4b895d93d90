import postgres from 'postgres';
import request from 'supertest';
import { createService, Service } from '../service/src/app';
import { databaseConfigFromEnv, READ_DEADLINE_SLACK_MS } from '../service/src/db/config';
import { DatabaseUnavailableError, PoolTimeoutError } from '../service/src/db/errors';
import { migrate, MIGRATIONS } from '../service/src/db/migrations';
import { QueryRouter } from '../service/src/db/router';
import { TEST_AUTH_ENV, testWriteToken } from './support/auth';
import { ReplicatedPostgres, startReplicatedPostgres } from './support/postgres';
import { ProcessGroup, sleep, waitFor } from './support/processes';
import { startRoundRobinForwarder } from './support/round-robin';

// The query router against a real primary and two replicas, without a cache (hits would hide where reads go).
jest.setTimeout(120_000);

const HEALTH_INTERVAL_MS = 200;
const MAX_LAG_MS = 500;
const CONNECT_TIMEOUT_MS = 500;
const STATEMENT_TIMEOUT_MS = 2000;

const group = new ProcessGroup();
let pg: ReplicatedPostgres;
let service: Service;
let writeToken: string;

beforeAll(async () => {
  writeToken = await testWriteToken();
  pg = await startReplicatedPostgres(group, 2);
  service = createService({
    DATABASE_URL: pg.databaseUrl,
    POSTGRES_READ_REPLICAS: pg.replicaHosts,
    REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
    REPLICA_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS),
    PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    PG_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
    ...TEST_AUTH_ENV,
  });
  await service.start();
  await waitFor('both replicas healthy', async () => service.router.replicaStates().every(r => r.healthy));
});

afterAll(async () => {
  await service?.close();
  await group.cleanup();
});

const api = () => request(service.app);
/** A client that sends a write token with every request. */
const writer = () => request.agent(service.app).set('Authorization', `Bearer ${writeToken}`);
const replicaHealthy = (i: number) => service.router.replicaStates()[i].healthy;

/** How often a server ran the item lookup, as pg_stat_statements (preloaded by the rendered config) counts it at once. */
const itemLookups = async (server: { sql(q: string, d?: string): Promise<string> }) =>
  Number(await server.sql('select coalesce(sum(calls), 0) from pg_stat_statements where query like \'select id, name%from items where id =%\'', 'app'));

/** Reads retried elsewhere after their replica failed, as the service's metrics count them. */
async function readsRetried(): Promise<number> {
  const text = (await api().get('/metrics')).text;
  return text.split('\n').filter(line => line.startsWith('db_reads_total{') && line.includes('reason="replica-failed"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

async function replicatedItem(name: string): Promise<string> {
  const { body } = await writer().post('/api/v1/items').send({ name }).expect(201);
  await waitFor('the replicas to have the item', async () =>
    (await Promise.all(pg.replicas.map(r => r.sql(`select count(*) from items where id = '${body.id}'`, 'app').catch(() => '0')))).every(c => c === '1'));
  return body.id;
}

test('reads land on both replicas and none on the primary, as the servers themselves count them', async () => {
  // GIVEN an item on every server, and each server's count of item lookups
  const id = await replicatedItem('routed');
  const before = await Promise.all([pg.primary, ...pg.replicas].map(itemLookups));
  // WHEN it is read 40 times
  for (let i = 0; i < 40; i++) await api().get(`/api/v1/items/${id}`).expect(200);
  // THEN the replicas ran all 40 lookups, spread over both, and the primary none
  const [primary, ...replicas] = (await Promise.all([pg.primary, ...pg.replicas].map(itemLookups))).map((n, i) => n - before[i]);
  expect(primary).toBe(0);
  expect(replicas.reduce((a, b) => a + b)).toBe(40);
  for (const count of replicas) expect(count).toBeGreaterThanOrEqual(15);
  // AND the write ran on the primary
  expect(Number(await pg.primary.sql('select sum(calls) from pg_stat_statements where query like \'insert into items%\'', 'app'))).toBeGreaterThan(0);
});

test('a replica stopped under read load is ejected within a health interval, no read fails, and it is readmitted after restart', async () => {
  const id = await replicatedItem('load');
  const failures: number[] = [];
  let stoppedAt = 0;
  let ejectedAfterMs = -1;
  const load = (async () => {
    const deadline = Date.now() + 4000;
    for (let i = 0; i < 2000 && Date.now() < deadline; i++) {
      const res = await api().get(`/api/v1/items/${id}`);
      if (res.status !== 200) failures.push(res.status);
      if (stoppedAt && ejectedAfterMs < 0 && !replicaHealthy(0)) ejectedAfterMs = Date.now() - stoppedAt;
    }
  })();
  await sleep(500);
  stoppedAt = Date.now();
  await pg.replicas[0].stop('immediate');
  await load;
  expect(failures).toEqual([]);
  console.warn(`replica ejected ${ejectedAfterMs} ms after it stopped (health interval ${HEALTH_INTERVAL_MS} ms)`);
  expect(ejectedAfterMs).toBeGreaterThanOrEqual(0);
  // A read that hits the dead replica ejects it at once; otherwise the next check round does, which can be
  // waiting on the connect timeout of the round before.
  expect(ejectedAfterMs).toBeLessThanOrEqual(HEALTH_INTERVAL_MS + CONNECT_TIMEOUT_MS + 600);
  await pg.restartReplica(0);
  await waitFor('the replica to be readmitted', async () => replicaHealthy(0), 20_000);
});

test('a replica that freezes with connections open stalls no read past the client deadline, and is ejected', async () => {
  const id = await replicatedItem('frozen');
  const retriedBefore = await readsRetried();
  pg.replicas[0].freeze(true);
  try {
    // WHEN ten reads arrive at once: round robin sends about half to the frozen replica's open connections
    const answers = await Promise.all(Array.from({ length: 10 }, async () => {
      const started = Date.now();
      const res = await api().get(`/api/v1/items/${id}`);
      return { status: res.status, ms: Date.now() - started };
    }));
    // THEN each is answered, none later than the deadline past the statement timeout (which a frozen server never enforces) and a retry
    expect(answers.map(a => a.status)).toEqual(Array(10).fill(200));
    expect(Math.max(...answers.map(a => a.ms))).toBeLessThan(STATEMENT_TIMEOUT_MS + READ_DEADLINE_SLACK_MS + 1000);
    expect(await readsRetried() - retriedBefore).toBeGreaterThan(0);
    expect(replicaHealthy(0)).toBe(false);
  } finally {
    pg.replicas[0].freeze(false);
  }
  await waitFor('the replica to be readmitted', async () => replicaHealthy(0), 20_000);
});

test('a replica whose replay is paused is ejected for lag, and a read with the write\'s token sees the write every time', async () => {
  // GIVEN replay paused on replica 0 while writes move the primary on
  await pg.replicas[0].sql('select pg_wal_replay_pause()');
  try {
    await waitFor('replica 0 to be ejected for lag', async () => {
      await writer().post('/api/v1/items').send({ name: 'more wal' }).expect(201);
      const state = service.router.replicaStates()[0];
      return !state.healthy && (state.lagMs ?? 0) > MAX_LAG_MS;
    }, 10_000, 100);
    // WHEN a write is followed at once by a read carrying its token, 30 times
    for (let i = 0; i < 30; i++) {
      const created = await writer().post('/api/v1/items').send({ name: `ryw ${i}` }).expect(201);
      const read = await api().get(`/api/v1/items/${created.body.id}`).set('X-Consistency-Token', created.get('X-Consistency-Token') as string);
      // THEN it is found every time
      expect([read.status, read.body.name]).toEqual([200, `ryw ${i}`]);
    }
    const status = await api().get('/api/v1/scaling/replication/status').expect(200);
    expect(status.body.replicas.map((r: { healthy: boolean }) => r.healthy)).toEqual([false, true]);
  } finally {
    await pg.replicas[0].sql('select pg_wal_replay_resume()');
  }
  await waitFor('replica 0 to be readmitted', async () => replicaHealthy(0), 20_000);
});

test('behind one balanced address (two replicas, one with replay paused), a read with the write\'s token never sees data older than the write', async () => {
  // GIVEN both replicas behind one round-robin address, as kube-proxy balances CloudNativePG's -ro Service,
  // and a router whose one replica is that address (its lag bound high: the paused replica is not ejected)
  const forwarder = await startRoundRobinForwarder(pg.replicas.map(r => r.port));
  const reads = { replica: 0, primary: 0 };
  const router = new QueryRouter(databaseConfigFromEnv({
    DATABASE_URL: pg.databaseUrl, POSTGRES_READ_REPLICAS: `127.0.0.1:${forwarder.port}`, REPLICA_MAX_LAG_MS: '600000',
    REPLICA_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS), PG_REPLICA_POOL_MAX: '4', POSTGRES_READ_REPLICAS_BALANCED: 'true',
  }), { onRead: target => reads[target]++ });
  try {
    await router.start();
    await pg.replicas[1].sql('select pg_wal_replay_pause()');
    // WHEN items are written, and each is read eight times at once with its write's token
    for (let round = 0; round < 5; round++) {
      const { result: id, token } = await router.write(async sql => (await sql<Array<{ id: string }>>`insert into items (name) values ('balanced') returning id`)[0].id);
      const found = await Promise.all(Array.from({ length: 8 }, () => router.read(sql => sql`select id from items where id = ${id}`, token)));
      // THEN every read finds the item
      expect(found.map(rows => rows.length)).toEqual(Array(8).fill(1));
    }
    // AND the address reached both replicas, and the up-to-date one served reads (the paused one's went to the primary)
    expect(forwarder.connections.every(n => n > 0)).toBe(true);
    expect(reads.replica).toBeGreaterThan(0);
    console.warn(`balanced address: ${reads.replica} token reads on the replica address, ${reads.primary} on the primary; connections ${forwarder.connections}`);
  } finally {
    await pg.replicas[1].sql('select pg_wal_replay_resume()');
    await router.close();
    await forwarder.close();
  }
});

test('a read with a token runs after its check: replay reaching the token while the read runs does not pass a snapshot taken before it', async () => {
  // GIVEN a replica with replay paused (its lag bound high: it stays healthy), and a statement that, once
  // its snapshot is taken, resumes replay and waits (at most 1 s) until the replica has replayed `token`
  await pg.primary.sql(`create or replace function resume_replay_until(token pg_lsn) returns boolean language plpgsql security definer as $$
    begin
      if pg_is_in_recovery() then
        perform pg_wal_replay_resume();
        for attempt in 1..100 loop
          exit when pg_last_wal_replay_lsn() >= token;
          perform pg_sleep(0.01);
        end loop;
      end if;
      return true;
    end $$`, 'app');
  const replica = pg.replicas[0];
  const router = new QueryRouter(databaseConfigFromEnv({
    DATABASE_URL: pg.databaseUrl, POSTGRES_READ_REPLICAS: `127.0.0.1:${replica.port}`, REPLICA_MAX_LAG_MS: '600000',
    REPLICA_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS), PG_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
  }));
  try {
    await router.start();
    await waitFor('the replica to have the function', async () => await replica.sql('select count(*) from pg_proc where proname = \'resume_replay_until\'', 'app') === '1');
    await replica.sql('select pg_wal_replay_pause()');
    await waitFor('replay paused', async () => await replica.sql('select pg_get_wal_replay_pause_state()') === 'paused');
    // WHEN an item is written and read with the write's token by that statement
    const { result: id, token } = await router.write(async sql => (await sql<Array<{ id: string }>>`insert into items (name) values ('check first') returning id`)[0].id);
    const [row] = await router.read(sql => sql<Array<{ seen: number; resumed: boolean }>>`select (select count(*) from items where id = ${id})::int as seen, resume_replay_until(${token}::pg_lsn) as resumed`, token);
    // THEN it sees the item: the check ran first, found replay short of the token and sent the read to the primary.
    // (Run before the check, the read's snapshot lacked the item and the check, after the resume, passed it.)
    expect(row).toEqual({ seen: 1, resumed: true });
  } finally {
    await replica.sql('select pg_wal_replay_resume()');
    await router.close();
  }
});

test('while the primary\'s address reaches a member still in recovery (Patroni\'s new leader before its promotion ends): writes are unavailable, and a read whose token this instance never saw is served by a replica that replayed it, never by that member', async () => {
  // GIVEN a write this router never saw (another instance's), replayed by both replicas
  const id = await replicatedItem('written elsewhere');
  const token = await pg.primary.sql('select pg_current_wal_lsn()::text', 'app');
  // AND a router whose primary address reaches replica 0, as -rw does while it is being promoted
  const promoting = pg.databaseUrl.replace(/:\d+\//, `:${pg.replicas[0].port}/`);
  const router = new QueryRouter(databaseConfigFromEnv({ DATABASE_URL: promoting, POSTGRES_READ_REPLICAS: pg.replicaHosts, PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) }));
  try {
    await router.checkReplicas();
    // WHEN it writes, THEN the write is refused as unavailable (a 503), not failed as an unknown error (a 500)
    await expect(router.write(sql => sql`create temporary table promoting (x int)`)).rejects.toThrow(DatabaseUnavailableError);
    // WHEN it reads with the token, THEN a replica that has replayed it answers
    const rows = await router.read(sql => sql<Array<{ name: string }>>`select name from items where id = ${id}`, token);
    expect(rows.map(r => r.name)).toEqual(['written elsewhere']);
    // AND with a token no replica has replayed, the read is unavailable rather than served by the member in recovery
    await pg.replicas[1].sql('select pg_wal_replay_pause()');
    await pg.replicas[0].sql('select pg_wal_replay_pause()');
    try {
      await writer().post('/api/v1/items').send({ name: 'ahead of the replicas' }).expect(201);
      const ahead = await pg.primary.sql('select pg_current_wal_lsn()::text', 'app');
      await expect(router.read(sql => sql`select 1`, ahead)).rejects.toThrow(DatabaseUnavailableError);
    } finally {
      await pg.replicas[0].sql('select pg_wal_replay_resume()');
      await pg.replicas[1].sql('select pg_wal_replay_resume()');
    }
  } finally {
    await router.close();
  }
  await waitFor('both replicas readmitted', async () => replicaHealthy(0) && replicaHealthy(1), 20_000);
});

test('a replica promoted under read load is found leading at the next check: it takes no more reads, and its replica pool is closed, leaving the check\'s one connection beside the primary pool\'s', async () => {
  // GIVEN a primary and a replica of their own, both read targets of a router, as the patroni engine lists every member
  const own = await startReplicatedPostgres(group, 1);
  const [primaryName, replicaName] = [own.primary, own.replicas[0]].map(server => `127.0.0.1:${server.port}`);
  const router = new QueryRouter(databaseConfigFromEnv({
    DATABASE_URL: own.databaseUrl, POSTGRES_READ_REPLICAS: `${primaryName},${replicaName}`,
    REPLICA_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS), PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
  }));
  const replicaPoolConnections = async () =>
    Number(await own.replicas[0].sql(`select count(*) from pg_stat_activity where application_name = 'hscale-service/${replicaName}'`));
  try {
    await router.start();
    // The primary is found leading from the first check; the replica takes the reads, on several connections
    expect(router.replicaStates().map(r => [r.name, r.healthy, r.leading])).toEqual([[primaryName, false, true], [replicaName, true, false]]);
    const where = () => router.read(sql => sql<Array<{ recovery: boolean }>>`select pg_is_in_recovery() as recovery, pg_sleep(0.05)`);
    expect((await Promise.all(Array.from({ length: 30 }, where))).every(([row]) => row.recovery)).toBe(true);
    expect(await replicaPoolConnections()).toBeGreaterThan(1);
    // WHEN the replica is promoted (its replay LSN stays where recovery ended, as if it were a replica with no lag)
    await own.replicas[0].sql('select pg_promote()');
    const promotedAt = Date.now();
    // THEN within two check intervals it is found leading, and its replica pool's connections on it are down to the check's
    await waitFor('the promoted replica found leading', async () => router.replicaStates()[1].leading, 5_000, 20);
    const foundAfterMs = Date.now() - promotedAt;
    await waitFor('its replica pool closed', async () => await replicaPoolConnections() <= 1, 5_000, 50);
    expect(foundAfterMs).toBeLessThan(2 * HEALTH_INTERVAL_MS + 500);
    expect(router.replicaStates()[1]).toMatchObject({ healthy: false, leading: true });
    // AND reads go through the primary's address, none through a replica pool (the check may be
    // opening its one connection on the new pool meanwhile, so the servers' ports say where reads ran)
    const ports = await Promise.all(Array.from({ length: 10 }, () => router.read(sql => sql<Array<{ port: number }>>`select inet_server_port() as port`)));
    expect(new Set(ports.map(([row]) => row.port))).toEqual(new Set([own.primary.port]));
    expect(await replicaPoolConnections()).toBeLessThanOrEqual(1);
  } finally {
    await router.close();
  }
});

test('a replica behind the primary\'s state at start takes no reads, however small its lag, until it catches up', async () => {
  // GIVEN replica 0 paused before an item is written, as a replica can be a moment behind a migration
  await pg.replicas[0].sql('select pg_wal_replay_pause()');
  const later = createService({
    DATABASE_URL: pg.databaseUrl, POSTGRES_READ_REPLICAS: pg.replicaHosts,
    REPLICA_MAX_LAG_MS: '60000', REPLICA_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS),
  });
  try {
    const { body } = await writer().post('/api/v1/items').send({ name: 'written before start' }).expect(201);
    await waitFor('replica 1 to have the item', async () => await pg.replicas[1].sql(`select count(*) from items where id = '${body.id}'`, 'app') === '1');
    // WHEN an instance starts now (its lag bound is a minute, so lag alone would admit replica 0)
    await later.start();
    // THEN replica 1 is admitted (once it has replayed whatever the primary logged since, a standby snapshot say), replica 0 takes no reads, and every read finds the item
    await waitFor('replica 1 to be admitted', async () => later.router.replicaStates()[1].healthy, 10_000, 50);
    expect(later.router.replicaStates().map(r => r.healthy)).toEqual([false, true]);
    for (let i = 0; i < 20; i++) await request(later.app).get(`/api/v1/items/${body.id}`).expect(200);
    // AND it is admitted once it has replayed that state
    await pg.replicas[0].sql('select pg_wal_replay_resume()');
    await waitFor('replica 0 to be admitted', async () => later.router.replicaStates()[0].healthy, 10_000);
  } finally {
    await pg.replicas[0].sql('select pg_wal_replay_resume()');
    await later.close();
  }
});

test('with every replica stopped, reads are served by the primary and readiness passes', async () => {
  const id = await replicatedItem('primary only');
  await Promise.all(pg.replicas.map(r => r.stop('immediate')));
  try {
    await waitFor('every replica ejected', async () => service.router.replicaStates().every(r => !r.healthy), 10_000);
    const before = await itemLookups(pg.primary);
    for (let i = 0; i < 20; i++) await api().get(`/api/v1/items/${id}`).expect(200);
    expect(await itemLookups(pg.primary) - before).toBe(20);
    await api().get('/api/v1/scaling/health/readiness').expect(200);
  } finally {
    await pg.restartReplica(0);
    await pg.restartReplica(1);
  }
  await waitFor('both replicas readmitted', async () => service.router.replicaStates().every(r => r.healthy), 20_000);
});

test('a primary that dies while its connections idle does not crash the process: reads go on from the replicas, readiness holds, and the service recovers', async () => {
  const id = await replicatedItem('read while the primary is down');
  await api().get('/api/v1/scaling/health/readiness').expect(200);
  await pg.primary.stop('immediate');
  try {
    expect((await writer().post('/api/v1/items').send({ name: 'while down' })).status).toBe(503);
    // Reads keep succeeding, so the pod stays in the load balancer: only writes answer 503.
    for (let i = 0; i < 10; i++) await api().get(`/api/v1/items/${id}`).expect(200);
    const ready = await api().get('/api/v1/scaling/health/readiness').expect(200);
    expect(ready.body.checks).toMatchObject({ primary: expect.stringMatching(/^down/), replicas: '2/2 healthy' });
    // WHEN the replicas go too, nothing can serve: not ready
    await Promise.all(pg.replicas.map(r => r.stop('immediate')));
    await waitFor('every replica ejected', async () => service.router.replicaStates().every(r => !r.healthy), 10_000);
    await api().get('/api/v1/scaling/health/readiness').expect(503);
  } finally {
    await pg.primary.start();
    await pg.restartReplica(0);
    await pg.restartReplica(1);
  }
  await waitFor('both replicas readmitted', async () => service.router.replicaStates().every(r => r.healthy), 20_000);
  await waitFor('the service to write again', async () => (await writer().post('/api/v1/items').send({ name: 'after' })).status === 201, 20_000, 200);
});

test('a write to a primary that freezes answers 503 by the deadline, on a client the router then replaces; writes work once it answers', async () => {
  const client = service.router.primarySql;
  pg.primary.freeze(true);
  let answer: { status: number; ms: number };
  try {
    const started = Date.now();
    const res = await writer().post('/api/v1/items').send({ name: 'to a frozen primary' });
    answer = { status: res.status, ms: Date.now() - started };
  } finally {
    pg.primary.freeze(false);
  }
  expect(answer.status).toBe(503);
  expect(answer.ms).toBeLessThan(STATEMENT_TIMEOUT_MS + READ_DEADLINE_SLACK_MS + 1000);
  // A connection that failed may be one postgres.js can no longer write on (porsager/postgres#1208): none is reused.
  expect(service.router.primarySql).not.toBe(client);
  await writer().post('/api/v1/items').send({ name: 'after the thaw' }).expect(201);
});

test('migrations run exactly once when several instances start at once', async () => {
  // GIVEN an empty database and three clients, as three pods starting together
  await pg.primary.sql('create database migrations_race owner app');
  const clients = Array.from({ length: 3 }, () => postgres(pg.databaseUrl.replace(/\/app$/, '/migrations_race'), { max: 2, onnotice: () => undefined }));
  try {
    // WHEN all of them migrate at once
    const applied = await Promise.all(clients.map(sql => migrate(sql)));
    // THEN one applied every migration, the others found nothing to do, and the schema exists once
    expect(applied.map(versions => versions.length).sort()).toEqual([0, 0, MIGRATIONS.length]);
    expect(await pg.primary.sql('select count(*) from schema_migrations', 'migrations_race')).toBe(String(MIGRATIONS.length));
    expect(await pg.primary.sql('select count(*) from items', 'migrations_race')).toBe('0');
  } finally {
    await Promise.all(clients.map(sql => sql.end()));
  }
});

test('more writes at once than connections each wait for a connection of their own within the pool timeout, and none is cut by the statement deadline while it waits', async () => {
  // GIVEN an instance with two connections to the primary (each pipelining 8 queries, the default),
  // a 1 s statement timeout (a 2 s client deadline) and the default 30 s pool timeout
  const narrow = createService({ DATABASE_URL: pg.databaseUrl, PG_POOL_MAX: '2', PG_STATEMENT_TIMEOUT_MS: '1000' });
  await narrow.start();
  try {
    // WHEN 16 transactions of 0.25 s each are sent at once: 2 s of work per connection, so the last
    // ones wait about 2 s for a connection, as a burst of POSTs does on a loaded primary
    const started = Date.now();
    const writes = await Promise.allSettled(Array.from({ length: 16 }, () => narrow.router.write(sql => sql`select pg_sleep(0.25)`)));
    // THEN every one commits: a transaction cannot be pipelined, so it waits for a connection under
    // the pool timeout, and its deadline starts once it has one (they were cut at 2 s with 503 before)
    expect(writes.filter(w => w.status === 'rejected').map(w => String((w as PromiseRejectedResult).reason))).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(16 * 250 / 2 - 10);
  } finally {
    await narrow.close();
  }
});

test('with PG_POOL_PIPELINE 1 a request waiting longer than PG_POOL_TIMEOUT_MS for a connection answers 503, and waiters get connections in turn', async () => {
  // GIVEN an instance with one connection to the primary, one query at a time on it, and a 1 s pool timeout
  const narrow = createService({ DATABASE_URL: pg.databaseUrl, PG_POOL_MAX: '1', PG_POOL_PIPELINE: '1', PG_POOL_TIMEOUT_MS: '1000' });
  await narrow.start();
  try {
    // WHEN a slow query holds the connection and a request asks for one
    const slow = narrow.router.read(sql => sql`select pg_sleep(3)`);
    const started = Date.now();
    const response = await request(narrow.app).get('/api/v1/items/00000000-0000-4000-8000-000000000000');
    const waitedMs = Date.now() - started;
    // THEN it fails after the pool timeout, well before the slow query ends, as a retryable 503
    expect([response.status, response.body.error.code]).toEqual([503, 'unavailable']);
    expect(waitedMs).toBeGreaterThanOrEqual(990);
    expect(waitedMs).toBeLessThan(2500);
    expect(narrow.router.poolStats()[0]).toMatchObject({ pool: 'primary', max: 1, busy: 1, waiting: 0 });
    await slow;
    // AND queries queued within the timeout each get the connection when the one before ends
    const queued = [0.3, 0.3].map(seconds => narrow.router.read(sql => sql`select pg_sleep(${seconds})`));
    await waitFor('one query to hold the connection and one to wait', async () => {
      const { busy, waiting } = narrow.router.poolStats()[0];
      return busy === 1 && waiting === 1;
    }, 2000, 10);
    await Promise.all(queued);
    await request(narrow.app).get('/api/v1/items/00000000-0000-4000-8000-000000000000').expect(404);
  } finally {
    await narrow.close();
  }
});

test('by default a connection pipelines queries, and one sent behind a slow query answers 503 after PG_POOL_TIMEOUT_MS, not when the slow one ends', async () => {
  // GIVEN an instance with one connection to the primary, the default pipeline, and a 1 s pool timeout
  const piped = createService({ DATABASE_URL: pg.databaseUrl, PG_POOL_MAX: '1', PG_POOL_TIMEOUT_MS: '1000' });
  await piped.start();
  try {
    // WHEN a slow query holds the connection and a request's query is pipelined after it
    const slow = piped.router.read(sql => sql`select pg_sleep(3)`);
    await waitFor('the slow query on the connection', async () => piped.router.poolStats()[0].busy === 1, 2000, 10);
    const started = Date.now();
    const response = await request(piped.app).get('/api/v1/items/00000000-0000-4000-8000-000000000000');
    // THEN it fails after the pool timeout, well before the slow query ends, as a retryable 503
    expect([response.status, response.body.error.code]).toEqual([503, 'unavailable']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(piped.router.poolStats()[0]).toMatchObject({ pool: 'primary', max: 1, busy: 1, waiting: 0 });
    await slow;
    // AND short queries share the one connection at once, each answered within the pool timeout
    const short = [0, 1, 2].map(() => piped.router.read(sql => sql`select pg_sleep(0.2)`));
    await waitFor('three queries in flight on the one connection', async () => piped.router.poolStats()[0].busy === 3, 2000, 10);
    await Promise.all(short);
    await request(piped.app).get('/api/v1/items/00000000-0000-4000-8000-000000000000').expect(404);
  } finally {
    await piped.close();
  }
});

test('with PG_POOL_PIPELINE a connection carries that many queries at once; those behind a slow one, and a request waiting for a slot, answer 503 after the pool timeout', async () => {
  // GIVEN an instance with one connection to the primary, three queries per connection and a 1 s pool timeout
  const piped = createService({ DATABASE_URL: pg.databaseUrl, PG_POOL_MAX: '1', PG_POOL_PIPELINE: '3', PG_POOL_TIMEOUT_MS: '1000' });
  await piped.start();
  try {
    // WHEN a slow query and two quick ones pipelined behind it fill the connection's three slots
    const slow = piped.router.read(sql => sql`select pg_sleep(4)`);
    const behind = [0, 1].map(() => piped.router.read(sql => sql`select 1`).then(() => 'answered', (error: unknown) => error));
    await waitFor('three queries in flight on the one connection', async () => piped.router.poolStats()[0].busy === 3, 2000, 10);
    // THEN a request waits for a slot, then behind the slow query, and is answered 503 after the pool timeout
    const started = Date.now();
    const response = await request(piped.app).get('/api/v1/items/00000000-0000-4000-8000-000000000000');
    expect([response.status, response.body.error.code]).toEqual([503, 'unavailable']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    // AND the quick queries behind the slow one were refused the same way, not held until it ended
    expect(await Promise.all(behind)).toEqual([new PoolTimeoutError('primary', 1000), new PoolTimeoutError('primary', 1000)]);
    expect(piped.router.poolStats()[0]).toMatchObject({ pool: 'primary', max: 1, busy: 1, waiting: 0 });
    await slow;
  } finally {
    await piped.close();
  }
});
