import { ApiObject, Chart, Testing } from 'cdk8s';
import { Construct } from 'constructs';

/** `Kind/name` of every API object under `construct` in the construct tree, sorted. */
export function objectsMadeBy(construct: Construct): string[] {
  return construct.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject).map(o => `${o.kind}/${o.name}`).sort();
}

/** `Kind/name` of the objects a construct exposes as members, sorted; absent members are left out. */
export function exposed(objects: Array<ApiObject | undefined>): string[] {
  return objects.filter((o): o is ApiObject => o !== undefined).map(o => `${o.kind}/${o.name}`).sort();
}

const REACHED_LABEL = 'test.hscale.io/reached-through-member';

/**
 * Checks that `members` (a construct's public members, absent ones left out) are every object the
 * construct made, and that each is the object synthesized, not a copy: a label set through the
 * member shows on that object in the chart's YAML.
 */
export function expectEveryObjectExposed(construct: Construct, members: Array<ApiObject | undefined>): void {
  const objects = members.filter((o): o is ApiObject => o !== undefined);
  expect(exposed(objects)).toEqual(objectsMadeBy(construct));
  for (const object of objects) object.metadata.addLabel(REACHED_LABEL, 'yes');
  const labelled = Testing.synth(Chart.of(construct)).filter(m => m.metadata?.labels?.[REACHED_LABEL] === 'yes').map(m => `${m.kind}/${m.metadata.name}`);
  expect(labelled.sort()).toEqual(objectsMadeBy(construct));
}
