import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { parseArgs } from 'util';
import { Chart } from 'cdk8s';
import { buildApp } from '../charts/app';
import { run } from '../local/processes';
import { renderDot, topologyOf } from './topology';

/* eslint-disable no-console -- a command line tool */

export const DIAGRAM_DIR = join(__dirname, '..', 'docs', 'diagrams');

/** The charts of charts/app.ts, built in-process (not synthesized). */
export function buildCharts(): Chart[] {
  return buildApp(join(DIAGRAM_DIR, '.unused')).charts;
}

/** Renders DOT to SVG with Graphviz `dot`; throws saying what to install when it is missing. */
export async function renderSvg(dot: string, file: string): Promise<void> {
  const dotFile = file.replace(/\.svg$/, '.dot');
  writeFileSync(dotFile, dot);
  await run('dot', ['-Tsvg', dotFile, '-o', file]).catch(error => {
    throw new Error(`Graphviz could not render ${dotFile} (install it with: sudo apt-get install -y graphviz):\n${(error as Error).message}`);
  });
}

/** `npm run diagram [-- --chart <name>]`: docs/diagrams/<chart>.svg (and .dot) for one chart, or every chart. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { chart: { type: 'string' } } });
  const charts = buildCharts();
  const selected = values.chart ? charts.filter(c => c.node.id === values.chart) : charts;
  if (selected.length === 0) throw new Error(`no chart '${values.chart}': the charts are ${charts.map(c => c.node.id).join(', ')}`);
  mkdirSync(DIAGRAM_DIR, { recursive: true });
  for (const chart of selected) {
    const file = join(DIAGRAM_DIR, `${chart.node.id}.svg`);
    await renderSvg(renderDot(topologyOf(chart)), file);
    console.log(`wrote ${file}`);
  }
}

if (require.main === module) {
  main().catch(error => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
