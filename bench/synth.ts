/**
 * Synthesis time and memory of the production chart: builds and synthesizes it `RUNS` times in
 * this process and prints the median, the slowest run, and the heap used. Figures are for
 * comparing two versions measured in the same run and machine, not absolute targets.
 */
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildApp } from '../charts/app';

const RUNS = Number(process.env.RUNS ?? 20);
const outdir = mkdtempSync(join(tmpdir(), 'hscale-bench-'));
const times: number[] = [];
let objects = 0;
try {
  objects = buildApp(outdir).charts.reduce((n, chart) => n + chart.toJson().length, 0);
  for (let i = 0; i < RUNS; i++) {
    const started = process.hrtime.bigint();
    buildApp(outdir).synth();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
const cold = times[0];
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(RUNS / 2)];
const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
process.stdout.write(`synth of the production chart (${objects} objects): median ${median.toFixed(1)} ms `
  + `(${(median / objects).toFixed(2)} ms per object), fastest ${sorted[0].toFixed(1)} ms, first (cold) ${cold.toFixed(1)} ms, `
  + `cold/median ${(cold / median).toFixed(1)}x, over ${RUNS} runs; heap ${heapMiB.toFixed(0)} MiB\n`);
