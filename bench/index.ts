/**
 * `npm run bench`: runs the scenarios in bench/scenarios/ one after another on this machine
 * (starting PostgreSQL, Redis, nginx and the service on loopback ports), prints a table, writes
 * bench/results/<date>.json and the latency plot, and, after a full run, bench/RESULTS.md.
 *
 * BENCH_ONLY=synthesis,read-path runs a subset (no RESULTS.md then); BENCH_SUMMARY_FROM=<json>
 * writes RESULTS.md again from a recorded run (after editing bench/NOTES.md); BENCH_PROFILE=<dir> runs
 * the HTTP backends with `--cpu-prof` into <dir>; BENCH_ROUNDS and BENCH_SECONDS shorten or
 * lengthen the load runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname, join, relative, resolve } from 'path';
import { cacheEffectiveness } from './scenarios/cache-effectiveness';
import { capacity } from './scenarios/capacity';
import { failover } from './scenarios/failover';
import { guideLoad } from './scenarios/guide-load';
import { patroniFailover } from './scenarios/patroni-failover';
import { ReadPathData, readPath, VARIANT_LABELS } from './scenarios/read-path';
import { requestCost } from './scenarios/request-cost';
import { routerOverhead } from './scenarios/router-overhead';
import { synthesis } from './scenarios/synthesis';
import { writes } from './scenarios/writes';
import { BenchContext, Scenario, VARIANTS } from './support/context';
import { describeMachine, finishMachine } from './support/machine';
import { barChartPng } from './support/plot';
import { FIGURE_HEADER, figureRows, ScenarioResult, textTable } from './support/report';
import { ROOT } from './support/stack';
import { replaceScenarioBlock, RunRecord, renderSummary } from './support/summary';

const SCENARIOS: Scenario[] = [synthesis, readPath, requestCost, routerOverhead, cacheEffectiveness, writes, capacity, guideLoad, failover, patroniFailover];
/** The whole run is cut off here, servers stopped, whatever still runs (a full run took 16 min before the Patroni failover scenario added about 4, and capacity about 5). */
const RUN_LIMIT_MS = 30 * 60_000;
const BENCH_DIR = join(ROOT, 'bench');
const RESULTS_DIR = join(BENCH_DIR, 'results');
const PLOT_FILE = 'read-path-latency.png';

