import { hostname } from 'os';
import fc from 'fast-check';
import request from 'supertest';
import { createService, Service } from '../service/src/app';
import { packageVersion } from '../service/src/config';
import { memoryLimitBytes } from '../service/src/guide-metrics';
import { TEST_AUTH_ENV, testWriteToken } from './support/auth';
import { startReplicatedPostgres, ReplicatedPostgres } from './support/postgres';
import { freePort, ProcessGroup, sleep, waitFor } from './support/processes';
import { infoField, redisCli, RedisNode, startRedisCluster, TEST_REDIS_PASSWORD } from './support/redis';

// One primary + 2 replicas and a 6-node Redis Cluster for the whole file: starting them is most of its time.
const group = new ProcessGroup();
const ADMIN = 'test-only-admin-token';
let pg: ReplicatedPostgres;
let redis: RedisNode[];
let service: Service;
let writeToken: string;

beforeAll(async () => {
  writeToken = await testWriteToken();
  [pg, redis] = await Promise.all([startReplicatedPostgres(group, 2), startRedisCluster(group, 6, 1, 2000)]);
  service = createService({
    DATABASE_URL: pg.databaseUrl,
    POSTGRES_READ_REPLICAS: pg.replicaHosts,
    REPLICA_CHECK_INTERVAL_MS: '200',
    REDIS_CLUSTER_NODES: redis.map(n => `127.0.0.1:${n.port}`).join(','),
    REDIS_PASSWORD: TEST_REDIS_PASSWORD,
    ADMIN_TOKEN: ADMIN,
    BODY_LIMIT: '2kb',
    SERVICE_VERSION: '9.9.9-test',
    METRICS_PREFIX: 'fastnext',
    ...TEST_AUTH_ENV,
    PG_POOL_SIZE: '4',
  });
  await service.start();
  await waitFor('both replicas healthy', async () => service.router.replicaStates().every(r => r.healthy));
}, 180_000);

afterAll(async () => {
  await service?.close();
  await group.cleanup();
}, 60_000);

/** A client without credentials: reads are public. */
const api = () => request(service.app);
/** A client that sends the test writer's token with every request, as a writing client does. */
const writer = (app = service.app) => request.agent(app).set('Authorization', `Bearer ${writeToken}`);

/** Creates an item and waits until both replicas hold it, so a read without a token finds it wherever it goes. */
async function createItem(name: string, payload: unknown = {}) {
  const res = await writer().post('/api/v1/items').send({ name, payload }).expect(201);
  await waitFor(`the replicas to replay item ${res.body.id}`, async () =>
    (await Promise.all(pg.replicas.map(r => r.sql(`select count(*) from items where id = '${res.body.id}'`, 'app')))).every(n => n === '1'));
  return { item: res.body, token: res.get('X-Consistency-Token') as string };
}

async function itemCount(): Promise<number> {
  return Number(await pg.primary.sql('select count(*) from items', 'app'));
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const matching = text.split('\n').filter(line => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter(line => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)));
  return matching.reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

