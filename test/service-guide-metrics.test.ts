import { existsSync, readFileSync } from 'fs';
import { totalmem } from 'os';
import express from 'express';
import { Counter, Histogram, Registry } from 'prom-client';
import request from 'supertest';
import { ReadThroughCache } from '../service/src/cache/cache';
import { serviceConfigFromEnv } from '../service/src/config';
import { enqueue } from '../service/src/enqueue';
import { cpuPercentSinceLastRead, memoryLimitBytes, registerBetIntelMetrics } from '../service/src/guide-metrics';
import { requestMetrics } from '../service/src/http/request-metrics';
import { startWorker, WorkerMetrics } from '../service/src/worker-app';
import { startReplicatedPostgres } from './support/postgres';
import { freePort, ProcessGroup, sleep, waitFor } from './support/processes';

const group = new ProcessGroup();
afterAll(() => group.cleanup(), 60_000);

function burnCpu(ms: number): void {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  expect(x).toBeGreaterThan(0);
}

/** The process's CPU and the wall clock now. */
const mark = () => ({ cpu: process.cpuUsage(), wall: process.hrtime.bigint() });
type Mark = ReturnType<typeof mark>;

/**
 * The least and the most CPU share a reading taken between `inner` and `outer` windows can show:
 * the process can be descheduled between any two lines, and other code in it (a jest worker runs
 * other suites' leftovers) can use CPU at any time, so a reading is bounded by the windows, not matched.
 */
function shareBounds(outerStart: Mark, innerStart: Mark, innerEnd: Mark, outerEnd: Mark): { least: number; most: number } {
  const cpuMicros = (from: Mark, to: Mark) => (to.cpu.user + to.cpu.system) - (from.cpu.user + from.cpu.system);
  const wallMicros = (from: Mark, to: Mark) => Number(to.wall - from.wall) / 1000;
  return { least: 100 * cpuMicros(innerStart, innerEnd) / wallMicros(outerStart, outerEnd), most: 100 * cpuMicros(outerStart, outerEnd) / wallMicros(innerStart, innerEnd) };
}

test('the CPU share is the process\'s since the previous read, in percent of one core', async () => {
  // GIVEN a reader, and the test's own measures of a window just outside the reader's and one just inside it
  const outerStart = mark();
  const read = cpuPercentSinceLastRead();
  const innerStart = mark();

  // WHEN the process is busy, THEN the share lies between the least and the most the two windows allow
  burnCpu(300);
  const innerEnd = mark();
  const busy = read();
  const outerEnd = mark();
  const busyBounds = shareBounds(outerStart, innerStart, innerEnd, outerEnd);
  expect(busy).toBeGreaterThanOrEqual(busyBounds.least);
  expect(busy).toBeLessThanOrEqual(busyBounds.most);

  // WHEN it sleeps, THEN the next read covers the time since the previous read only, bounded by its own windows
  // (a fresh-clone CI read 79% here once, with a bound of 25% that did not count the process's other work)
  const idleStart = mark();
  await sleep(400);
  const idleEnd = mark();
  const idle = read();
  const idleBounds = shareBounds(innerEnd, idleStart, idleEnd, mark());
  expect(idle).toBeGreaterThanOrEqual(idleBounds.least);
  expect(idle).toBeLessThanOrEqual(idleBounds.most);
});

test('the memory limit is the cgroup\'s when there is one, else the machine\'s', () => {
  // cgroup v2, then v1; 'max' or a near-2^63 figure means no limit, which the min with the machine's memory absorbs.
  let cgroupLimit = Infinity;
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    const raw = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (/^\d+$/.test(raw)) cgroupLimit = Math.min(cgroupLimit, Number(raw));
  }
  expect(memoryLimitBytes()).toBe(Math.min(cgroupLimit, totalmem()));
  expect(memoryLimitBytes()).toBeGreaterThan(process.memoryUsage.rss());
});

