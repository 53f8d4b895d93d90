import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** `Kind/name` of every API object under `construct` in the construct tree, sorted. */
export function objectsMadeBy(construct: Construct): string[] {
  return construct.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject).map(o => `${o.kind}/${o.name}`).sort();
}

/** `Kind/name` of the objects a construct exposes as members, sorted; absent members are left out. */
export function exposed(objects: Array<ApiObject | undefined>): string[] {
  return objects.filter((o): o is ApiObject => o !== undefined).map(o => `${o.kind}/${o.name}`).sort();
}