test('an item is created, read, updated and deleted, each write answering with a consistency token', async () => {
  // GIVEN
  const { item, token } = await createItem('first', { a: [1, 2] });
  expect(item).toMatchObject({ name: 'first', payload: { a: [1, 2] }, version: 1 });
  expect(token).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

  // WHEN / THEN
  const read = await api().get(`/api/v1/items/${item.id}`).set('X-Consistency-Token', token).expect(200);
  expect(read.body).toEqual(item);
  const updated = await writer().put(`/api/v1/items/${item.id}`).send({ name: 'renamed', payload: { b: true }, version: 1 }).expect(200);
  expect(updated.body).toMatchObject({ id: item.id, name: 'renamed', payload: { b: true }, version: 2 });
  expect(updated.get('X-Consistency-Token')).toMatch(/\//);
  const deleted = await writer().delete(`/api/v1/items/${item.id}`).expect(204);
  await api().get(`/api/v1/items/${item.id}`).set('X-Consistency-Token', deleted.get('X-Consistency-Token') as string).expect(404);
});

test('an update with a stale version is answered 409 and changes nothing', async () => {
  const { item } = await createItem('contended');
  // Two writers read version 1; both try to write it at once: exactly one wins.
  const results = await Promise.all(['a', 'b'].map(name => writer().put(`/api/v1/items/${item.id}`).send({ name, version: 1 })));
  expect(results.map(r => r.status).sort()).toEqual([200, 409]);
  expect(results.find(r => r.status === 409)!.body).toEqual({ error: { code: 'version_conflict', message: 'the item is at version 2' } });
  expect(await pg.primary.sql(`select version from items where id = '${item.id}'`, 'app')).toBe('2');
});

test('POSTs with the same Idempotency-Key create one item and answer with it, even sent at once; other keys create their own', async () => {
  const before = await itemCount();
  const post = (key: string, name: string) => writer().post('/api/v1/items').set('Idempotency-Key', key).send({ name });
  // At once, as nginx's resend may overlap the first attempt still running on a dying pod.
  const [first, again] = await Promise.all([post('order-42:a/1', 'once'), post('order-42:a/1', 'once')]);
  const other = await post('order-42:b/1', 'twice');
  expect([first.status, again.status, other.status]).toEqual([201, 201, 201]);
  expect(again.body).toEqual(first.body);
  expect(again.get('Location')).toBe(first.get('Location'));
  expect(other.body.id).not.toBe(first.body.id);
  expect(await itemCount()).toBe(before + 2);
});

test('throws error, when an Idempotency-Key is sent again with another body: 422, and the first item stands alone', async () => {
  // GIVEN
  const before = await itemCount();
  const first = await writer().post('/api/v1/items').set('Idempotency-Key', 'reused-1').send({ name: 'first body' }).expect(201);

  // WHEN
  const again = await writer().post('/api/v1/items').set('Idempotency-Key', 'reused-1').send({ name: 'second body' });

  // THEN
  expect(again.status).toBe(422);
  expect(again.body.error.code).toBe('idempotency_key_reused');
  expect(await itemCount()).toBe(before + 1);
  expect((await api().get(`/api/v1/items/${first.body.id}`).set('X-Consistency-Token', first.get('X-Consistency-Token') as string).expect(200)).body.name).toBe('first body');
});

test('an Idempotency-Key is the caller\'s own: another subject sending the same key and body gets an item of its own', async () => {
  const before = await itemCount();
  const other = request.agent(service.app).set('Authorization', `Bearer ${await testWriteToken('another-writer')}`);
  const mine = await writer().post('/api/v1/items').set('Idempotency-Key', 'shared-1').send({ name: 'same' }).expect(201);
  const theirs = await other.post('/api/v1/items').set('Idempotency-Key', 'shared-1').send({ name: 'same' }).expect(201);
  expect(theirs.body.id).not.toBe(mine.body.id);
  expect(await itemCount()).toBe(before + 2);
});

test('throws error, when a write comes without a token or with one of another key: 401 and nothing written; reads need none', async () => {
  // GIVEN an item, and a token signed with a key the service does not hold
  const { item } = await createItem('guarded');
  const before = await itemCount();
  const forged = await testWriteToken('mallory', 'another-signing-key-that-is-long-enough');

  // WHEN / THEN
  for (const auth of [undefined, `Bearer ${forged}`]) {
    const client = () => (auth ? request.agent(service.app).set('Authorization', auth) : api());
    await client().post('/api/v1/items').send({ name: 'intruder' }).expect(401);
    await client().put(`/api/v1/items/${item.id}`).send({ name: 'intruder', version: 1 }).expect(401);
    await client().delete(`/api/v1/items/${item.id}`).expect(401);
  }
  expect(await itemCount()).toBe(before);
  expect((await api().get(`/api/v1/items/${item.id}`).expect(200)).body).toMatchObject({ name: 'guarded', version: 1 });
  expect((await api().get('/api/v1/items').query({ limit: 1 }).expect(200)).body.items).toHaveLength(1);
});

test('throws error, when an Idempotency-Key is empty, longer than 255 or not visible ASCII: 400 and no item', async () => {
  const before = await itemCount();
  for (const key of ['', 'x'.repeat(256), 'has space', 'caf\u00e9']) {
    const res = await writer().post('/api/v1/items').set('Idempotency-Key', key).send({ name: 'refused' }).expect(400);
    expect(res.body.error.code).toBe('invalid_idempotency_key');
  }
  await writer().post('/api/v1/items').set('Idempotency-Key', '~'.repeat(255)).send({ name: 'longest' }).expect(201);
  expect(await itemCount()).toBe(before + 1);
});

test('keyset pagination returns every item once, in creation order', async () => {
  for (let i = 0; i < 25; i++) await createItem(`page-${i}`);
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const res: request.Response = await api().get('/api/v1/items').query({ limit: 7, ...(cursor ? { cursor } : {}) }).set('X-Consistency-Token', '0/0').expect(200);
    expect(res.body.items.length).toBeLessThanOrEqual(7);
    seen.push(...res.body.items.map((i: { id: string }) => i.id));
    cursor = res.body.nextCursor;
    if (!cursor) break;
  }
  expect(new Set(seen).size).toBe(seen.length);
  expect(seen.length).toBe(await itemCount());
  const names = (await pg.primary.sql('select id from items order by created_at, id', 'app')).split('\n');
  expect(seen).toEqual(names);
});

