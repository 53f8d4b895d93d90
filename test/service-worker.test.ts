import { ChildProcess } from 'child_process';
import { join } from 'path';
import { Testing } from 'cdk8s';
import postgres from 'postgres';
import request from 'supertest';
import { RedisCluster, WorkerPool } from '../lib';
import { KNOWN_METRICS } from '../lib/core/known-metrics';
import { createService, Service } from '../service/src/app';
import { ReadThroughCache } from '../service/src/cache/cache';
import { databaseConfigFromEnv } from '../service/src/db/config';
import { ItemRepository } from '../service/src/db/items';
import { MIGRATION_LOCK } from '../service/src/db/migrations';
import { QueryRouter } from '../service/src/db/router';
import { referenceJobs } from '../service/src/queue/jobs';
import { startReplicatedPostgres, ReplicatedPostgres } from './support/postgres';
import { freePort, ProcessGroup, run, sleep, waitFor } from './support/processes';
import { infoField, redisCli, RedisNode, startRedisCluster, TEST_REDIS_PASSWORD } from './support/redis';

// The BullMQ workers as the pods run them (the built worker.js, several processes), fed through
// POST /api/v1/jobs, on a single Redis and on a 6-node Redis Cluster; every count is in the database.
const group = new ProcessGroup();
const ROOT = join(__dirname, '..');
const ADMIN = 'test-only-admin-token';
let pg: ReplicatedPostgres;
let cluster: RedisNode[];
let singleRedisUrl: string;
let itemsSql: postgres.Sql;

beforeAll(async () => {
  const redisPort = await freePort();
  group.spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  singleRedisUrl = `redis://127.0.0.1:${redisPort}`;
  // Always build: the workers and the CronJob's command run the built files, as the image does.
  await Promise.all([
    run('npx', ['tsc', '-p', 'service/tsconfig.json'], { cwd: ROOT, timeoutMs: 150_000 }),
    startReplicatedPostgres(group, 0).then(started => { pg = started; }),
    startRedisCluster(group, 6, 1, 2000).then(nodes => { cluster = nodes; }),
  ]);
  itemsSql = postgres(pg.databaseUrl, { max: 2, onnotice: () => undefined });
  // Migrate once up front, so the suite's lock-holding transactions find the table.
  const service = createService({ DATABASE_URL: pg.databaseUrl });
  await service.start();
  await service.close();
}, 240_000);

afterAll(async () => {
  await itemsSql?.end({ timeout: 1 });
  await group.cleanup();
}, 60_000);

type Backend = 'single' | 'cluster';

/** The Redis contract WorkerPool and ScaledApi inject, for either deployment. */
function redisEnv(backend: Backend): Record<string, string> {
  return backend === 'single'
    ? { REDIS_URL: singleRedisUrl }
    : { REDIS_CLUSTER_NODES: cluster.map(n => `127.0.0.1:${n.port}`).join(','), REDIS_PASSWORD: TEST_REDIS_PASSWORD };
}

/** Short locks and stalled checks, so a killed worker's jobs come back within seconds. */
const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  readonly metricsPort: number;
}

async function startWorkerProcess(backend: Backend, env: Record<string, string>): Promise<WorkerProcess> {
  const metricsPort = await freePort();
  const { child, output } = group.spawn(process.execPath, ['service/dist/worker.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: pg.databaseUrl, METRICS_PORT: String(metricsPort), ...FAST_RECOVERY, ...redisEnv(backend), ...env },
  });
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)));
  await waitFor('the worker to start', async () => {
    if (child.exitCode !== null) throw new Error(`worker exited: ${output()}`);
    return output().includes('"msg":"worker started"');
  }, 30_000, 100);
  return { child, output, exited, metricsPort };
}

/** The API in-process, accepting jobs for `queues`. */
function startApi(backend: Backend, queues: string[]): Service {
  return createService({ DATABASE_URL: pg.databaseUrl, ADMIN_TOKEN: ADMIN, WORKER_QUEUES: queues.join(','), ...redisEnv(backend) });
}

