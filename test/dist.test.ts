import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { buildApp } from '../charts/app';
import { podSecurityLabels } from '../lib/cluster/pod-security-namespace';

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

// eslint-disable-next-line jest/expect-expect -- it throws, with a message that says how to fix the drift
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

test('dist/ holds a file per chart: the production chart and the four guides', () => {
  expect(readdirSync(DIST).filter(f => f.endsWith('.k8s.yaml')).sort())
    .toEqual(['bet-intel.k8s.yaml', 'cms.k8s.yaml', 'fastnext.k8s.yaml', 'hscale.k8s.yaml', 'tutormax.k8s.yaml']);
});

test('each file in dist/ starts with its restricted Namespace, and every other object of it lives there', () => {
  for (const file of readdirSync(DIST).filter(f => f.endsWith('.k8s.yaml'))) {
    const [namespace, ...rest] = parseAllDocuments(readFileSync(join(DIST, file), 'utf8')).map(d => d.toJS());
    expect({ file, kind: namespace.kind, labels: namespace.metadata.labels }).toEqual({
      file, kind: 'Namespace', labels: podSecurityLabels('restricted', 'latest'),
    });
    expect({ file, outside: rest.filter(m => m.metadata.namespace !== namespace.metadata.name).map(m => `${m.kind}/${m.metadata.name}`) })
      .toEqual({ file, outside: [] });
  }
});