test('a read carrying the token of a write sees that write every time, while replicas serve reads', async () => {
  const before = await api().get('/metrics').expect(200);
  const { item } = await createItem('fresh');
  for (let version = 1; version <= 20; version++) {
    const put = await writer().put(`/api/v1/items/${item.id}`).send({ name: `v${version + 1}`, version }).expect(200);
    const read = await api().get(`/api/v1/items/${item.id}`).set('X-Consistency-Token', put.get('X-Consistency-Token') as string).expect(200);
    expect(read.body.version).toBe(version + 1);
  }
  const after = await api().get('/metrics').expect(200);
  // Reads landed on replicas, not only on the primary: the router's own counter says so.
  expect(metricValue(after.text, 'db_reads_total', { target: 'replica' })).toBeGreaterThan(metricValue(before.text, 'db_reads_total', { target: 'replica' }));
  expect(metricValue(after.text, 'db_writes_total')).toBeGreaterThanOrEqual(metricValue(before.text, 'db_writes_total') + 21);
  // Each routed statement is timed by operation and target: 20 token reads on replicas, 21 write transactions on the primary.
  const timed = (text: string, labels: Record<string, string>) => metricValue(text, 'db_query_duration_seconds_count', labels);
  expect(timed(after.text, { operation: 'read', target: 'replica' })).toBeGreaterThanOrEqual(timed(before.text, { operation: 'read', target: 'replica' }) + 1);
  expect(timed(after.text, { operation: 'write', target: 'primary' })).toBeGreaterThanOrEqual(timed(before.text, { operation: 'write', target: 'primary' }) + 21);
});

test('item reads are cached, and a write invalidates the item and the lists', async () => {
  // GIVEN an item read twice: a miss then a hit
  const { item } = await createItem('cached');
  const stats0 = (await api().get('/api/v1/cache/stats').expect(200)).body;
  await api().get(`/api/v1/items/${item.id}`).expect(200);
  await api().get(`/api/v1/items/${item.id}`).expect(200);
  const stats1 = (await api().get('/api/v1/cache/stats').expect(200)).body;
  expect(stats1.enabled).toBe(true);
  expect(stats1.misses - stats0.misses).toBe(1);
  expect(stats1.hits - stats0.hits).toBe(1);
  expect(stats1.hitRatio).toBeGreaterThan(0);

  // WHEN it is updated, THEN the next plain read (no token) sees the update, and so does the list
  const list0 = await api().get('/api/v1/items').query({ limit: 100 }).expect(200);
  await writer().put(`/api/v1/items/${item.id}`).send({ name: 'cached-2', version: 1 }).expect(200);
  expect((await api().get(`/api/v1/items/${item.id}`).expect(200)).body.name).toBe('cached-2');
  const list1 = await api().get('/api/v1/items').query({ limit: 100 }).expect(200);
  expect(list0.body.items.find((i: { id: string }) => i.id === item.id)?.name ?? 'cached').toBe('cached');
  const listed = list1.body.items.find((i: { id: string }) => i.id === item.id);
  expect(listed?.name ?? 'cached-2').toBe('cached-2');
});

