/* eslint-disable @typescript-eslint/no-explicit-any */
import { existsSync } from 'fs';
import { join } from 'path';
import { pathToFileURL } from 'url';

/** A model class of kubernetes-models: built from an object, its `validate()` throws on a schema error. */
export type ModelClass = new (data: Record<string, any>) => { validate(): void };

/** What a lookup found: the model class, or why there is none. */
export type ModelLookup = { readonly model: ModelClass } | { readonly missing: string };

// The packages that hold the models of each API group; every other group is in kubernetes-models.
const GROUP_PACKAGES: Record<string, string> = {
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'keda.sh': '@kubernetes-models/keda',
  'cert-manager.io': '@kubernetes-models/cert-manager',
};

// Node's own module loader, also under Jest: Jest's require cannot load the ESM-only releases
// (kubernetes-models 5, prometheus-operator 5 and 6, keda and gateway-api 2), and its import()
// needs --experimental-vm-modules. A module compiled by Node's CJS loader gets Node's import().
// (TypeScript would turn an import() written here into require() under module commonjs.)
// eslint-disable-next-line @typescript-eslint/consistent-type-imports -- the type of a Node builtin, which can be in no cycle
const NativeModule = process.getBuiltinModule('module') as typeof import('module') & {
  _nodeModulePaths(dir: string): string[];
};
const importer = new NativeModule(__filename) as unknown as {
  filename: string; paths: string[]; exports: (url: string) => Promise<any>;
  _compile(code: string, filename: string): void;
};
importer.filename = __filename;
importer.paths = NativeModule._nodeModulePaths(__dirname);
importer._compile('module.exports = (url) => import(url);', __filename);
const nativeRequire = NativeModule.createRequire(__filename);

const loaded = new Map<string, Promise<any>>();

/**
 * The model class of `apiVersion`/`kind` from the installed kubernetes-models packages, either
 * release line: 4.x (CommonJS) or 5.x (ESM only), loaded with `import()`.
 */
export async function findModel(apiVersion: string, kind: string): Promise<ModelLookup> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const pkg = GROUP_PACKAGES[group] ?? 'kubernetes-models';
  const packageDir = findPackageDir(pkg);
  if (!packageDir) return { missing: `install ${pkg} (an optional peer dependency of hscale) or pass a validator` };
  // Both release lines keep each API version in <group>/<version>/index.js (core: v1/index.js).
  const file = join(packageDir, group, version, 'index.js');
  if (!existsSync(file)) return { missing: 'pass a validator' };
  if (!loaded.has(file)) loaded.set(file, importer.exports(pathToFileURL(file).href));
  const module = await loaded.get(file);
  // import() of a CommonJS file exposes what it exports under `default`.
  const model = module[kind] ?? module.default?.[kind];
  return typeof model === 'function' ? { model } : { missing: 'pass a validator' };
}

/** The directory of an installed package, looked up from here as `require` would. */
function findPackageDir(pkg: string): string | undefined {
  return (nativeRequire.resolve.paths(pkg) ?? [])
    .map(dir => join(dir, pkg))
    .find(dir => existsSync(join(dir, 'package.json')));
}