async function runScenario(scenario: Scenario, context: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  process.stderr.write(`bench: ${scenario.title} ...\n`);
  try {
    const outcome = await scenario.run(context);
    return { id: scenario.id, title: scenario.title, ...outcome, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    const message = error instanceof Error ? error.stack ?? error.message : String(error);
    process.stderr.write(`bench: ${scenario.title} failed: ${message}\n`);
    return { id: scenario.id, title: scenario.title, figures: [], method: [], error: message, seconds: (performance.now() - started) / 1000 };
  }
}

/** The read path's latency percentiles per variant, as a PNG beside the results; its path from bench/. */
function writeReadPathPlot(result: ScenarioResult | undefined): Record<string, string> {
  const data = result?.data as ReadPathData | undefined;
  if (!data) return {};
  const file = join(RESULTS_DIR, PLOT_FILE);
  writeFileSync(file, barChartPng({
    title: 'Read path through nginx, 64 connections: latency (median of runs)',
    yLabel: 'milliseconds',
    series: ['p50', 'p90', 'p95', 'p99'],
    groups: VARIANTS.map(v => ({ label: VARIANT_LABELS[v].replace(/^(\(.\)) /, '$1 ').replace(/, .*$/, ''), values: [data[v].p50, data[v].p90, data[v].p95, data[v].p99] })),
    line: { value: 50, label: 'goal for p95 of (b) and (c): 50 ms' },
  }));
  return { [result!.id]: relative(BENCH_DIR, file) };
}

/** Writes bench/RESULTS.md for a run (the notes in bench/NOTES.md included). */
function writeSummary(record: RunRecord, resultsFile: string, plots: Record<string, string>): void {
  writeFileSync(join(BENCH_DIR, 'RESULTS.md'), renderSummary(record, {
    resultsFile: relative(BENCH_DIR, resultsFile), plots, notesFile: join(BENCH_DIR, 'NOTES.md'),
  }));
}

/** The documents a scenario's run writes its figures into, between its markers (bench/NOTES.md goes into RESULTS.md). */
const SCENARIO_DOCS: Record<string, string[]> = {
  [capacity.id]: ['docs/performance.md'],
  [patroniFailover.id]: ['docs/postgres-failover.md', 'bench/NOTES.md'],
};

/** Writes each documented scenario's figures into its documents. */
function writeScenarioDocs(results: ScenarioResult[], resultsFile: string): void {
  for (const result of results.filter(r => !r.error && SCENARIO_DOCS[r.id])) {
    for (const doc of SCENARIO_DOCS[result.id]) {
      const file = join(ROOT, doc);
      writeFileSync(file, replaceScenarioBlock(readFileSync(file, 'utf8'), result, relative(dirname(file), resultsFile)));
      process.stdout.write(`${result.id} figures in ${doc}\n`);
    }
  }
}

async function main(): Promise<void> {
  const rerender = process.env.BENCH_SUMMARY_FROM;
  if (rerender) {
    // After editing bench/NOTES.md: the summary again from a recorded run, nothing measured.
    const record = JSON.parse(readFileSync(rerender, 'utf8')) as RunRecord;
    writeSummary(record, resolve(rerender), existsSync(join(RESULTS_DIR, PLOT_FILE)) ? { [readPath.id]: `results/${PLOT_FILE}` } : {});
    return;
  }
  const only = process.env.BENCH_ONLY?.split(',').map(s => s.trim()).filter(Boolean);
  const unknown = only?.filter(id => !SCENARIOS.some(s => s.id === id)) ?? [];
  if (unknown.length > 0) throw new Error(`BENCH_ONLY names unknown scenarios ${unknown.join(', ')}; known: ${SCENARIOS.map(s => s.id).join(', ')}`);
  const selected = SCENARIOS.filter(s => !only || only.includes(s.id));
  const startedAt = new Date();
  const started = performance.now();
  const machine = await describeMachine();
  const context = new BenchContext(process.env.BENCH_PROFILE);
  const abort = (why: string) => {
    process.stderr.write(`bench: ${why}, stopping the servers\n`);
    void context.group.cleanup().finally(() => process.exit(1));
  };
  const watchdog = setTimeout(() => abort(`over ${RUN_LIMIT_MS / 60_000} minutes`), RUN_LIMIT_MS);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abort(signal));
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of selected) results.push(await runScenario(scenario, context));
  } finally {
    await context.group.cleanup();
    clearTimeout(watchdog);
  }
  finishMachine(machine);
  const record: RunRecord = { startedAt: startedAt.toISOString(), seconds: (performance.now() - started) / 1000, machine, results };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const resultsFile = join(RESULTS_DIR, `${startedAt.toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace(':', '')}.json`);
  writeFileSync(resultsFile, `${JSON.stringify(record, null, 2)}\n`);
  const plots = writeReadPathPlot(results.find(r => r.id === readPath.id && !r.error));
  const tables = results.flatMap(r => r.tables ?? []).map(t => `\n${t.title}:\n${textTable(t.header, t.rows)}\n`).join('');
  process.stdout.write(`${textTable(FIGURE_HEADER, figureRows(results))}\n${tables}\nwhole run ${record.seconds.toFixed(0)} s; results in ${relative(ROOT, resultsFile)}\n`);
  writeScenarioDocs(results, resultsFile);
  if (selected.length === SCENARIOS.length) {
    writeSummary(record, resultsFile, plots);
    process.stdout.write('summary in bench/RESULTS.md\n');
  }
  if (results.some(r => r.error)) process.exitCode = 1;
}

main().catch(error => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