test('the admin invalidation needs the admin token, and drops the items it names', async () => {
  // GIVEN a cached item changed behind the API's back
  const { item } = await createItem('behind');
  await api().get(`/api/v1/items/${item.id}`).expect(200);
  await pg.primary.sql(`update items set name = 'changed' where id = '${item.id}'`, 'app');
  await waitFor('the replicas to replay the change', async () =>
    (await Promise.all(pg.replicas.map(r => r.sql(`select name from items where id = '${item.id}'`, 'app')))).every(name => name === 'changed'));
  expect((await api().get(`/api/v1/items/${item.id}`).expect(200)).body.name).toBe('behind');

  // WHEN / THEN
  await api().post('/api/v1/cache/invalidate').expect(401, { error: { code: 'unauthorized', message: 'this endpoint needs the admin token' } });
  await api().post('/api/v1/cache/invalidate').set('Authorization', 'Bearer wrong').expect(401);
  await api().post('/api/v1/cache/invalidate').set('Authorization', `Bearer ${ADMIN}`).send({ ids: ['1'] }).expect(400);
  const res = await api().post('/api/v1/cache/invalidate').set('Authorization', `Bearer ${ADMIN}`).send({ ids: [item.id] }).expect(200);
  expect(res.body).toEqual({ invalidated: { lists: true, items: [item.id] } });
  expect((await api().get(`/api/v1/items/${item.id}`).expect(200)).body.name).toBe('changed');
  expect((await api().get('/metrics')).text).toMatch(/^cache_invalidations_total [1-9]/m);
});

test('the probes answer as the guides describe', async () => {
  await api().get('/health').expect(200);
  await api().get('/api/v1/scaling/health/liveness').expect(200, { status: 'alive' });
  await api().get('/api/v1/scaling/health/startup').expect(200, { status: 'started' });
  const ready = await api().get('/api/v1/scaling/health/readiness').expect(200);
  expect(ready.body.checks).toMatchObject({ primary: expect.stringMatching(/^ok/), cache: expect.stringMatching(/^ok/), replicas: '2/2 healthy' });
  await api().get('/api/v1/scaling/health/deep').expect(401);
  const deep = await api().get('/api/v1/scaling/health/deep').set('Authorization', `Bearer ${ADMIN}`).expect(200);
  expect(deep.body.primary.ok).toBe(true);
  expect(deep.body.cache.ok).toBe(true);
  expect(deep.body.pools).toHaveLength(3);
  expect(deep.body.replicas.map((r: { healthy: boolean }) => r.healthy)).toEqual([true, true]);
  const replication = await api().get('/api/v1/scaling/replication/status').expect(200);
  expect(replication.body.replicas.map((r: { name: string }) => r.name).join(',')).toBe(pg.replicaHosts);
});

