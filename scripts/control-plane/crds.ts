import { execFile } from 'child_process';
import { existsSync, readdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { KNOWN_OPERATORS } from '../../lib/cluster/requirements';

const execFileAsync = promisify(execFile);

/** Where the CustomResourceDefinitions of one operator's API group come from. */
export interface CrdSource {
  readonly group: string;
  /** The Go module that ships the CRD YAML, at the release `lib/requirements.ts` names. */
  readonly module: string;
  /** Directory of the CRD files inside the module. */
  readonly dir: string;
  /** Only these files of `dir` (all `*.yaml` when absent). */
  readonly files?: string[];
  /** The module's release, where `lib/requirements.ts` names none. @default - the release `lib/requirements.ts` names */
  readonly release?: string;
}

/**
 * The operators' CRDs, by API group, from the projects' own Go modules. The Go module proxy
 * refuses to list CloudNativePG's versions (403 on `@v/list`) but serves a named release, so its
 * release is named here: v1.30.0, the release line of the later build vendored in
 * `crds/cloudnative-pg.yaml` that `hscale/testing` validates against.
 */
export const CRD_SOURCES: CrdSource[] = [
  {
    group: 'monitoring.coreos.com',
    module: 'github.com/prometheus-operator/prometheus-operator',
    dir: 'example/prometheus-operator-crd',
    files: ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_podmonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'],
  },
  { group: 'keda.sh', module: 'github.com/kedacore/keda/v2', dir: 'config/crd/bases' },
  { group: 'gateway.networking.k8s.io', module: 'sigs.k8s.io/gateway-api', dir: 'config/crd/standard' },
  {
    group: 'postgresql.cnpg.io',
    module: 'github.com/cloudnative-pg/cloudnative-pg',
    release: 'v1.30.0',
    dir: 'config/crd/bases',
    files: ['postgresql.cnpg.io_clusters.yaml', 'postgresql.cnpg.io_poolers.yaml', 'postgresql.cnpg.io_scheduledbackups.yaml'],
  },
];

/** The release of `group`'s CRDs that `lib/requirements.ts` says the charts are tested with. */
export function testedRelease(group: string): string | undefined {
  return KNOWN_OPERATORS[group]?.testedWith.match(/\bv\d+\.\d+\.\d+\b/)?.[0];
}

/** `go mod download -json module@version` (from Go's module cache once downloaded): the module's directory. */
export async function moduleDir(module: string, version: string): Promise<string> {
  const { stdout } = await execFileAsync('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: tmpdir(), timeout: 300_000, maxBuffer: 4 * 1024 * 1024,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`go mod download ${module}@${version} failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  });
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? 'no directory'}`);
  return info.Dir;
}

/** The CRD files to install, with where each comes from. */
export async function crdFiles(sources: CrdSource[] = CRD_SOURCES): Promise<Array<{ group: string; from: string; file: string }>> {
  const out: Array<{ group: string; from: string; file: string }> = [];
  for (const source of sources) {
    const version = source.release ?? testedRelease(source.group);
    if (!version) throw new Error(`lib/requirements.ts names no release for ${source.group}`);
    const dir = join(await moduleDir(source.module, version), source.dir);
    const files = source.files ?? readdirSync(dir).filter(f => f.endsWith('.yaml')).sort();
    for (const file of files) {
      const path = join(dir, file);
      if (!existsSync(path)) throw new Error(`${source.module}@${version} has no ${source.dir}/${file}`);
      out.push({ group: source.group, from: `${source.module}@${version}/${source.dir}/${file}`, file: path });
    }
  }
  return out;
}
