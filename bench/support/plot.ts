import { Resvg } from '@resvg/resvg-js';

/** One group of bars: a label and a value per series. */
export interface BarGroup {
  readonly label: string;
  readonly values: number[];
}

export interface BarChart {
  readonly title: string;
  readonly yLabel: string;
  readonly series: string[];
  readonly groups: BarGroup[];
  /** A dashed horizontal line, e.g. a goal. */
  readonly line?: { value: number; label: string };
}

const COLORS = ['#4c78a8', '#72b7b2', '#f58518', '#e45756'];
const WIDTH = 900;
const HEIGHT = 500;
const MARGIN = { top: 60, right: 30, bottom: 90, left: 70 };

/** A round step giving about `count` ticks up to `max`. */
function tickStep(max: number, count = 6): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map(m => m * magnitude).find(step => step >= raw) ?? raw;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Renders a grouped bar chart as SVG text. */
export function barChartSvg(chart: BarChart): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const peak = Math.max(...chart.groups.flatMap(g => g.values), chart.line?.value ?? 0);
  const step = tickStep(peak * 1.1);
  const top = Math.ceil((peak * 1.1) / step) * step;
  const y = (v: number) => MARGIN.top + plotH - (v / top) * plotH;
  const groupW = plotW / chart.groups.length;
  const barW = (groupW * 0.8) / chart.series.length;
  const parts: string[] = [
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="30" text-anchor="middle" font-size="18" font-weight="bold">${escape(chart.title)}</text>`,
    `<text transform="translate(20 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="14">${escape(chart.yLabel)}</text>`,
  ];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(v) + 4}" text-anchor="end" font-size="12">${Number(v.toFixed(3))}</text>`);
  }
  chart.groups.forEach((group, g) => {
    const x0 = MARGIN.left + g * groupW + groupW * 0.1;
    group.values.forEach((value, s) => {
      const x = x0 + s * barW;
      parts.push(`<rect x="${x}" y="${y(value)}" width="${barW - 2}" height="${y(0) - y(value)}" fill="${COLORS[s % COLORS.length]}"/>`,
        `<text x="${x + barW / 2 - 1}" y="${y(value) - 4}" text-anchor="middle" font-size="11">${value < 10 ? value.toFixed(1) : value.toFixed(0)}</text>`);
    });
    parts.push(`<text x="${x0 + groupW * 0.4}" y="${y(0) + 20}" text-anchor="middle" font-size="13">${escape(group.label)}</text>`);
  });
  if (chart.line) {
    // The line's label goes in the legend row, where no bar can cover it.
    const legendX = MARGIN.left + chart.series.length * 110;
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(chart.line.value)}" y2="${y(chart.line.value)}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<line x1="${legendX}" x2="${legendX + 30}" y1="${HEIGHT - 28}" y2="${HEIGHT - 28}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${legendX + 36}" y="${HEIGHT - 23}" font-size="13" fill="#c00">${escape(chart.line.label)}</text>`);
  }
  parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  chart.series.forEach((name, s) => {
    const x = MARGIN.left + s * 110;
    parts.push(`<rect x="${x}" y="${HEIGHT - 35}" width="14" height="14" fill="${COLORS[s % COLORS.length]}"/>`,
      `<text x="${x + 20}" y="${HEIGHT - 23}" font-size="13">${escape(name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="DejaVu Sans, Liberation Sans, sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}

/** The chart as PNG bytes (resvg, headless, system fonts). */
export function barChartPng(chart: BarChart): Buffer {
  return new Resvg(barChartSvg(chart), { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