test('the metrics carry the names of the contract', async () => {
  await api().get('/api/v1/items').expect(200);
  await api().get('/nowhere').expect(404);
  // An error answered by the app's error handler keeps its route's pattern.
  await writer().post('/api/v1/items').send({ name: '' }).expect(400);
  await api().get('/api/v1/items/not-a-number').expect(400);
  const res = await api().get('/api/v1/scaling/metrics/prometheus').expect(200);
  expect(res.get('Content-Type')).toMatch(/^text\/plain/);
  for (const name of ['http_requests_total', 'http_request_duration_seconds_bucket', 'db_pool_connections', 'db_replica_healthy',
    'db_replica_lag_seconds', 'db_replica_lag_bytes', 'db_reads_total', 'db_writes_total', 'cache_hits_total', 'cache_misses_total',
    'cache_errors_total', 'cache_invalidations_total', 'app_ready', 'process_cpu_seconds_total', 'db_query_duration_seconds_bucket']) {
    expect(res.text).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  }
  // The route label is the pattern, never the id.
  expect(res.text).toContain('route="/api/v1/items/:id"');
  expect(res.text).toContain('route="/api/v1/items"');
  expect(res.text).toContain('route="unmatched"');
  expect(res.text).toMatch(/http_requests_total\{method="POST",route="\/api\/v1\/items",status="400"\}/);
  expect(res.text).toMatch(/http_requests_total\{method="GET",route="\/api\/v1\/items\/:id",status="400"\}/);
  expect(res.text).not.toMatch(/route="\/(:id)?"/);
  expect(res.text).toMatch(/http_request_duration_seconds_bucket\{le="0.1",/);
  expect(metricValue(res.text, 'app_ready')).toBe(1);
});

test('without a reachable Redis every request is answered from the database, and readiness holds', async () => {
  // GIVEN a second instance whose Redis port has nothing listening, and one with no Redis at all
  const unreachable = createService({ DATABASE_URL: pg.databaseUrl, REDIS_URL: `redis://127.0.0.1:${await freePort()}`, CACHE_TIMEOUT_MS: '100', ...TEST_AUTH_ENV });
  const without = createService({ DATABASE_URL: pg.databaseUrl, METRICS_PREFIX: 'nocache', ...TEST_AUTH_ENV });
  try {
    await Promise.all([unreachable.start(), without.start()]);
    for (const instance of [unreachable, without]) {
      // WHEN / THEN
      const created = await writer(instance.app).post('/api/v1/items').send({ name: 'no cache' }).expect(201);
      await request(instance.app).get(`/api/v1/items/${created.body.id}`).expect(200);
      await writer(instance.app).put(`/api/v1/items/${created.body.id}`).send({ name: 'still none', version: 1 }).expect(200);
      await request(instance.app).get('/api/v1/items').expect(200);
      await writer(instance.app).delete(`/api/v1/items/${created.body.id}`).expect(204);
    }
    const ready = await request(unreachable.app).get('/api/v1/scaling/health/readiness').expect(200);
    // The body is public: the state, never the dependency's error text.
    expect(ready.body.checks.cache).toBe('degraded');
    // The cache is not essential: /health says degraded and stays 200, so the load balancer keeps the instance.
    const degraded = await request(unreachable.app).get('/health').expect(200);
    expect(degraded.body).toMatchObject({ status: 'degraded', checks: { primary: { status: 'ok' }, cache: { status: 'down' }, replicas: { status: 'not configured' } } });
    const uncached = await request(without.app).get('/health').expect(200);
    expect(uncached.body).toMatchObject({ status: 'ok', version: packageVersion(), checks: { cache: { status: 'not configured' } } });
    expect(unreachable.cache.getStats().errors).toBeGreaterThan(0);
    expect((await request(without.app).get('/api/v1/scaling/health/readiness').expect(200)).body.checks.cache).toBe('not configured');
    expect((await request(without.app).get('/api/v1/cache/stats').expect(200)).body).toMatchObject({ enabled: false, hits: 0, misses: 0 });
    // Without a cache there is no hit ratio to serve; without METRICS_PREFIX none of the guides' names.
    const withoutMetrics = (await request(without.app).get('/metrics').expect(200)).text;
    expect(withoutMetrics).toMatch(/^nocache_db_pool_size 10$/m);
    expect(withoutMetrics).not.toContain('nocache_redis_hit_ratio');
    expect((await request(unreachable.app).get('/metrics').expect(200)).text).not.toMatch(/_(db_pool_size|db_pool_checked_out|redis_hit_ratio|cpu_percent|memory_percent)[ {]/);
  } finally {
    await Promise.all([unreachable.close(), without.close()]);
  }
});

test('/health reports each dependency, the instance and the version, never cached', async () => {
  const res = await api().get('/health').expect(200);
  expect(res.get('Cache-Control')).toBe('no-store');
  expect(res.body).toEqual({
    status: 'ok', timestamp: expect.any(String), instance: hostname(), version: '9.9.9-test',
    checks: {
      process: { status: 'ok' },
      primary: { status: 'ok', latencyMs: expect.any(Number) },
      replicas: { status: 'ok', healthy: 2, total: 2 },
      cache: { status: 'ok', latencyMs: expect.any(Number) },
    },
  });
  expect(Math.abs(Date.now() - Date.parse(res.body.timestamp))).toBeLessThan(10_000);
});

test('/health says degraded, and stays 200, while a replica takes no reads', async () => {
  // The second replica's port refuses at once, so no short connect timeout is needed to see it down; one (300 ms was
  // tried) also failed the healthy replica's check on a loaded machine.
  const instance = createService({ DATABASE_URL: pg.databaseUrl, POSTGRES_READ_REPLICAS: `${pg.replicaHosts.split(',')[0]},127.0.0.1:${await freePort()}` });
  try {
    await instance.start();
    const res = await request(instance.app).get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'degraded', checks: { primary: { status: 'ok' }, replicas: { status: 'degraded', healthy: 1, total: 2 } } });
  } finally {
    await instance.close();
  }
}, 30_000);