test('GUIDE_METRICS=bet-intel serves that guide\'s requests_total{method,endpoint,status} and cache_hit_rate in percent', async () => {
  // GIVEN bet-intel's names on a registry, and an app counting its requests into them
  const registry = new Registry();
  const cache = { enabled: true, getStats: () => ({ hitRatio: 0.96 }) } as unknown as ReadThroughCache;
  const requests = new Counter({ name: 'http_requests_total', help: 'ours', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'ours', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const app = express();
  app.use(requestMetrics(requests, duration, registerBetIntelMetrics(registry, cache)));
  app.get('/api/v1/items/:id', (_req, res) => { res.status(404).end(); });
  // WHEN two requests are answered
  await request(app).get('/api/v1/items/1').expect(404);
  await request(app).get('/api/v1/items/2').expect(404);
  // THEN the guide's counter counts them by endpoint as ours does by route, and the hit rate is a percentage
  const text = await registry.metrics();
  expect(text).toContain('requests_total{method="GET",endpoint="/api/v1/items/:id",status="404"} 2');
  expect(text).toContain('http_requests_total{method="GET",route="/api/v1/items/:id",status="404"} 2');
  expect(text).toMatch(/^cache_hit_rate 96$/m);
});

test('without a cache bet-intel\'s hit rate is not served, and GUIDE_METRICS names no other guide', () => {
  const registry = new Registry();
  registerBetIntelMetrics(registry, { enabled: false } as unknown as ReadThroughCache);
  expect(registry.getSingleMetric('cache_hit_rate')).toBeUndefined();
  expect(registry.getSingleMetric('requests_total')).toBeDefined();
  expect(() => serviceConfigFromEnv({ GUIDE_METRICS: 'fastnext' }))
    .toThrow('GUIDE_METRICS ("fastnext") must be bet-intel, the one guide whose names are served unprefixed');
});

test('a worker with GUIDE_METRICS=bet-intel serves celery_task_duration_seconds{task_name} and celery_workers_active{worker_type}', async () => {
  // GIVEN a worker of bet-intel's ev_calculation pool on a real Redis and PostgreSQL
  const redisPort = await freePort();
  group.spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const pg = await startReplicatedPostgres(group, 0);
  const env = { DATABASE_URL: pg.databaseUrl, REDIS_URL: `redis://127.0.0.1:${redisPort}` };
  const worker = await startWorker({ ...env, GUIDE_METRICS: 'bet-intel', WORKER_QUEUES: 'ev_calculation', METRICS_PORT: '0' });
  const scrape = async () => (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
  try {
    // WHEN it has run one job
    await enqueue(['ev_calculation', 'items.aggregate', '{"day":"2026-01-01"}'], env);
    const text = await waitFor('the job\'s run observed', async () => {
      const scraped = await scrape();
      return /^celery_task_duration_seconds_count\{task_name="items\.aggregate"\} 1$/m.test(scraped) && scraped;
    }, 40_000);
    // THEN the guide's histogram counts it as ours does, and the worker counts as one active worker of its type
    expect(text).toMatch(/^worker_job_duration_seconds_count\{queue="ev_calculation",name="items\.aggregate"\} 1$/m);
    expect(text).toMatch(/^celery_task_duration_seconds_bucket\{le="300",task_name="items\.aggregate"\} 1$/m);
    expect(text).toMatch(/^celery_workers_active\{worker_type="ev_calculation"\} 1$/m);
  } finally {
    await worker.stop();
  }
  // AND once stopped it is no longer an active worker
  expect(await worker.metrics.registry.getSingleMetricAsString('celery_workers_active')).toMatch(/^celery_workers_active\{worker_type="ev_calculation"\} 0$/m);
}, 120_000);

test('without GUIDE_METRICS a worker serves none of bet-intel\'s names', async () => {
  const metrics = new WorkerMetrics(['ev_calculation']);
  metrics.observeRun('ev_calculation', 'items.aggregate', 'completed', 0.2);
  metrics.setActive(true);
  const text = await metrics.registry.metrics();
  expect(text).toMatch(/^worker_active 1$/m);
  expect(text).not.toContain('celery_');
});
