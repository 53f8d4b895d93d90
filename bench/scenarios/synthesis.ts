import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart } from 'cdk8s';
import { buildApp } from '../../charts/app';
import { PgReplicaSet, RedisCluster, ScaledApi } from '../../lib';
import { run } from '../../test/support/processes';
import { Scenario } from '../support/context';
import { ROOT } from '../support/stack';
import { median, timeMs } from '../support/stats';

const PRODUCTION_RUNS = Number(process.env.BENCH_SYNTH_RUNS ?? 15);
const SCALE_PAIRS = 3;
const CLI_RUNS = 3;

/** One chart holding `apis` ScaledApis, each with a PgReplicaSet and a RedisCluster of its own. */
function manyApis(outdir: string, apis: number): App {
  const app = new App({ outdir });
  const chart = new Chart(app, 'scale', { namespace: 'scale' });
  for (let i = 0; i < apis; i++) {
    const database = new PgReplicaSet(chart, `db${i}`, { replicas: 2 });
    const cache = new RedisCluster(chart, `cache${i}`, { shards: 3, replicasPerShard: 1 });
    new ScaledApi(chart, `api${i}`, { image: 'example/api:1.0.0', database, cache });
  }
  return app;
}

/** Synthesis in process (production chart; 10 vs 100 APIs) and the whole `cdk8s synth` CLI. */
export const synthesis: Scenario = {
  id: 'synthesis',
  title: '1 synthesis',
  async run() {
    const outdir = mkdtempSync(join(tmpdir(), 'hscale-bench-synth-'));
    try {
      const objects = buildApp(outdir).charts.reduce((n, chart) => n + chart.toJson().length, 0);
      const cold = await timeMs(() => buildApp(outdir).synth());
      const production: number[] = [];
      for (let i = 0; i < PRODUCTION_RUNS; i++) production.push(await timeMs(() => buildApp(outdir).synth()));
      // Alternating, so both sizes see the same machine load; the first of each pair warms nothing up for the other.
      const ten: number[] = [];
      const hundred: number[] = [];
      const ratios: number[] = [];
      manyApis(outdir, 10).synth();
      for (let i = 0; i < SCALE_PAIRS; i++) {
        ten.push(await timeMs(() => manyApis(outdir, 10).synth()));
        hundred.push(await timeMs(() => manyApis(outdir, 100).synth()));
        ratios.push(hundred[i] / ten[i]);
      }
      const cli: number[] = [];
      for (let i = 0; i < CLI_RUNS; i++) {
        // charts/main.ts writes to dist/ whatever --output says: a tree whose dist/ is current (test/dist.test.ts) gets it back unchanged.
        cli.push(await timeMs(() => run('npm', ['run', 'synth'], { cwd: ROOT, timeoutMs: 120_000 })));
      }
      const perObject = production.map(ms => ms / objects);
      return {
        figures: [
          { name: `production chart in process (${objects} objects)`, value: median(production), unit: 'ms', runs: production, goal: { op: '<', target: 500 }, note: 'issue: well under a second' },
          { name: 'production chart, per object', value: median(perObject), unit: 'ms' },
          { name: 'production chart, first (cold) synth', value: cold, unit: 'ms' },
          { name: '10 ScaledApis + db + cache each', value: median(ten), unit: 'ms', runs: ten },
          { name: '100 ScaledApis + db + cache each', value: median(hundred), unit: 'ms', runs: hundred },
          { name: '100 / 10 APIs', value: median(ratios), unit: 'x', runs: ratios, goal: { op: '<=', target: 12 } },
          { name: 'whole `cdk8s synth` (npm run synth) wall time', value: median(cli), unit: 'ms', runs: cli },
        ],
        method: [
          `Production chart (charts/production-chart.ts) built and synthesized in this process ${PRODUCTION_RUNS} times after one cold run; median.`,
          `10 vs 100 ScaledApis, each with its own PgReplicaSet (2 replicas) and RedisCluster (3+3), in one chart: ${SCALE_PAIRS} alternating pairs; the ratio is taken per pair, then the median.`,
          `\`npm run synth\` (npx, the cdk8s CLI, ts-node, the chart, writing dist/), ${CLI_RUNS} times; median wall time.`,
        ],
      };
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  },
};