test('/health answers 503 unhealthy while starting, without the primary, and while shutting down', async () => {
  // GIVEN an instance not yet started (its migrations not run)
  const instance = createService({ DATABASE_URL: pg.databaseUrl, PG_CONNECT_TIMEOUT_MS: '300' });
  try {
    const starting = await request(instance.app).get('/health').expect(503);
    expect(starting.body).toMatchObject({ status: 'unhealthy', checks: { process: { status: 'starting' }, primary: { status: 'ok' } } });
    await instance.start();
    await request(instance.app).get('/health').expect(200);

    // WHEN the primary stops answering, THEN 503, the primary down and no error text in the public body
    pg.primary.freeze(true);
    let withoutPrimary: request.Response;
    try {
      withoutPrimary = await request(instance.app).get('/health');
    } finally {
      pg.primary.freeze(false);
    }
    expect(withoutPrimary.status).toBe(503);
    expect(withoutPrimary.body).toMatchObject({ status: 'unhealthy', checks: { process: { status: 'ok' }, primary: { status: 'down' } } });
    expect(Object.keys(withoutPrimary.body.checks.primary)).toEqual(['status']);
    await waitFor('the primary to answer again', async () => (await request(instance.app).get('/health')).status === 200, 20_000, 100);

    // WHEN it begins to shut down, THEN 503 at once
    instance.beginShutdown();
    const draining = await request(instance.app).get('/health').expect(503);
    expect(draining.body).toMatchObject({ status: 'unhealthy', checks: { process: { status: 'shutting down' }, primary: { status: 'ok' } } });
  } finally {
    await instance.close();
  }
}, 60_000);

test('every answer carries a request id of the service\'s own, new each time, whatever id the client sent', async () => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const clientId = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
  // A client's id is no proof of anything, and two clients could send the same one: it goes to the log's clientRequestId only.
  const listed = await api().get('/api/v1/items').set('X-Request-ID', clientId).expect(200);
  expect(listed.get('X-Request-ID')).toMatch(uuid);
  // Error answers carry one too: that is where a client needs it most.
  expect((await api().get('/nowhere').set('X-Request-ID', clientId).expect(404)).get('X-Request-ID')).toMatch(uuid);
  const generated = (await api().get('/health').expect(200)).get('X-Request-ID');
  expect(generated).toMatch(uuid);
  expect((await api().get('/health').set('X-Request-ID', generated!)).get('X-Request-ID')).not.toBe(generated);
  for (const malformed of ['has space', 'x'.repeat(129), '<script>']) {
    const res = await api().get('/health').set('X-Request-ID', malformed).expect(200);
    expect(res.get('X-Request-ID')).toMatch(uuid);
  }
});

