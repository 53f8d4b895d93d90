import { existsSync, readFileSync } from 'fs';
import { totalmem } from 'os';
import express from 'express';
import { Counter, Histogram, Registry } from 'prom-client';
import request from 'supertest';
import { ReadThroughCache } from '../service/src/cache/cache';
import { serviceConfigFromEnv } from '../service/src/config';
import { cpuPercentSinceLastRead, memoryLimitBytes, registerBetIntelMetrics } from '../service/src/guide-metrics';
import { requestMetrics } from '../service/src/http/request-metrics';
import { sleep } from './support/processes';

function burnCpu(ms: number): void {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  expect(x).toBeGreaterThan(0);
}

test('the CPU share is the process\'s since the previous read, in percent of one core', async () => {
  // GIVEN a reader, and the test's own measure of the same window
  const read = cpuPercentSinceLastRead();
  const cpuBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();

  // WHEN the process is busy, THEN the share is what the test measured
  burnCpu(300);
  const busy = read();
  const used = process.cpuUsage(cpuBefore);
  const expected = 100 * (used.user + used.system) / (Number(process.hrtime.bigint() - wallBefore) / 1000);
  expect(Math.abs(busy - expected)).toBeLessThan(5);

  // WHEN it is idle, THEN the next read covers the idle window only
  await sleep(400);
  expect(read()).toBeLessThan(Math.min(busy, 25));
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
