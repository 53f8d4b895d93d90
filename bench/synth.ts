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
try {
  for (let i = 0; i < RUNS; i++) {
    const started = process.hrtime.bigint();
    buildApp(outdir).synth();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
times.sort((a, b) => a - b);
const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
process.stdout.write(`synth of the production chart: median ${times[Math.floor(RUNS / 2)].toFixed(1)} ms, first ${times[0].toFixed(1)} ms .. max ${times[RUNS - 1].toFixed(1)} ms over ${RUNS} runs; heap ${heapMiB.toFixed(0)} MiB\n`);
