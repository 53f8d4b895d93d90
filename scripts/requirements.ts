import { readdirSync, readFileSync } from 'fs';
import { basename, join } from 'path';
import { parseAllDocuments } from 'yaml';
import { externalRequirements, KubeObject, renderApplySteps } from '../lib/cluster/requirements';

/** The objects of a synthesized manifest file. */
export function readManifests(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map(d => d.toJS()).filter(Boolean);
}

/** The `dist/*.k8s.yaml` files, or the one `--chart <file>` names. */
export function chartFiles(args: string[], dist = join(__dirname, '..', 'dist')): string[] {
  const at = args.indexOf('--chart');
  if (at !== -1) {
    if (!args[at + 1]) throw new Error('--chart needs a file, e.g. --chart dist/hscale.k8s.yaml');
    return [args[at + 1]];
  }
  return readdirSync(dist).filter(f => f.endsWith('.k8s.yaml')).sort().map(f => join(dist, f));
}

/** The Apply steps of every chart file, as docs/apply.md holds them. */
export function renderApplySection(files: string[]): string {
  return files.map(file => renderApplySteps(`dist/${basename(file)}`, externalRequirements(readManifests(file)))).join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const files = chartFiles(args);
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(Object.fromEntries(files.map(f => [basename(f), externalRequirements(readManifests(f))])), undefined, 2)}\n`);
  } else {
    process.stdout.write(renderApplySection(files));
  }
}
