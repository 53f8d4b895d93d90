import { BenchContext, Scenario, Variant, VARIANTS } from '../support/context';
import { Figure } from '../support/report';
import { median } from '../support/stats';
import { LoadRun, wrk } from '../support/wrk';

const CONNECTIONS = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_SECONDS = 2;
/** Items the reads draw from, uniformly: all of them fit the cache once warm. */
const READ_ITEMS = 1000;

export const VARIANT_LABELS: Record<Variant, string> = {
  bare: '(a) bare Express, constant JSON',
  cached: '(b) item from cache',
  replica: '(c) item from replica, cache off',
  primary: '(d) item from primary only',
};

/** The latency percentiles of each variant (medians over rounds), for the plot. */
export type ReadPathData = Record<Variant, { rps: number; p50: number; p90: number; p95: number; p99: number }>;

function variantFigures(variant: Variant, runs: LoadRun[]): Figure[] {
  const label = VARIANT_LABELS[variant];
  const latencyGoal = variant === 'cached' || variant === 'replica' ? { op: '<' as const, target: 50 } : undefined;
  return [
    { name: `${label}: requests/s`, value: median(runs.map(r => r.rps)), unit: 'req/s', runs: runs.map(r => r.rps) },
    { name: `${label}: p50`, value: median(runs.map(r => r.p50)), unit: 'ms', runs: runs.map(r => r.p50) },
    { name: `${label}: p95`, value: median(runs.map(r => r.p95)), unit: 'ms', runs: runs.map(r => r.p95), goal: latencyGoal },
    { name: `${label}: p99`, value: median(runs.map(r => r.p99)), unit: 'ms', runs: runs.map(r => r.p99) },
    { name: `${label}: failed requests`, value: runs.reduce((n, r) => n + r.errors, 0), unit: '', goal: { op: '<=', target: 0 } },
  ];
}

/** Read path through nginx at 64 connections: bare handler, cache, replica, primary; ratios per round. */
export const readPath: Scenario = {
  id: 'read-path',
  title: '2 read path via nginx',
  async run(context: BenchContext) {
    const stack = await context.stack();
    const { balanced } = await context.backends();
    const itemPaths = stack.items.slice(0, READ_ITEMS).map(id => `/api/v1/items/${id}`);
    const load = (variant: Variant, seconds: number) => wrk({
      url: balanced[variant], paths: variant === 'bare' ? ['/bare'] : itemPaths, connections: CONNECTIONS, seconds, dir: stack.dir,
    });
    for (const variant of VARIANTS) await load(variant, WARMUP_SECONDS);
    const runs: Record<Variant, LoadRun[]> = { bare: [], cached: [], replica: [], primary: [] };
    const ratios = { cachedToBare: [] as number[], replicaToBare: [] as number[], replicaToPrimary: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      // A different order each round, so no variant always runs first or last.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
      const rps = {} as Record<Variant, number>;
      for (const variant of order) {
        const result = await load(variant, SECONDS);
        runs[variant].push(result);
        rps[variant] = result.rps;
      }
      ratios.cachedToBare.push(rps.cached / rps.bare);
      ratios.replicaToBare.push(rps.replica / rps.bare);
      ratios.replicaToPrimary.push(rps.replica / rps.primary);
    }
    const data = Object.fromEntries(VARIANTS.map(v => [v, {
      rps: median(runs[v].map(r => r.rps)), p50: median(runs[v].map(r => r.p50)), p90: median(runs[v].map(r => r.p90)),
      p95: median(runs[v].map(r => r.p95)), p99: median(runs[v].map(r => r.p99)),
    }])) as ReadPathData;
    return {
      figures: [
        { name: 'b/a requests/s (cache vs bare)', value: median(ratios.cachedToBare), unit: 'x', runs: ratios.cachedToBare, goal: { op: '>=', target: 0.9 } },
        { name: 'c/a requests/s (replica vs bare)', value: median(ratios.replicaToBare), unit: 'x', runs: ratios.replicaToBare },
        { name: 'c/d requests/s (replica vs primary only)', value: median(ratios.replicaToPrimary), unit: 'x', runs: ratios.replicaToPrimary },
        ...VARIANTS.flatMap(v => variantFigures(v, runs[v])),
      ],
      method: [
        `wrk, 2 threads, ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} rounds of the four variants (order rotated each round) after a ${WARMUP_SECONDS} s warm-up of each.`,
        `Each variant is one Node process behind its own nginx (renderNginxConf, upstream on loopback, API rate limit raised: every connection comes from 127.0.0.1). (b)-(d) read GET /api/v1/items/:id over ${READ_ITEMS} seeded items drawn uniformly.`,
        '(b) the service with the Redis Cluster (3+3); (c) the service without cache reading from the streaming replica; (d) the same with READ_POLICY=primary. Ratios are taken within a round, then the median.',
      ],
      data,
    };
  },
};
