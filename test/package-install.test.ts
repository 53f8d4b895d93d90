import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { builtinModules } from 'module';
import { tmpdir } from 'os';
import { join } from 'path';
import { npm, packLibrary, REPO_ROOT as ROOT, userEnv as env } from './support/package';
import { run } from './support/processes';

/*
 * The package as a user gets it: `npm pack`, installed into a fresh project together with the
 * peer dependencies at the low end of their declared ranges and again at the newest they admit,
 * a chart with every construct type-checked (skipLibCheck false) and run in TypeScript, plain
 * JavaScript (CommonJS) and an ES module, each checked with hscale/testing.
 */
jest.setTimeout(600_000);

const FIXTURES = join(__dirname, 'fixtures', 'consumer');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const manifest = readJson(join(ROOT, 'package.json'));
const peers: Record<string, string> = manifest.peerDependencies;
// What only the reference service uses (bullmq: its queue library to come) must never reach a chart project.
const SERVICE_ONLY = [...new Set([...Object.keys(readJson(join(ROOT, 'service', 'package.json')).dependencies),
  'express', 'pino', 'postgres', 'prom-client', 'redis', 'zod', 'bullmq'])];
const CONSTRUCTS_PEERS = ['cdk8s', 'constructs', 'cdk8s-plus-27'];

/** The lowest version a range admits: the first alternative's version, `^2.64.2 || ^3` -> 2.64.2. */
const lowEnd = (range: string) => range.split('||')[0].trim().replace(/^[\^~]|^>=/, '');

const VARIANTS = {
  lowest: Object.fromEntries(Object.entries(peers).map(([name, range]) => [name, lowEnd(range)])),
  // The newest of the last release line a range admits. Not the whole range: npm prefers releases
  // whose `engines` admit the running Node, and the ESM-only model releases ask for Node >= 22.
  newest: Object.fromEntries(Object.entries(peers).map(([name, range]) => [name, range.split('||').pop()!.trim()])),
};
type Variant = keyof typeof VARIANTS;

const work = mkdtempSync(join(tmpdir(), 'hscale-install-'));
let tarball: Promise<string>;
const installs: Partial<Record<Variant, Promise<Installed>>> = {};

interface Installed {
  readonly dir: string;
  readonly outputs: string[];
}

beforeAll(() => {
  tarball = packLibrary(work);
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    installs[variant] = tarball.then(file => installAndRun(variant, file));
    installs[variant]!.catch(() => undefined); // awaited by the tests; not unhandled meanwhile
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function installAndRun(variant: Variant, file: string): Promise<Installed> {
  const dir = join(work, variant);
  cpSync(FIXTURES, dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: `consumer-${variant}`, version: '1.0.0', private: true,
    dependencies: { hscale: `file:${file}`, ...VARIANTS[variant] },
    devDependencies: { 'typescript': manifest.devDependencies.typescript, '@types/node': manifest.devDependencies['@types/node'] },
  }, null, 2));
  // Exact versions come from the cache; the newest must be looked up, as a cached list may be old.
  await npm(['install', variant === 'lowest' ? '--prefer-offline' : '--prefer-online', '--no-audit', '--no-fund'], dir);
  const node = (script: string) => run('node', [script], { cwd: dir, env, timeoutMs: 300_000 });
  const typescript = run('npx', ['tsc', '-p', '.'], { cwd: dir, env, timeoutMs: 300_000 }).then(() => node('out/chart.js'));
  return { dir, outputs: await Promise.all([typescript, node('chart.js'), node('esm.mjs')]) };
}

const installedVersion = (dir: string, name: string) => readJson(join(dir, 'node_modules', name, 'package.json')).version as string;
const compareVersions = (a: string, b: string) => {
  const [x, y] = [a, b].map(v => v.split('.').map(Number));
  return x.map((n, i) => n - y[i]).find(d => d !== 0) ?? 0;
};

test('the tarball holds the built library with declarations and maps, the CRDs, the runbooks, README, LICENSE and CHANGELOG, and nothing else', async () => {
  const files = (await run('tar', ['-tzf', await tarball])).trim().split('\n').map(f => f.replace(/^package\//, ''));
  expect(files).toEqual(expect.arrayContaining([
    'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'crds/cloudnative-pg.yaml', 'docs/runbooks/alerts.md',
    'lib-dist/index.js', 'lib-dist/index.d.ts', 'lib-dist/index.js.map', 'lib-dist/index.d.ts.map',
    'lib-dist/testing/index.js', 'lib-dist/testing/index.d.ts', 'lib-dist/imports/postgresql.cnpg.io.js',
  ]));
  const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|scripts\/postinstall\.cjs|crds\/cloudnative-pg\.yaml|docs\/runbooks\/[\w-]+\.md|lib-dist\/.+\.(js|d\.ts)(\.map)?|lib\/(?!imports\/).+\.ts)$/;
  expect(files.filter(f => !allowed.test(f))).toEqual([]);
});

test('every module the built library requires at run time is a dependency or a peer dependency', async () => {
  const dir = join(work, 'unpacked');
  await run('mkdir', ['-p', dir]);
  await run('tar', ['-xzf', await tarball, '-C', dir]);
  const libDist = join(dir, 'package', 'lib-dist');
  const required = new Set<string>();
  for (const file of readdirSync(libDist, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.js'))) {
    for (const [, spec] of readFileSync(join(libDist, file), 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
      if (spec.startsWith('.')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!builtinModules.includes(name.replace(/^node:/, ''))) required.add(name);
    }
  }
  const declared = new Set([...Object.keys(manifest.dependencies), ...Object.keys(peers)]);
  expect([...required].filter(name => !declared.has(name))).toEqual([]);
  // The check sees the imports it must: the constructs' peers and yaml.
  expect([...required]).toEqual(expect.arrayContaining(['cdk8s', 'constructs', 'cdk8s-plus-27', 'yaml']));
});

test.each(Object.keys(VARIANTS) as Variant[])('installed with the peers at the %s versions, a chart of every construct type-checks, synthesizes and passes hscale/testing in TypeScript, CommonJS and ESM', async variant => {
  const { dir, outputs } = await installs[variant]!;
  expect(outputs).toEqual([
    expect.stringMatching(/^shop: \d+ objects\nall: \d+ objects\n$/),
    expect.stringMatching(/^shop: \d+ objects\nall: \d+ objects\n$/),
    expect.stringMatching(/^esm: \d+ objects\n$/),
  ]);
  const installed = Object.fromEntries(Object.keys(peers).map(name => [name, installedVersion(dir, name)]));
  // Each variant has its own expectation; the test runs once per variant, so each branch runs.
  /* eslint-disable jest/no-conditional-expect */
  if (variant === 'lowest') {
    expect(installed).toEqual(VARIANTS.lowest);
  } else {
    // The newest is at least what this repository's own tests use.
    const pinned = (name: string): string => manifest.devDependencies[name].replace(/^\^/, '');
    expect(Object.entries(installed).filter(([name, version]) => compareVersions(version, pinned(name)) < 0)).toEqual([]);
  }
  /* eslint-enable jest/no-conditional-expect */
  // One copy of each peer, the user's: a second one under hscale would make their Chart no Construct of ours.
  expect(CONSTRUCTS_PEERS.filter(name => existsSync(join(dir, 'node_modules', 'hscale', 'node_modules', name)))).toEqual([]);
  expect(SERVICE_ONLY.filter(name => existsSync(join(dir, 'node_modules', name)))).toEqual([]);
});