async function enqueueAll(service: Service, queue: string, names: string[]): Promise<string[]> {
  const ids: string[] = [];
  // 25 requests in flight at a time: bounded, and quick.
  for (let i = 0; i < names.length; i += 25) {
    const answers = await Promise.all(names.slice(i, i + 25).map(name => request(service.app).post('/api/v1/jobs')
      .set('Authorization', `Bearer ${ADMIN}`).send({ queue, name: 'items.create', data: { name, payload: {} } })));
    for (const answer of answers) {
      expect(answer.status).toBe(202);
      ids.push(answer.body.id);
    }
  }
  return ids;
}

/** Items whose name starts with `prefix`: how many rows, and how many distinct names. */
async function itemCounts(prefix: string): Promise<{ rows: number; names: number }> {
  const [row] = await itemsSql<Array<{ rows: string; names: string }>>`select count(*) as rows, count(distinct name) as names from items where name like ${prefix + '%'}`;
  return { rows: Number(row.rows), names: Number(row.names) };
}

async function jobStatus(service: Service, id: string): Promise<Record<string, unknown>> {
  return (await request(service.app).get(`/api/v1/jobs/${id}`).set('Authorization', `Bearer ${ADMIN}`).expect(200)).body;
}

/** Holds SHARE mode on items, which blocks every insert, until the returned function is called. */
async function blockInserts(): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>(resolve => { release = resolve; });
  let locked!: () => void;
  const holding = new Promise<void>(resolve => { locked = resolve; });
  const transaction = itemsSql.begin(async tx => {
    await tx`lock table items in share mode`;
    locked();
    await released;
  });
  await holding;
  return async () => {
    release();
    await transaction;
  };
}

/** Transactions waiting for the items lock: the jobs the workers hold right now. */
async function blockedInserts(): Promise<number> {
  const [row] = await itemsSql<Array<{ n: string }>>`select count(*) as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'insert into items%'`;
  return Number(row.n);
}

const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix} ${i}`);

async function stopAll(workers: WorkerProcess[]): Promise<void> {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGTERM');
  await Promise.all(workers.map(w => w.exited));
}

test('2,000 jobs through POST /api/v1/jobs, three workers at concurrency 4 on a single Redis: each item exactly once', async () => {
  // GIVEN three worker processes on one queue
  const api = startApi('single', ['bulk']);
  const workers = await Promise.all([1, 2, 3].map(() => startWorkerProcess('single', { WORKER_QUEUES: 'bulk', WORKER_CONCURRENCY: '4' })));
  try {
    // WHEN 2,000 jobs are posted
    const started = Date.now();
    const ids = await enqueueAll(api, 'bulk', names('bulk', 2000));
    // THEN every job completes and the table holds each item once
    await waitFor('2,000 items', async () => (await itemCounts('bulk ')).rows >= 2000, 150_000, 200);
    console.warn(`2,000 jobs, 3 workers x concurrency 4: ${Math.round(2000 / ((Date.now() - started) / 1000))} jobs/s in all`);
    expect(await itemCounts('bulk ')).toEqual({ rows: 2000, names: 2000 });
    expect(await jobStatus(api, ids[1999])).toMatchObject({ state: 'completed', queue: 'bulk', name: 'items.create', attempts: 1, failedReason: null });
    const metrics = await (await fetch(`http://127.0.0.1:${workers[0].metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^worker_jobs_total\{queue="bulk",name="items.create",outcome="completed"\} \d+$/m);
    // Outcomes that never happened are series at 0, so the failure-ratio alert and panel have data.
    expect(metrics).toMatch(/^worker_jobs_total\{queue="bulk",name="items.aggregate",outcome="failed"\} 0$/m);
    expect(metrics).toMatch(/^worker_queue_jobs\{queue="bulk",state="waiting"\} 0$/m);
    for (const name of KNOWN_METRICS['hscale-worker']) expect(metrics).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  } finally {
    await stopAll(workers);
    await api.close();
  }
}, 240_000);

