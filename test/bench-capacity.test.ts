import { join } from 'path';
import { searchRate, Step } from '../bench/scenarios/capacity';
import { ApiAutoscaling, atPerCoreCost, guideLoadTable, hpaPods, PathCapacity, podRates, rateAtBusyCores, readApiAutoscaling } from '../bench/support/hpa-plan';

const step = (rate: number, passed: boolean): Step => ({ rate, requests: rate, rps: rate, errors: 0, p50: 1, p95: passed ? 10 : 100, p99: 1, max: 1, cpuUsPerRequest: 100, passed });

test('the rate search doubles to a failure, then bisects to within the resolution', async () => {
  // GIVEN a server that holds the bound up to 730 requests/s
  const tried: number[] = [];
  const probe = async (rate: number) => {
    tried.push(rate);
    return step(rate, rate <= 730);
  };

  // WHEN
  const found = await searchRate(probe, 100, 12, 0.05);

  // THEN
  expect(tried.slice(0, 5)).toEqual([100, 200, 400, 800, 600]);
  expect(found.best!.rate).toBeLessThanOrEqual(730);
  expect(found.best!.rate).toBeGreaterThanOrEqual(730 * 0.95);
  expect(found.steps).toHaveLength(tried.length);
});

test('the rate search halves from a first failure and stops at 1 request/s', async () => {
  const found = await searchRate(async rate => step(rate, false), 100, 20, 0.05);
  expect(found.best).toBeUndefined();
  expect(found.steps.map(s => s.rate)).toEqual([100, 50, 25, 13, 7, 4, 2, 1]);
});

const scaling: ApiAutoscaling = { chart: 'c', hpa: 'h', minReplicas: 3, maxReplicas: 20, cpuTarget: 0.7, cpuRequest: 0.25, cpuLimit: 0.5 };
const path: PathCapacity = { label: 'read', rpsPerCore: 400, cpuUsByRate: [[400, 500]], idleCores: 0.005 };

test('the rate that keeps some cores busy is interpolated between the measured rates, whose CPU per request falls as they rise', () => {
  // 100 req/s x 1,000 us = 0.1 cores; 400 x 500 us = 0.2 cores
  const measured: Array<[number, number]> = [[400, 500], [100, 1000]];
  expect(rateAtBusyCores(measured, 0.05)).toBeCloseTo(50);
  expect(rateAtBusyCores(measured, 0.15)).toBeCloseTo(250);
  expect(rateAtBusyCores(measured, 0.4)).toBeCloseTo(800);
  expect(rateAtBusyCores(measured, 0)).toBe(0);
});

test('a pod serves its CPU target less its idle use, and within the p95 bound the per-core rate times its CPU limit', () => {
  // (0.25 x 0.7 - 0.005) cores / 500 us = 340 requests/s; 400 x 0.5
  expect(podRates(scaling, path).atCpuTarget).toBeCloseTo(340);
  expect(podRates(scaling, path).withinP95).toBe(200);
});

test('the HPA runs what its CPU target asks, within min and max replicas, and the pods the p95 bound needs are counted apart', () => {
  expect(hpaPods(scaling, path, 3400)).toEqual({ pods: 10, wanted: 10, neededForP95: 17 });
  expect(hpaPods(scaling, path, 100)).toEqual({ pods: 3, wanted: 1, neededForP95: 1 });
  expect(hpaPods(scaling, path, 34_000)).toEqual({ pods: 20, wanted: 100, neededForP95: 170 });
  // A Pods metric of 100 requests/s per pod asks more than the CPU target here: the HPA follows the larger.
  expect(hpaPods({ ...scaling, perPodTarget: 100 }, path, 1500)).toEqual({ pods: 15, wanted: 15, neededForP95: 8 });
});

test('at the per-core rate\'s CPU per request, the pods a CPU target asks are those of a machine whose wake-ups cost nothing', () => {
  // GIVEN 2,000 us per request at 100 req/s, each request waking the process alone, and 500 us at the per-core rate of 400
  const measured: PathCapacity = { ...path, cpuUsByRate: [[100, 2000], [400, 500]] };

  // WHEN
  const floor = atPerCoreCost(measured);

  // THEN only the per-core rate's point is left: 0.17 cores / 500 us = 340 req/s per pod, where the curve gives 0.17 / 0.2 x 100
  expect(floor.cpuUsByRate).toEqual([[400, 500]]);
  expect(podRates(scaling, floor).atCpuTarget).toBeCloseTo(340);
  expect(podRates(scaling, measured).atCpuTarget).toBeCloseTo(85);
  expect(guideLoadTable([scaling], [measured], [{ guide: 'g', chart: 'c', rps: 3400, stated: '' }]).rows).toEqual([
    ['g', '3,400 req/s', 'c (3-20)', 'read', '20 (max)', '40', '10', '17', 'yes'],
  ]);
});

test('without a passing run at the per-core rate, the measured curve is kept', () => {
  const measured: PathCapacity = { ...path, cpuUsByRate: [[100, 1000]] };
  expect(atPerCoreCost(measured).cpuUsByRate).toEqual([[100, 1000]]);
});

test('the API autoscalers are read from the synthesized charts', () => {
  const charts = readApiAutoscaling(join(__dirname, '..', 'dist'));
  expect(charts.find(c => c.chart === 'fastnext')).toEqual({
    chart: 'fastnext', hpa: 'backend-hpa', minReplicas: 3, maxReplicas: 20, cpuTarget: 0.7, cpuRequest: 0.25, cpuLimit: 1,
  });
  expect(charts.find(c => c.chart === 'bet-intel')!.perPodTarget).toBe(100);
  // The load balancers' autoscalers are not the API's.
  expect(charts.map(c => c.hpa)).not.toContain('fastnext-lb');
});
