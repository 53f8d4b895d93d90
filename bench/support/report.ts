/** A goal a figure is judged against, e.g. `{ op: '>=', target: 0.9 }`. */
export interface Goal {
  readonly op: '>=' | '<=' | '<' | '>';
  readonly target: number;
}

/** One measured figure: the median of `runs` (when there were several), its unit and its goal. */
export interface Figure {
  readonly name: string;
  readonly value: number | null;
  readonly unit: string;
  readonly runs?: number[];
  readonly goal?: Goal;
  /** Where the goal comes from, or what the figure is compared with. */
  readonly note?: string;
}

/** A table a scenario computes from its figures, shown after them. */
export interface ResultTable {
  readonly title: string;
  readonly header: string[];
  readonly rows: string[][];
}

/** What one scenario measured. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly figures: Figure[];
  /** How it was measured: what ran, how often, for how long. */
  readonly method: string[];
  readonly tables?: ResultTable[];
  /** Data for the plot or later analysis (percentiles per variant, ...). */
  readonly data?: unknown;
  /** Set when the scenario failed: the others still run. */
  readonly error?: string;
  readonly seconds: number;
}

/** True, false, or null when there is no goal or no value. */
export function goalMet(figure: Figure): boolean | null {
  if (!figure.goal || figure.value === null || !Number.isFinite(figure.value)) return null;
  const { op, target } = figure.goal;
  const v = figure.value;
  return op === '>=' ? v >= target : op === '<=' ? v <= target : op === '<' ? v < target : v > target;
}

export function formatValue(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const digits = Number.isInteger(value) || abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  const text = value.toFixed(digits);
  return unit === 'x' ? `${text}x` : unit ? `${text} ${unit}` : text;
}

function goalText(figure: Figure): string {
  if (!figure.goal) return '';
  const met = goalMet(figure);
  const target = `${figure.goal.op} ${formatValue(figure.goal.target, figure.unit)}`;
  return `${target}: ${met === null ? 'not measured' : met ? 'met' : 'NOT met'}`;
}

function runsText(figure: Figure): string {
  return figure.runs && figure.runs.length > 1 ? figure.runs.map(r => formatValue(r, '')).join(' / ') : '';
}

/** The rows of every figure: scenario, figure, median, runs, goal. */
export function figureRows(results: ScenarioResult[]): string[][] {
  return results.flatMap(r => (r.error ? [[r.title, `failed: ${r.error.split('\n')[0]}`, '', '', '']] : r.figures.map(f => [
    r.title, f.name, formatValue(f.value, f.unit), runsText(f), [goalText(f), f.note ?? ''].filter(Boolean).join('; '),
  ])));
}

/** A plain-text table with padded columns, for the terminal. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A Markdown table; pipes in cells are escaped. */
export function markdownTable(header: string[], rows: string[][]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map(r => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export const FIGURE_HEADER = ['scenario', 'figure', 'median', 'runs', 'goal'];
