import { Manifest } from './manifest-checks';

/**
 * The object of `kind` named `name`, or whose name matches it (the cluster-create Job's name ends
 * with a hash of its spec), the first of its kind when no name is given. Throws a
 * message naming what it looked for and the objects of that kind there are, where a `!` would
 * leave a TypeError on the next property read.
 */
export function findObject(manifests: Manifest[], kind: string, name?: string | RegExp): Manifest {
  const found = manifests.find(m => m.kind === kind && (name === undefined || (name instanceof RegExp ? name.test(m.metadata.name) : m.metadata.name === name)));
  if (found === undefined) {
    const names = manifests.filter(m => m.kind === kind).map(m => m.metadata.name);
    throw new Error(`no ${kind}${name === undefined ? '' : `/${name}`} in the manifests; the ${kind} objects are: ${names.join(', ') || 'none'}`);
  }
  return found;
}
