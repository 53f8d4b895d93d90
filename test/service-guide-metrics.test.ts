import { existsSync, readFileSync } from 'fs';
import { totalmem } from 'os';
import { cpuPercentSinceLastRead, memoryLimitBytes } from '../service/src/guide-metrics';
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