test('the guides\' metric names are served under METRICS_PREFIX, with the values of ours', async () => {
  // GIVEN a miss and a hit
  const { item } = await createItem('guide-metrics');
  await api().get(`/api/v1/items/${item.id}`).expect(200);
  await api().get(`/api/v1/items/${item.id}`).expect(200);

  // WHEN
  const stats = (await api().get('/api/v1/cache/stats').expect(200)).body;
  const text = (await api().get('/api/v1/scaling/metrics/prometheus').expect(200)).text;

  // THEN
  expect(text).toMatch(/^# TYPE fastnext_db_pool_size gauge$/m);
  // The guide's pool_size (PG_POOL_SIZE), not the bound with overflow (PG_POOL_MAX, 10 here).
  expect(metricValue(text, 'fastnext_db_pool_size')).toBe(4);
  expect(metricValue(text, 'db_pool_connections', { pool: 'primary', state: 'max' })).toBe(10);
  expect(metricValue(text, 'fastnext_db_pool_checked_out')).toBe(metricValue(text, 'db_pool_connections', { pool: 'primary', state: 'busy' }));
  expect(metricValue(text, 'fastnext_redis_hit_ratio')).toBeCloseTo(stats.hitRatio, 10);
  expect(metricValue(text, 'fastnext_redis_hit_ratio')).toBeGreaterThan(0);
  const memory = metricValue(text, 'fastnext_memory_percent');
  expect(memory).toBeCloseTo(100 * process.memoryUsage.rss() / memoryLimitBytes(), 0);
  expect(memory).toBeGreaterThan(0);
  expect(memory).toBeLessThan(100);
  expect(metricValue(text, 'fastnext_cpu_percent')).toBeGreaterThanOrEqual(0);
});

test('http_requests_total counts every request once, so rate() of it is requests per second per pod', async () => {
  const listed = { method: 'GET', route: '/api/v1/items', status: '200' };
  const before = (await api().get('/metrics').expect(200)).text;
  for (let i = 0; i < 7; i++) await api().get('/api/v1/items').query({ limit: 1 }).expect(200);
  await api().get('/api/v1/items').query({ limit: 0 }).expect(400);
  const after = (await api().get('/metrics').expect(200)).text;
  expect(metricValue(after, 'http_requests_total', listed) - metricValue(before, 'http_requests_total', listed)).toBe(7);
  // All labels together (what the adapter's sum over a pod adds up): the 8 requests and the first scrape, counted once it was answered.
  expect(metricValue(after, 'http_requests_total') - metricValue(before, 'http_requests_total')).toBe(9);
});

const UUID = '00000000-0000-4000-8000-000000000000';
const BAD_INPUT: Array<[string, () => request.Test, number, string]> = [
  ['malformed JSON', () => writer().post('/api/v1/items').set('Content-Type', 'application/json').send('{"name": '), 400, 'malformed_json'],
  ['a body over the limit', () => writer().post('/api/v1/items').send({ name: 'x', payload: 'y'.repeat(4000) }), 413, 'body_too_large'],
  ['a name of the wrong type', () => writer().post('/api/v1/items').send({ name: 42 }), 400, 'invalid_input'],
  ['a missing name', () => writer().post('/api/v1/items').send({ payload: {} }), 400, 'invalid_input'],
  ['an unknown field', () => writer().post('/api/v1/items').send({ name: 'x', admin: true }), 400, 'invalid_input'],
  ['a body that is an array', () => writer().post('/api/v1/items').send([{ name: 'x' }]), 400, 'invalid_input'],
  ['a name with a NUL byte', () => writer().post('/api/v1/items').send({ name: 'a\u0000b' }), 400, 'invalid_input'],
  ['a payload string with a NUL byte', () => writer().post('/api/v1/items').send({ name: 'x', payload: { s: '\u0000' } }), 400, 'invalid_input'],
  ['an id that is not a uuid', () => api().get('/api/v1/items/1'), 400, 'invalid_input'],
  ['an SQL-looking id', () => api().get("/api/v1/items/1' or '1'='1"), 400, 'invalid_input'],
  ['an SQL-looking name on update', () => writer().put(`/api/v1/items/${UUID}`).send({ name: "x'; drop table items; --", version: 'one' }), 400, 'invalid_input'],
  ['a limit above the range', () => api().get('/api/v1/items?limit=101'), 400, 'invalid_input'],
  ['a limit below the range', () => api().get('/api/v1/items?limit=0'), 400, 'invalid_input'],
  ['a limit that is no number', () => api().get('/api/v1/items?limit=ten'), 400, 'invalid_input'],
  ['a limit given twice', () => api().get('/api/v1/items?limit=1&limit=2'), 400, 'invalid_input'],
  ['a cursor this API never returned', () => api().get('/api/v1/items?cursor=bm9wZQ'), 400, 'invalid_cursor'],
  ['an unknown query parameter', () => api().get('/api/v1/items?order=desc'), 400, 'invalid_input'],
  ['a consistency token that does not parse', () => api().get(`/api/v1/items/${UUID}`).set('X-Consistency-Token', 'latest'), 400, 'invalid_consistency_token'],
  ['a version that is not an integer', () => writer().put(`/api/v1/items/${UUID}`).send({ name: 'x', version: 1.5 }), 400, 'invalid_input'],
  ['an update of an item that does not exist', () => writer().put(`/api/v1/items/${UUID}`).send({ name: 'x', version: 1 }), 404, 'not_found'],
  ['a delete of an item that does not exist', () => writer().delete(`/api/v1/items/${UUID}`), 404, 'not_found'],
  ['an unknown route', () => api().get('/api/v2/items'), 404, 'not_found'],
];

test.each(BAD_INPUT)('bad input is a 4xx JSON error and writes nothing: %s', async (_what, send, status, code) => {
  const before = await itemCount();
  const res = await send();
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
  expect(res.text).not.toMatch(/\n\s+at /);
  expect(await itemCount()).toBe(before);
});

test('random bodies and paths never get a 5xx', async () => {
  const { item } = await createItem('target');
  const segment = fc.oneof(fc.constant(item.id), fc.uuid(), fc.string({ maxLength: 40 }).map(encodeURIComponent), fc.constantFrom('..', '%00', '%ZZ', "'--"));
  const path = fc.oneof(
    segment.map(s => `/api/v1/items/${s}`),
    fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([k, v]) => `/api/v1/items?${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
    fc.constantFrom('/api/v1/items', '/api/v1/cache/invalidate', '/api/v1/scaling/health/deep'),
  );
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map(v => JSON.stringify(v)),
    fc.record({ name: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), payload: fc.jsonValue({ maxDepth: 2 }), version: fc.oneof(fc.integer(), fc.double(), fc.string()) }, { requiredKeys: [] }).map(v => JSON.stringify(v)),
    fc.string({ maxLength: 100 }),
  );
  await fc.assert(fc.asyncProperty(fc.constantFrom('get', 'post', 'put', 'delete') as fc.Arbitrary<'get' | 'post' | 'put' | 'delete'>, path, body, fc.option(fc.string({ maxLength: 20 })),
    async (method, url, raw, token) => {
      // With a write token, so that writes reach the validators rather than stopping at 401.
      let req = writer()[method](url).set('Content-Type', 'application/json');
      if (token !== null) req = req.set('X-Consistency-Token', token.replace(/[^\x20-\x7e]/g, ''));
      const res = await (method === 'get' || method === 'delete' ? req : req.send(raw));
      expect(res.status).toBeLessThan(500);
      // eslint-disable-next-line jest/no-conditional-expect -- a property of every error response, and only of those
      if (res.status >= 400) expect(res.body.error).toEqual({ code: expect.any(String), message: expect.any(String) });
    }), { numRuns: 150 });
}, 60_000);

test('killing a Redis master under load fails no request, and after failover every key is cached again, those of the dead master too', async () => {
  // GIVEN items spread over every shard, cached
  const ids = (await Promise.all(Array.from({ length: 30 }, (_, i) => createItem(`load-${i}`)))).map(c => c.item.id as string);
  await Promise.all(ids.map(id => api().get(`/api/v1/items/${id}`).expect(200)));
  const nodes = (await redisCli(redis[0].port, ['cluster', 'nodes'])).split('\n').filter(Boolean);
  const masterPort = Number(nodes.find(l => l.includes('master') && !l.includes('fail') && / \d+-\d+/.test(l))!.split(' ')[1].split(':')[1].split('@')[0]);
  const victim = redis.find(n => n.port === masterPort)!;
  const survivor = redis.find(n => n.port !== masterPort)!;

  // WHEN the master is killed while 4 workers read, until the failover and 20 reads past it (bounded in count):
  // a loaded machine reads slower, so the reads are counted by when they ran, not by how many fit in a time
  const reads: { status: number; at: number }[] = [];
  let killedAt = Infinity;
  let failedOverAt = Infinity;
  const readsSince = (at: number) => reads.filter(r => r.at > at).length;
  const load = Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = 0; i < 2000 && readsSince(failedOverAt) < 20; i++) {
      const { status } = await api().get(`/api/v1/items/${ids[i % ids.length]}`);
      reads.push({ status, at: Date.now() });
    }
  }));
  await sleep(300);
  await victim.stop('SIGKILL');
  killedAt = Date.now();
  await waitFor('the cluster to fail over', async () => infoField(await redisCli(survivor.port, ['cluster', 'info']), 'cluster_state') === 'ok'
    && !(await redisCli(survivor.port, ['cluster', 'nodes'])).split('\n').some(l => l.includes(`:${masterPort}@`) && l.includes('master') && !l.includes('fail')), 30_000, 200);
  failedOverAt = Date.now();
  await load;

  // THEN reads ran through the failover and after it, no request failed, and reads after the failover hit the cache again
  expect(readsSince(killedAt) - readsSince(failedOverAt)).toBeGreaterThan(0);
  expect(readsSince(failedOverAt)).toBeGreaterThanOrEqual(20);
  const statuses = reads.map(r => r.status);
  expect(statuses.filter(s => s !== 200)).toEqual([]);
  // Every key a hit, with no cache error: a failed cache call is no miss, so the hit ratio alone
  // stayed high while the dead master's keys (a third of them) were never cached again.
  await waitFor('a round of reads where every key is a hit', async () => {
    const before = (await api().get('/api/v1/cache/stats')).body;
    for (const id of ids) await api().get(`/api/v1/items/${id}`).expect(200);
    const after = (await api().get('/api/v1/cache/stats')).body;
    return after.hits - before.hits === ids.length && after.errors === before.errors && after.misses === before.misses;
  }, 30_000, 500);
  await victim.restart();
}, 90_000);
