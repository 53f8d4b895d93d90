/** The fields of a Kubernetes CronJob schedule, in order, with their ranges and names. */
const FIELDS: Array<{ name: string; min: number; max: number; names?: string[] }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/** The macros the CronJob controller (robfig/cron's standard parser) accepts. */
export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * What is wrong with a CronJob schedule, or undefined when the controller would take it: five
 * fields of `*`, numbers, names, ranges, steps and lists, or a macro. `TZ=` prefixes are refused:
 * Kubernetes wants `timeZone` instead.
 */
export function cronProblem(expression: string): string | undefined {
  const trimmed = expression.trim();
  if (CRON_MACROS.includes(trimmed)) return undefined;
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `has ${trimmed === '' ? 0 : fields.length} fields, not 5`;
  for (const [i, field] of fields.entries()) {
    const problem = fieldProblem(field, FIELDS[i]);
    if (problem) return `${FIELDS[i].name} ${JSON.stringify(field)} ${problem}`;
  }
  return undefined;
}

function fieldProblem(field: string, spec: typeof FIELDS[number]): string | undefined {
  for (const part of field.split(',')) {
    const [range, step, extra] = part.split('/');
    if (extra !== undefined || (step !== undefined && !/^[1-9][0-9]*$/.test(step))) return 'has a bad step';
    if (range === '*' || range === '?') continue;
    const bounds = range.split('-');
    if (bounds.length > 2) return 'has a bad range';
    const values = bounds.map(b => valueOf(b, spec));
    if (values.some(v => v === undefined)) return `must be within ${spec.min}-${spec.max}`;
    if (values.length === 2 && values[0]! > values[1]!) return 'has a range that runs backwards';
  }
  return undefined;
}

function valueOf(token: string, spec: typeof FIELDS[number]): number | undefined {
  const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (named >= 0) return named + (spec.min === 1 ? 1 : 0);
  if (!/^[0-9]+$/.test(token)) return undefined;
  const value = Number(token);
  return value >= spec.min && value <= spec.max ? value : undefined;
}
