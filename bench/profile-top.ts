/**
 * `npx ts-node --transpile-only bench/profile-top.ts <file.cpuprofile> [count]`: the functions
 * with the most self time in a V8 CPU profile (from `node --cpu-prof`, e.g. a run with
 * BENCH_PROFILE=<dir>), and the share of time per package, to see where a request's time goes.
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

main(process.argv[2], Number(process.argv[3] ?? 25));
