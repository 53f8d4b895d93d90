import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { buildApp } from '../charts/app';

const DIST = join(__dirname, '..', 'dist');
const FIX = 'run \'npm run synth\' and commit dist/';

/** Where two texts first differ, as `line N: committed "..." / fresh "..."`. */
function firstDifference(committed: string, fresh: string): string {
  const a = committed.split('\n');
  const b = fresh.split('\n');
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(a[at] ?? '<end>')} / fresh ${JSON.stringify(b[at] ?? '<end>')}`;
}

test('the committed dist/ is what the charts synthesize now', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'hscale-synth-'));
  try {
    buildApp(outdir).synth();
    const fresh = readdirSync(outdir).sort();
    const committed = readdirSync(DIST).filter(f => f.endsWith('.k8s.yaml')).sort();
    const missing = fresh.filter(f => !committed.includes(f));
    const stale = committed.filter(f => !fresh.includes(f));
    if (missing.length > 0 || stale.length > 0) {
      throw new Error(`dist/ lacks [${missing.join(', ')}] and has stale [${stale.join(', ')}]: ${FIX}`);
    }
    for (const file of fresh) {
      const [before, after] = [readFileSync(join(DIST, file), 'utf8'), readFileSync(join(outdir, file), 'utf8')];
      if (before !== after) throw new Error(`dist/${file} differs from a fresh synth (${firstDifference(before, after)}): ${FIX}`);
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('the drift message points at the first differing line', () => {
  expect(firstDifference('a\nb\nc', 'a\nB\nc')).toBe('line 2: committed "b" / fresh "B"');
  expect(firstDifference('a', 'a\nb')).toBe('line 2: committed "<end>" / fresh "b"');
});