test('a worker killed (SIGKILL) while it holds jobs: they are recovered once it is back, none lost, none applied twice', async () => {
  // GIVEN a worker holding 4 jobs (their inserts wait on a lock) and 16 more waiting
  const api = startApi('single', ['crash']);
  const release = await blockInserts();
  let worker: WorkerProcess | undefined;
  try {
    worker = await startWorkerProcess('single', { WORKER_QUEUES: 'crash', WORKER_CONCURRENCY: '4' });
    await enqueueAll(api, 'crash', names('crash', 20));
    await waitFor('4 jobs in hand', async () => await blockedInserts() === 4, 20_000, 50);
    // WHEN it is killed, the lock released, and the worker started again
    worker.child.kill('SIGKILL');
    await worker.exited;
    await release();
    const restarted = Date.now();
    worker = await startWorkerProcess('single', { WORKER_QUEUES: 'crash', WORKER_CONCURRENCY: '4' });
    // THEN every job completes, each item once
    await waitFor('20 items', async () => (await itemCounts('crash ')).rows >= 20, 30_000, 100);
    console.warn(`stalled jobs recovered ${Date.now() - restarted} ms after the worker restarted (lock 2 s, stalled check 1 s)`);
    await sleep(500);
    expect(await itemCounts('crash ')).toEqual({ rows: 20, names: 20 });
  } finally {
    await release();
    if (worker) await stopAll([worker]);
    await api.close();
  }
}, 90_000);

test('SIGTERM: the worker takes no new job, finishes those in hand, and exits 0', async () => {
  // GIVEN a worker holding 2 jobs and 8 waiting
  const api = startApi('single', ['drain']);
  const release = await blockInserts();
  let worker: WorkerProcess | undefined;
  try {
    worker = await startWorkerProcess('single', { WORKER_QUEUES: 'drain', WORKER_CONCURRENCY: '2' });
    const ids = await enqueueAll(api, 'drain', names('drain', 10));
    await waitFor('2 jobs in hand', async () => await blockedInserts() === 2, 20_000, 50);
    // WHEN it gets SIGTERM while they are blocked
    worker.child.kill('SIGTERM');
    await sleep(500);
    expect(worker.child.exitCode).toBeNull();
    await release();
    // THEN it exits 0 after finishing exactly those 2; the other 8 wait for the next worker
    expect(await worker.exited).toBe(0);
    expect(await itemCounts('drain ')).toEqual({ rows: 2, names: 2 });
    const states = await Promise.all(ids.map(async id => (await jobStatus(api, id)).state));
    expect(states.filter(s => s === 'completed')).toHaveLength(2);
    expect(states.filter(s => s === 'waiting')).toHaveLength(8);
  } finally {
    await release();
    if (worker) await stopAll([worker]);
    await api.close();
  }
}, 60_000);

test.each<Backend>(['single', 'cluster'])('a job that always throws ends in the failed set after JOB_ATTEMPTS runs, with its error (%s Redis)', async backend => {
  // GIVEN a worker allowing 3 attempts, and a job whose insert PostgreSQL refuses every time (a NUL in text)
  const api = startApi(backend, ['doomed']);
  const worker = await startWorkerProcess(backend, { WORKER_QUEUES: 'doomed', JOB_ATTEMPTS: '3', JOB_BACKOFF_DELAY_MS: '50' });
  try {
    const posted = await request(api.app).post('/api/v1/jobs').set('Authorization', `Bearer ${ADMIN}`)
      .send({ queue: 'doomed', name: 'items.create', data: { name: 'nul \u0000 byte' } }).expect(202);
    // THEN GET shows it failed after 3 attempts, with the database's error
    const status = await waitFor('the job to fail', async () => {
      const body = await jobStatus(api, posted.body.id);
      return body.state === 'failed' && body;
    }, 20_000, 100);
    expect(status).toMatchObject({ attempts: 3, failedReason: expect.stringMatching(/0x00/) });
    const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^worker_jobs_total\{queue="doomed",name="items.create",outcome="retried"\} 2$/m);
    expect(metrics).toMatch(/^worker_jobs_total\{queue="doomed",name="items.create",outcome="failed"\} 1$/m);
  } finally {
    await stopAll([worker]);
    await api.close();
  }
}, 60_000);

