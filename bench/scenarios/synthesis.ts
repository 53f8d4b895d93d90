import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart } from 'cdk8s';
import { buildApp } from '../../charts/app';
import { PgReplicaSet, RedisCluster, ScaledApi } from '../../lib';
import { run } from '../../test/support/processes';
import { Scenario } from '../support/context';
import { ROOT } from '../support/stack';
import { cpuMs, median, timeMs } from '../support/stats';

const PRODUCTION_RUNS = Number(process.env.BENCH_SYNTH_RUNS ?? 15);
const SCALE_PAIRS = 7;
/**
 * 10-API synths per round: as much CPU as the one 100-API synth, so both sides meet the other
 * processes on the machine for as long, and one 10-API synth slowed by them does not move the ratio.
 */
const TEN_API_SYNTHS = 10;
/** ScaledApis (each with its PgReplicaSet and RedisCluster: 25 objects) in the 1,000-object chart. */
const THOUSAND_OBJECT_APIS = 40;
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
      const productionCpu: number[] = [];
      for (let i = 0; i < PRODUCTION_RUNS; i++) {
        const cpu = process.cpuUsage();
        production.push(await timeMs(() => buildApp(outdir).synth()));
        const used = process.cpuUsage(cpu);
        productionCpu.push((used.user + used.system) / 1000);
      }
      // Alternating, so both sizes see the same machine load. CPU time, not wall time: on a shared
      // machine a 10-API synth of 0.1 s is often stretched 2x by waiting for a core, which moved the
      // wall-time ratio from 8.7x to 16x between rounds of the same code.
      const ten: number[] = [];
      const singleTen: number[] = [];
      const hundred: number[] = [];
      const ratios: number[] = [];
      const singleRatios: number[] = [];
      const thousandObjects: number[] = [];
      manyApis(outdir, 10).synth();
      for (let i = 0; i < SCALE_PAIRS; i++) {
        const tens = Array.from({ length: TEN_API_SYNTHS }, () => cpuMs(() => manyApis(outdir, 10).synth()));
        ten.push(tens.reduce((sum, ms) => sum + ms, 0) / TEN_API_SYNTHS);
        singleTen.push(tens[0]);
        hundred.push(cpuMs(() => manyApis(outdir, 100).synth()));
        ratios.push(hundred[i] / ten[i]);
        singleRatios.push(hundred[i] / singleTen[i]);
        thousandObjects.push(cpuMs(() => manyApis(outdir, THOUSAND_OBJECT_APIS).synth()));
      }
      const thousandCount = manyApis(outdir, THOUSAND_OBJECT_APIS).charts[0].toJson().length;
      const tenCount = manyApis(outdir, 10).charts[0].toJson().length;
      const perObjectRatios = thousandObjects.map((ms, i) => (ms / thousandCount) / (ten[i] / tenCount));
      const cli: number[] = [];
      for (let i = 0; i < CLI_RUNS; i++) {
        // charts/main.ts writes to dist/ whatever --output says: a tree whose dist/ is current (test/dist.test.ts) gets it back unchanged.
        cli.push(await timeMs(() => run('npm', ['run', 'synth'], { cwd: ROOT, timeoutMs: 120_000 })));
      }
      const perObject = production.map(ms => ms / objects);
      return {
        figures: [
          { name: `production chart in process (${objects} objects)`, value: median(production), unit: 'ms', runs: production, goal: { op: '<', target: 500 }, note: 'issue: well under a second' },
          { name: 'production chart in process, CPU', value: median(productionCpu), unit: 'ms', runs: productionCpu, note: 'the wall time above less the waits for a core on a shared machine' },
          { name: 'production chart, per object', value: median(perObject), unit: 'ms' },
          { name: 'production chart, first (cold) synth', value: cold, unit: 'ms' },
          { name: `10 ScaledApis + db + cache each (${tenCount} objects), CPU, mean of ${TEN_API_SYNTHS}`, value: median(ten), unit: 'ms', runs: ten },
          { name: '100 ScaledApis + db + cache each, CPU', value: median(hundred), unit: 'ms', runs: hundred },
          { name: '100 / 10 APIs, CPU', value: median(ratios), unit: 'x', runs: ratios, goal: { op: '<=', target: 10.5 }, note: 'issue 22: linear' },
          { name: '100 / 10 APIs, CPU, one 10-API synth per round (the method before 2026-12-06)', value: median(singleRatios), unit: 'x', runs: singleRatios },
          { name: `${thousandCount}-object chart (${THOUSAND_OBJECT_APIS} APIs), CPU`, value: median(thousandObjects), unit: 'ms', runs: thousandObjects },
          { name: `${thousandCount}-object chart, CPU per object / ${tenCount}-object chart's`, value: median(perObjectRatios), unit: 'x', runs: perObjectRatios, goal: { op: '<=', target: 1.1 } },
          { name: 'whole `cdk8s synth` (npm run synth) wall time', value: median(cli), unit: 'ms', runs: cli },
        ],
        method: [
          `Production chart (charts/production-chart.ts) built and synthesized in this process ${PRODUCTION_RUNS} times after one cold run; median.`,
          `10 vs 100 ScaledApis, each with its own PgReplicaSet (2 replicas) and RedisCluster (3+3), in one chart, and a chart of ${THOUSAND_OBJECT_APIS} of them (1,000 objects): ${SCALE_PAIRS} alternating rounds; CPU time of the process (process.cpuUsage, GC threads included) per build + synth; the 10-API figure of a round is the mean of ${TEN_API_SYNTHS} synths (as much CPU as one 100-API synth, so both meet the machine's other work for as long); ratios per round, then the median.`,
          'test/synthesis-scaling.test.ts guards the same property without a clock: each ten APIs add the same number of tree walks and renders.',
          `\`npm run synth\` (npx, the cdk8s CLI, ts-node, the chart, writing dist/), ${CLI_RUNS} times; median wall time.`,
        ],
      };
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  },
};
