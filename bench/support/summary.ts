import { existsSync, readFileSync } from 'fs';
import { Machine } from './machine';
import { FIGURE_HEADER, figureRows, formatValue, goalMet, markdownTable, ScenarioResult } from './report';

/** A whole run as recorded in bench/results/<date>.json. */
export interface RunRecord {
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: Machine;
  readonly results: ScenarioResult[];
}

function machineSection(run: RunRecord): string {
  const m = run.machine;
  return markdownTable(['', ''], [
    ['date', run.startedAt],
    ['commit', m.commit],
    ['host', `${m.host}: ${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB`],
    ['load average (1 min) at start / end', `${m.loadAtStart.toFixed(1)} / ${m.loadAtEnd?.toFixed(1) ?? '?'} (shared machine: compare ratios, not absolute figures)`],
    ['software', `node ${m.node}; ${Object.values(m.versions).join('; ')}`],
    ['whole run', `${run.seconds.toFixed(0)} s`],
  ]);
}

function goalsSection(results: ScenarioResult[]): string {
  const rows = results.flatMap(r => r.figures.filter(f => f.goal).map(f => {
    const met = goalMet(f);
    return [r.title, f.name, formatValue(f.value, f.unit), `${f.goal!.op} ${formatValue(f.goal!.target, f.unit)}`, met === null ? 'not measured' : met ? 'met' : '**not met**'];
  }));
  const failed = results.filter(r => r.error).map(r => [r.title, `scenario failed: ${r.error!.split('\n')[0]}`, '', '', '**not measured**']);
  return markdownTable(['scenario', 'goal', 'measured', 'target', ''], [...rows, ...failed]);
}

function scenarioSection(result: ScenarioResult, plot?: string): string {
  return [
    `### ${result.title} (${result.seconds.toFixed(0)} s)`,
    '',
    ...result.method.map(line => `- ${line}`),
    '',
    result.error ? `Failed: \`${result.error.split('\n')[0]}\`` : markdownTable(FIGURE_HEADER.slice(1), figureRows([result]).map(row => row.slice(1))),
    ...(result.tables ?? []).flatMap(t => ['', `${t.title}:`, '', markdownTable(t.header, t.rows)]),
    ...(plot ? ['', `![${result.title}: latency percentiles](${plot})`] : []),
  ].join('\n');
}

/**
 * bench/RESULTS.md: the machine, every goal with its figure, each scenario's figures and method,
 * the plot, then the hand-written notes (what limits the goals not met) from `notesFile`.
 */
export function renderSummary(run: RunRecord, options: { resultsFile: string; plots: Record<string, string>; notesFile: string }): string {
  const notes = existsSync(options.notesFile) ? readFileSync(options.notesFile, 'utf8').trim() : '';
  return [
    '# Benchmark results',
    '',
    '<!-- Written by `npm run bench` (bench/index.ts); edit bench/NOTES.md for the analysis below. -->',
    '',
    `The latest full run of \`npm run bench\`; raw figures in [${options.resultsFile}](${options.resultsFile}). Every figure is the median of the runs listed beside it; every ratio is taken within one round (both sides measured back to back), then the median of the rounds.`,
    '',
    machineSection(run),
    '',
    '## Goals',
    '',
    goalsSection(run.results),
    '',
    '## Scenarios',
    '',
    ...run.results.flatMap(r => [scenarioSection(r, options.plots[r.id]), '']),
    notes,
    '',
  ].join('\n');
}

/** The markers of a scenario's block in a document: its figures, written by a run of it. */
function blockMarkers(id: string): [string, string] {
  return [`<!-- ${id}: written by \`npm run bench\` (bench/index.ts) from its ${id} scenario; do not edit -->`, `<!-- end of ${id} -->`];
}

/** `doc` with the text between the scenario's markers replaced by its figures, tables and method; `resultsFile` relative to the document. */
export function replaceScenarioBlock(doc: string, result: ScenarioResult, resultsFile: string): string {
  const [startMarker, endMarker] = blockMarkers(result.id);
  const start = doc.indexOf(startMarker);
  const end = doc.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error(`the ${result.id} markers are missing from the document: ${startMarker} ... ${endMarker}`);
  const block = [
    startMarker,
    '',
    `Measured in [${resultsFile}](${resultsFile}):`,
    '',
    markdownTable(FIGURE_HEADER.slice(1), figureRows([result]).map(row => row.slice(1))),
    ...(result.tables ?? []).flatMap(t => ['', `${t.title}:`, '', markdownTable(t.header, t.rows)]),
    '',
    ...result.method.map(line => `- ${line}`),
    '',
  ].join('\n');
  return `${doc.slice(0, start)}${block}${doc.slice(end)}`;
}