test('on a 6-node Redis Cluster, with the queue\'s master killed mid-run: the cluster fails over, jobs resume, each item once', async () => {
  // GIVEN two workers on the cluster holding 8 jobs (their inserts wait on a lock) of 300 posted
  const api = startApi('cluster', ['failover']);
  const master = await masterOfSlotOf('{hscale}');
  const workers = await Promise.all([1, 2].map(() => startWorkerProcess('cluster', { WORKER_QUEUES: 'failover', WORKER_CONCURRENCY: '4' })));
  let release = async (): Promise<void> => undefined;
  try {
    release = await blockInserts();
    await enqueueAll(api, 'failover', names('failover', 300));
    await waitFor('8 jobs in hand', async () => await blockedInserts() === 8, 20_000, 50);
    // WHEN the master holding the queues' slot is killed, and the jobs in hand go on
    await master.stop('SIGKILL');
    await release();
    // THEN a replica takes over and every job completes, each item once
    await waitFor('300 items', async () => (await itemCounts('failover ')).rows >= 300, 60_000, 200);
    await sleep(500);
    expect(await itemCounts('failover ')).toEqual({ rows: 300, names: 300 });
  } finally {
    await release();
    await stopAll(workers);
    await api.close();
  }
}, 120_000);

/** The cluster node that is master of the slot of `key`. */
async function masterOfSlotOf(key: string): Promise<RedisNode> {
  const slot = Number((await redisCli(cluster[0].port, ['cluster', 'keyslot', key])).trim());
  for (const node of cluster) {
    const info = await redisCli(node.port, ['info', 'replication']);
    if (infoField(info, 'role') !== 'master') continue;
    const nodes = await redisCli(node.port, ['cluster', 'nodes']);
    const myself = nodes.split('\n').find(line => line.includes('myself'))!;
    const owns = myself.split(' ').slice(8).some(range => {
      const [from, to = from] = range.split('-').map(Number);
      return slot >= from && slot <= to;
    });
    if (owns) return node;
  }
  throw new Error(`no master owns slot ${slot}`);
}

test('a schedule\'s CronJob command, run as the pod runs it, enqueues exactly one job', async () => {
  // GIVEN the command WorkerPool renders for a schedule
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' });
  new WorkerPool(chart, 'jobs', {
    image: 'example/service:1.0.0', queues: ['nightly'], broker,
    schedules: { aggregate: { cron: '0 3 * * *', queue: 'nightly', name: 'items.aggregate', data: {} } },
  });
  const cronJob = Testing.synth(chart).find(o => o.kind === 'CronJob');
  const container = cronJob.spec.jobTemplate.spec.template.spec.containers[0];
  const api = startApi('cluster', ['nightly']);
  try {
    // WHEN it runs with the env the pod gets
    const output = await run(container.command[0], [...container.command.slice(1), ...container.args], {
      cwd: ROOT, env: { PATH: process.env.PATH, ...redisEnv('cluster') },
    });
    // THEN it printed the id of one job, now waiting in the queue
    const id = output.trim();
    expect(await jobStatus(api, id)).toMatchObject({ queue: 'nightly', name: 'items.aggregate', state: 'waiting' });
    expect(await redisCli(cluster[0].port, ['-c', 'llen', '{hscale}:nightly:wait'])).toBe('1\n');
  } finally {
    await api.close();
  }
}, 60_000);

