import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { importPathTitles, standardTags, writeApiDocs } from '../scripts/api-docs';
import { npm, REPO_ROOT, withLibDist } from './support/package';

jest.setTimeout(300_000);

const COMMITTED = join(REPO_ROOT, 'docs', 'api');
const fresh = mkdtempSync(join(tmpdir(), 'hscale-api-docs-'));

afterAll(() => rmSync(fresh, { recursive: true, force: true }));

const pages = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map(page => [page, readFileSync(join(dir, page), 'utf8')]));

test('docs/api is what npm run docs:api renders from the current lib/ (run it after a change to the public API or its TSDoc)', async () => {
  // GIVEN the library built from lib/ as it is
  await withLibDist(async () => {
    await npm(['run', 'build:lib'], REPO_ROOT);
    // WHEN
    writeApiDocs(fresh);
  });
  // THEN
  const [committed, rendered] = [pages(COMMITTED), pages(fresh)];
  expect(Object.keys(committed)).toEqual(Object.keys(rendered));
  expect(Object.keys(rendered).filter(page => committed[page] !== rendered[page])).toEqual([]);
  expect(rendered['hscale.scaledapiprops.minreplicas.md']).toContain('## Default Value\n\n3\n');
});

test('lib\'s @default and @onlyWhen become the tags API Documenter renders', () => {
  expect(standardTags('/** Serve HTTP/2. @default false @onlyWhen mode=nginx */')).toBe('/** Serve HTTP/2. @defaultValue false (only when mode=nginx) */');
  expect(standardTags('/** @defaultValue 3 */')).toBe('/** @defaultValue 3 */');
});

test('the subpath packages are called by their import paths, and their file names stay link targets', () => {
  expect(importPathTitles('[Home](./index.md) &gt; [hscale-render](./hscale-render.md)\n\n## hscale-render package'))
    .toBe('[Home](./index.md) &gt; [hscale/render](./hscale-render.md)\n\n## hscale/render package');
});

test('every public member of every construct is documented in the API report, so each object a construct exposes says what it is', () => {
  const report = readFileSync(join(REPO_ROOT, 'etc', 'hscale.api.md'), 'utf8');
  const constructs = [...report.matchAll(/^export class (\w+) extends Construct[^\n]*\n([\s\S]*?)^}/gm)];
  expect(constructs.map(([, name]) => name)).toEqual(expect.arrayContaining(['PgReplicaSet', 'RedisCluster', 'Observability', 'LoadBalancer', 'ScaledApi', 'WorkerPool']));
  const undocumented = constructs.flatMap(([, name, body]) =>
    [...body.matchAll(/\/\/ \(undocumented\)\n\s+(?:readonly |get )?(\w+)/g)].map(([, member]) => `${name}.${member}`));
  expect(undocumented).toEqual([]);
});
