import { Testing } from 'cdk8s';
import { Construct } from 'constructs';
import fc from 'fast-check';
import { PROP_SCHEMAS, PropsInterface } from '../lib/core/generated/prop-schemas';
import { validateProps } from '../lib/core/prop-validation';

// For every prop of every props interface, nested ones included, a value of a wrong type is refused
// with a message that names the prop's path. The props come from the generated schemas, so a prop
// added to an interface is covered once `npm run schemas` has run.

interface Schema {
  $ref?: string; type?: string | string[]; enum?: unknown[]; const?: unknown; anyOf?: Schema[]; items?: Schema;
  properties?: Record<string, Schema>; additionalProperties?: Schema | boolean; instanceof?: string; implements?: object;
  onlyWhen?: { prop: string; props: Record<string, string[]> };
}
type Segment = { key: string | number; parent: Schema };
interface PropAt { path: Segment[]; schema: Schema }

const DEFINITIONS = PROP_SCHEMAS.definitions as Record<string, Schema>;
const resolve = (s: Schema): Schema => (s.$ref ? resolve(DEFINITIONS[decodeURIComponent(s.$ref.replace('#/definitions/', ''))]) : s);

/** Every prop below `schema`: object keys, the first item of arrays, an entry 'x' of records, and through unions. */
function propsOf(schema: Schema, path: Segment[] = []): PropAt[] {
  const s = resolve(schema);
  if (path.length > 8 || s.instanceof || s.implements) return [];
  const children: Array<[string | number, Schema]> = [
    ...Object.entries(s.properties ?? {}),
    ...(s.items ? [[0, s.items] as [number, Schema]] : []),
    ...(typeof s.additionalProperties === 'object' ? [['x', s.additionalProperties] as [string, Schema]] : []),
  ];
  const own = children.flatMap(([key, child]) => {
    const at = [...path, { key, parent: s }];
    return [{ path: at, schema: child }, ...propsOf(child, at)];
  });
  return [...own, ...(s.anyOf ?? []).flatMap(branch => propsOf(branch, path))];
}

const jsonType = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

/** Whether `value`'s type (not its content) could pass `schema`. */
function typeFits(schema: Schema, value: unknown): boolean {
  const s = resolve(schema);
  if (s.anyOf) return s.anyOf.some(branch => typeFits(branch, value));
  if (s.instanceof || s.implements) return false;
  if (s.const !== undefined) return s.const === value;
  if (s.enum) return s.enum.includes(value);
  if (s.type === undefined) return true;
  const types = ([] as string[]).concat(s.type).map(t => (t === 'integer' ? 'number' : t));
  return types.includes(jsonType(value));
}

const CANDIDATES: unknown[] = ['text', 42, true, ['item'], { key: 'value' }];

/** `value` at `path` inside otherwise empty objects and arrays; a prop of one mode gets that mode beside it. */
function propsWith(path: Segment[], value: unknown): object {
  const root: Record<string | number, unknown> = {};
  let container = root;
  path.forEach((segment, i) => {
    const modes = segment.parent.onlyWhen?.props[String(segment.key)];
    if (modes) container[segment.parent.onlyWhen!.prop] = modes[0];
    if (i === path.length - 1) {
      container[segment.key] = value;
    } else {
      const next = typeof path[i + 1].key === 'number' ? [] : {};
      container[segment.key] = next;
      container = next as Record<string | number, unknown>;
    }
  });
  return root;
}

const pathText = (path: Segment[]) => path.reduce((text, { key }) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${key}` : key), '');

const ROOTS = Object.keys(DEFINITIONS).filter(name => /Props$/.test(name)) as PropsInterface[];

test('the walk reaches nested props of every kind', () => {
  const paths = ROOTS.flatMap(root => propsOf({ $ref: `#/definitions/${root}` }).map(p => `${root}:${pathText(p.path)}`));
  expect(paths).toEqual(expect.arrayContaining([
    'ScaledApiProps:probes.readiness', 'ScaledApiProps:scaleDown.stabilizationWindow', 'ScaledApiProps:scaleUp.policies[0].period',
    'WorkerPoolProps:backoff.delay', 'WorkerPoolProps:schedules.x.cron', 'LoadBalancerProps:routes[0].backend',
    'HorizontalScalingTopologyProps:workers.x.backoff.type', 'HorizontalScalingTopologyProps:observability.retention',
  ]));
  expect(ROOTS.length).toBeGreaterThanOrEqual(9);
});

test.each(ROOTS)('a wrong-type value for any prop of %s is refused, naming the prop path', root => {
  const scope = new Construct(Testing.chart(), 'thing');
  const props = propsOf({ $ref: `#/definitions/${root}` }).filter(p => CANDIDATES.some(v => !typeFits(p.schema, v)));
  expect(props.length).toBeGreaterThan(0);
  for (const prop of props) {
    const wrong = CANDIDATES.filter(v => !typeFits(prop.schema, v));
    fc.assert(fc.property(fc.constantFrom(...wrong), value => {
      expect(() => validateProps(scope, root, propsWith(prop.path, value))).toThrow(`'${pathText(prop.path)}'`);
    }), { numRuns: wrong.length * 2 });
  }
});