test('a retried CronJob pod of the same scheduled run enqueues one job; the next scheduled run enqueues another', async () => {
  // GIVEN the command and the run id a schedule's pods get (the Job's name, from the pod's job-name label)
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' });
  new WorkerPool(chart, 'jobs', {
    image: 'example/service:1.0.0', queues: ['retried'], broker,
    schedules: { aggregate: { cron: '0 3 * * *', queue: 'retried', name: 'items.aggregate', data: {} } },
  });
  const container = Testing.synth(chart).find(o => o.kind === 'CronJob').spec.jobTemplate.spec.template.spec.containers[0];
  expect(container.env.find((e: { name: string }) => e.name === 'ENQUEUE_RUN_ID').valueFrom)
    .toEqual({ fieldRef: { fieldPath: 'metadata.labels[\'batch.kubernetes.io/job-name\']' } });
  const runPod = (jobName: string) => run(container.command[0], [...container.command.slice(1), ...container.args], {
    cwd: ROOT, env: { PATH: process.env.PATH, ...redisEnv('cluster'), ENQUEUE_RUN_ID: jobName },
  }).then(output => output.trim());
  // WHEN the pod of the run scheduled at minute 29000000 runs twice (the Job retried it), then the next day's once
  const first = await runPod('test-jobs-aggregate-29000000');
  const retried = await runPod('test-jobs-aggregate-29000000');
  const nextDay = await runPod('test-jobs-aggregate-29001440');
  // THEN the retry answers the same job, and only the two scheduled runs wait in the queue
  expect(retried).toBe(first);
  expect(nextDay).not.toBe(first);
  expect(await redisCli(cluster[0].port, ['-c', 'llen', '{hscale}:retried:wait'])).toBe('2\n');
}, 60_000);

test('items.create applies its effect once per job, even when the job runs twice', async () => {
  // GIVEN the reference handler, run twice with the same job key (a worker that died before acknowledging)
  const router = new QueryRouter(databaseConfigFromEnv({ DATABASE_URL: pg.databaseUrl }));
  const jobs = referenceJobs(new ItemRepository(router), new ReadThroughCache(undefined, 60, 100));
  const context = { key: 'twice/1', signal: new AbortController().signal };
  try {
    expect(await jobs['items.create']({ name: 'twice' }, context)).toEqual({ created: true });
    expect(await jobs['items.create']({ name: 'twice' }, context)).toEqual({ created: false });
    expect(await itemCounts('twice')).toEqual({ rows: 1, names: 1 });
  } finally {
    await router.close();
  }
});

test('POST /api/v1/jobs with a repeated Idempotency-Key enqueues one job and answers its id again', async () => {
  const api = startApi('single', ['keyed']);
  const post = (key: string) => request(api.app).post('/api/v1/jobs').set('Authorization', `Bearer ${ADMIN}`)
    .set('Idempotency-Key', key).send({ queue: 'keyed', name: 'items.create', data: { name: `keyed ${key}` } }).expect(202);
  try {
    // A key BullMQ could not take as a job id: it holds ':' and reads as an integer once the colon is gone.
    const [first, again] = await Promise.all([post('12:34'), post('12:34')]);
    const other = await post('12:35');
    expect(again.body.id).toBe(first.body.id);
    expect(other.body.id).not.toBe(first.body.id);
    expect(await jobStatus(api, first.body.id)).toMatchObject({ queue: 'keyed', name: 'items.create', state: 'waiting' });
    expect(await redisCli(Number(new URL(singleRedisUrl).port), ['llen', '{hscale}:keyed:wait'])).toBe('2\n');
  } finally {
    await api.close();
  }
});

test('throws error, when a job names an unknown queue or job, or carries bad data; nothing is enqueued', async () => {
  const api = startApi('single', ['strict']);
  const post = (body: unknown) => request(api.app).post('/api/v1/jobs').set('Authorization', `Bearer ${ADMIN}`).send(body as object);
  try {
    expect((await post({ queue: 'other', name: 'items.create', data: { name: 'x' } }).expect(400)).body.error)
      .toEqual({ code: 'invalid_job', message: 'queue "other" is not served here; known: strict' });
    expect((await post({ queue: 'strict', name: 'items.explode', data: {} }).expect(400)).body.error)
      .toEqual({ code: 'invalid_job', message: 'job name "items.explode" is unknown; known: items.create, items.aggregate' });
    expect((await post({ queue: 'strict', name: 'items.create', data: { name: '' } }).expect(400)).body.error.code).toBe('invalid_job');
    await request(api.app).post('/api/v1/jobs').send({ queue: 'strict', name: 'items.create', data: { name: 'x' } }).expect(401);
    expect(await redisCli(Number(new URL(singleRedisUrl).port), ['exists', '{hscale}:strict:id', '{hscale}:strict:wait'], undefined)).toBe('0\n');
  } finally {
    await api.close();
  }
});

