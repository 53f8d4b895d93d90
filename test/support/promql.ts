const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names an expression reads: identifiers that are not functions, keywords, labels, numbers or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = stripped[match.index - 1] ?? ' ';
    const next = stripped.slice(match.index + match[0].length).trimStart()[0];
    if (next === '(' || KEYWORDS.has(match[0].toLowerCase()) || /[0-9.]/.test(before)) continue;
    names.push(match[0]);
  }
  return names;
}

/**
 * A dashboard expression as Grafana sends it to Prometheus: `$__rate_interval` becomes four scrape
 * intervals, the least Grafana gives it (max($__interval + scrape interval, 4 × scrape interval)).
 */
export function asGrafanaSends(expr: string, scrapeSeconds: number): string {
  return expr.replaceAll('$__rate_interval', `${4 * scrapeSeconds}s`);
}
