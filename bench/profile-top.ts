/**
 * `npx ts-node --transpile-only bench/profile-top.ts <file.cpuprofile> [count]`: the functions
 * with the most self time in a V8 CPU profile (from `node --cpu-prof`, e.g. a run with
 * BENCH_PROFILE=<dir>), and the share of time per package, to see where a request's time goes.
 * `--areas <file> [us per request]` instead: the busy time by the areas of issue 22 (see {@link AREAS}).
 */
import { readFileSync } from 'fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/<pkg>` (scoped too), `node:internal`, `service`, or the file, for grouping. */
function owner(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node (built-in)';
  if (url.includes('/service/')) return 'service';
  return url ? url.replace(/^.*\//, '') : '(native / idle / gc)';
}

/**
 * The per-request work issue 22 asks about, each matched on a stack frame's file or function. A
 * sample goes to the area of the deepest frame that matches one, so the time zod spends under a
 * route handler is validation, and Express's own time, with nothing deeper, is middleware.
 */
const AREAS: Array<[string, (url: string, fn: string) => boolean]> = [
  ['request ids and logging', (url, fn) => /http\/request-context|node_modules\/pino/.test(url) || fn === 'randomUUID'],
  ['metrics labels and timers', url => /http\/request-metrics|node_modules\/prom-client/.test(url)],
  ['validation (zod, item id, JSON depth)', (url, fn) => /node_modules\/zod|http\/json-depth/.test(url) || fn === 'itemIdOf'],
  ['token parsing (JWT, consistency token)', url => /node_modules\/jose|http\/auth\.js|db\/lsn/.test(url)],
  // JSON.parse and JSON.stringify are built-ins: no file.
  ['JSON shaping (parse, stringify, sendJson, toItem)', (url, fn) => (url === '' && (fn === 'parse' || fn === 'stringify')) || fn === 'sendJson' || fn === 'toItem'],
  ['query router and pool slots', url => /service\/dist\/db\//.test(url)],
  ['call deadlines (deadlines.js: Redis calls, queries)', url => /service\/dist\/deadlines/.test(url)],
  ['cache (version keys and value, cache.js)', url => /service\/dist\/cache\//.test(url)],
  ['postgres.js client', url => /node_modules\/postgres\//.test(url)],
  ['redis client', url => /node_modules\/(@redis|redis|cluster-key-slot)\//.test(url)],
  ['service routes and errors', url => /service\/dist\/http\//.test(url)],
  ['Express, router and body-parser (middleware)', url => /node_modules\/(express|router|body-parser|raw-body|type-is|on-finished|finalhandler|send|etag|content-type|media-typer|mime-types|path-to-regexp|depd|http-errors|parseurl|debug|fresh)\/|service\/dist\/app\.js/.test(url)],
  ['garbage collection', (_url, fn) => fn === '(garbage collector)'],
];
/** Where a sample goes that no area claims: node's own work with no JS caller (parsing, socket reads and writes, timers). */
const EVENT_LOOP = 'node http, net and event loop (no JS caller)';
/** A frame of a request handler: samples before the first one under it are the process's start-up, left out. */
const HANDLER = /service\/dist\/http\/items-routes|bench\/bare-backends/;

/**
 * Busy time (idle and start-up left out) by area: each sample to the deepest frame of its stack
 * that an area claims, so node's internals (a header set, a socket write) count for the code that
 * called them; with `usPerRequest` (the CPU per request measured in the same run), as microseconds.
 */
function areas(profile: Profile, usPerRequest?: number): void {
  const byId = new Map(profile.nodes.map(n => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const areaOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = areaOf.get(id);
    if (known) return known;
    const { url, functionName } = byId.get(id)!.callFrame;
    const area = AREAS.find(([, match]) => match(url, functionName))?.[0] ?? (parent.has(id) ? classify(parent.get(id)!) : EVENT_LOOP);
    areaOf.set(id, area);
    return area;
  };
  const underHandler = (id: number): boolean => HANDLER.test(byId.get(id)!.callFrame.url) || (parent.has(id) && underHandler(parent.get(id)!));
  const firstRequest = profile.samples.findIndex(underHandler);
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    if (i < firstRequest || byId.get(id)!.callFrame.functionName === '(idle)') return;
    const area = classify(id);
    totals.set(area, (totals.get(area) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const busy = [...totals.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`busy ${(busy / 1e6).toFixed(2)} s\n`);
  for (const [area, micros] of [...totals].sort((a, b) => b[1] - a[1])) {
    const perRequest = usPerRequest === undefined ? '' : `${((micros / busy) * usPerRequest).toFixed(1).padStart(7)} us  `;
    process.stdout.write(`${((micros / busy) * 100).toFixed(1).padStart(5)}%  ${perRequest}${area}\n`);
  }
}

function main(file: string, count: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map(n => [n.id, n]));
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '')}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
    byOwner.set(owner(url), (byOwner.get(owner(url)) ?? 0) + micros);
  }
  const share = (micros: number) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`;
  const top = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nby package:\n`);
  for (const [name, micros] of top(byOwner, 15)) process.stdout.write(`${share(micros)}  ${name}\n`);
  process.stdout.write('\nby function (self time):\n');
  for (const [name, micros] of top(byFunction, count)) process.stdout.write(`${share(micros)}  ${name}\n`);
}

if (process.argv[2] === '--areas') areas(JSON.parse(readFileSync(process.argv[3], 'utf8')) as Profile, process.argv[4] === undefined ? undefined : Number(process.argv[4]));
else main(process.argv[2], Number(process.argv[3] ?? 25));