test('throws error, when WORKER_QUEUES or the Redis contract is missing', async () => {
  const { startWorker } = await import('../service/src/worker-app');
  await expect(startWorker({ DATABASE_URL: pg.databaseUrl, ...redisEnv('single') }))
    .rejects.toThrow('WORKER_QUEUES must name the queues the worker takes jobs from (comma-separated)');
  await expect(startWorker({ WORKER_QUEUES: 'a:b', DATABASE_URL: pg.databaseUrl }))
    .rejects.toThrow('WORKER_QUEUES names "a:b": a queue is 1-100 letters, digits or \'._-\', starting with a letter or digit');
  await expect(startWorker({ WORKER_QUEUES: 'q', DATABASE_URL: pg.databaseUrl }))
    .rejects.toThrow('a worker needs its queue\'s Redis: set QUEUE_REDIS_* or REDIS_* (CLUSTER_NODES, SENTINELS or URL)');
});

test('while its Redis is unreachable, the worker still answers /metrics (its liveness probe) and stops on request', async () => {
  // GIVEN a worker whose Redis port has nothing listening
  const { startWorker } = await import('../service/src/worker-app');
  const worker = await startWorker({ WORKER_QUEUES: 'nowhere', METRICS_PORT: '0', DATABASE_URL: pg.databaseUrl, REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  try {
    // WHEN Prometheus or the kubelet asks
    const started = Date.now();
    const answer = await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`);
    // THEN it answers within the gauges' 1 s bound, without the queue figures it cannot read
    expect(answer.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    const text = await answer.text();
    expect(text).toMatch(/^worker_active 1$/m);
    expect(text).not.toMatch(/^worker_queue_jobs\{/m);
  } finally {
    await worker.stop();
  }
}, 30_000);

test('a migration slower than the liveness window: /metrics answers while it waits, and the worker starts once it is done', async () => {
  // GIVEN another instance holding the migration lock (as a pod migrating a large table would)
  const { startWorker } = await import('../service/src/worker-app');
  let release!: () => void;
  const held = new Promise<void>(resolve => { release = resolve; });
  let locked!: () => void;
  const lockTaken = new Promise<void>(resolve => { locked = resolve; });
  const holder = itemsSql.begin(async tx => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    locked();
    await held;
  });
  await lockTaken;
  const metricsPort = await freePort();
  let started = false;
  const starting = startWorker({ WORKER_QUEUES: 'slow-migration', METRICS_PORT: String(metricsPort), DATABASE_URL: pg.databaseUrl, REDIS_URL: singleRedisUrl })
    .then(worker => { started = true; return worker; });
  try {
    // WHEN the kubelet probes /metrics for 4 s while the migration waits
    await waitFor('/metrics to answer', async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined))?.status === 200, 10_000, 100);
    for (let probe = 0; probe < 8; probe++) {
      const answer = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      // THEN every probe passes, and the worker reports it takes no job yet
      expect(answer.status).toBe(200);
      expect(await answer.text()).toMatch(/^worker_active 0$/m);
      await sleep(500);
    }
    expect(started).toBe(false);
  } finally {
    release();
    await holder;
  }
  // AND once the lock is free the worker migrates and takes jobs
  const worker = await starting;
  try {
    expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toMatch(/^worker_active 1$/m);
  } finally {
    await worker.stop();
  }
}, 60_000);
