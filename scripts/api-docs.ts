/**
 * The API reference in docs/api/: API Extractor's doc model of each public entry point (hscale,
 * hscale/render, hscale/testing), read from the built declarations in lib-dist/, rendered to
 * Markdown by API Documenter. `npm run docs:api` writes it; test/api-docs.test.ts fails when the
 * committed pages differ from a fresh rendering.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const ROOT = join(__dirname, '..');

/** Each entry point's API Extractor config, and the package name its pages go under. */
const ENTRY_POINTS = [
  { config: 'etc/api-extractor.json', name: 'hscale' },
  { config: 'etc/api-extractor.render.json', name: 'hscale-render' },
  { config: 'etc/api-extractor.testing.json', name: 'hscale-testing' },
];

/**
 * The TSDoc of lib/ in the standard tags API Documenter renders: `@default` (the aws-cdk habit the
 * prop schemas read too) is TSDoc's `@defaultValue`; `@onlyWhen` (read by the schemas) becomes text.
 */
export const standardTags = (docComment: string) =>
  docComment.replace(/@default\b/g, '@defaultValue').replace(/@onlyWhen\s+(\S+)/g, '(only when $1)');

/**
 * Writes the doc model of one entry point to `file`. Each model is a package named `hscale` (the
 * package.json's name), and API Documenter makes one page set per package name, which must be an
 * npm name: the subpaths are `hscale-render` and `hscale-testing` there (see `importPathTitles`).
 */
function writeDocModel(config: string, name: string, file: string): void {
  const configFile = join(ROOT, config);
  const configObject = ExtractorConfig.loadFile(configFile);
  const prepared = ExtractorConfig.prepare({
    configObject: { ...configObject, apiReport: { ...configObject.apiReport!, enabled: false }, docModel: { enabled: true, apiJsonFilePath: file } },
    configObjectFullPath: configFile,
    packageJsonFullPath: join(ROOT, 'package.json'),
  });
  const result = Extractor.invoke(prepared, { localBuild: true, messageCallback: message => { message.handled = true; } });
  if (!result.succeeded) throw new Error(`api-extractor failed for ${config}: ${result.errorCount} errors`);
  const model = JSON.parse(readFileSync(file, 'utf8'), (key, value) => key === 'docComment' ? standardTags(value) : value);
  writeFileSync(file, JSON.stringify({ ...model, name }, undefined, 2));
}

/** A page's text with the subpath packages called by their import paths; link targets (`./hscale-render.x.md`) keep their file names. */
export const importPathTitles = (page: string) => page.replace(/(?<!\.\/)\bhscale-(render|testing)\b/g, 'hscale/$1');

/** Renders the API reference of the built lib-dist/ into `outDir` (emptied first by API Documenter). */
export function writeApiDocs(outDir: string): void {
  const models = mkdtempSync(join(tmpdir(), 'hscale-doc-model-'));
  try {
    ENTRY_POINTS.forEach(({ config, name }, i) => writeDocModel(config, name, join(models, `${i}.api.json`)));
    execFileSync(join(ROOT, 'node_modules', '.bin', 'api-documenter'), ['markdown', '-i', models, '-o', outDir], { stdio: 'pipe' });
    // API Documenter writes CRLF; the repository's text files are LF.
    for (const page of readdirSync(outDir)) writeFileSync(join(outDir, page), importPathTitles(readFileSync(join(outDir, page), 'utf8')).replace(/\r\n/g, '\n'));
  } finally {
    rmSync(models, { recursive: true, force: true });
  }
}

if (require.main === module) writeApiDocs(join(ROOT, 'docs', 'api'));
