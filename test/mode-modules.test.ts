import { Testing } from 'cdk8s';
import { PropsInterface, PROP_SCHEMAS } from '../lib/core/generated/prop-schemas';
import { ModeModule } from '../lib/core/mode';
import { validateProps } from '../lib/core/prop-validation';
import { LOAD_BALANCER_MODES } from '../lib/load-balancer/load-balancer';
import { OBSERVABILITY_MODES } from '../lib/observability/observability';
import { PG_ENGINES } from '../lib/postgres/pg-replica-set';
import { REDIS_MODES } from '../lib/redis/modes';

// Every construct with modes writes them one way (lib/core/mode.ts): a module per mode that names
// the props only it reads. Those props carry `@onlyWhen` in the props interface, from which the prop
// schema refuses them in every other mode; these tests hold the modules and the schema to each other.

type AnyModule = ModeModule<object, unknown, unknown, unknown>;

interface Family {
  readonly type: PropsInterface;
  readonly modeProp: string;
  readonly registry: Record<string, AnyModule>;
}

const FAMILIES: Record<string, Family> = {
  LoadBalancer: { type: 'LoadBalancerProps', modeProp: 'mode', registry: LOAD_BALANCER_MODES as unknown as Record<string, AnyModule> },
  Observability: { type: 'ObservabilityProps', modeProp: 'mode', registry: OBSERVABILITY_MODES as unknown as Record<string, AnyModule> },
  RedisCluster: { type: 'RedisClusterProps', modeProp: 'mode', registry: REDIS_MODES as unknown as Record<string, AnyModule> },
  PgReplicaSet: { type: 'PgReplicaSetProps', modeProp: 'engine', registry: PG_ENGINES as unknown as Record<string, AnyModule> },
};

interface ModeRule { readonly prop: string; readonly props: Record<string, string[]> }

function schemaRule(type: PropsInterface): ModeRule | undefined {
  const definitions = PROP_SCHEMAS.definitions as Record<string, { onlyWhen?: ModeRule }>;
  return definitions[type].onlyWhen;
}

/** The modes each prop is own to, as the modules declare them. */
function ownership(registry: Record<string, AnyModule>): Record<string, string[]> {
  const owners: Record<string, string[]> = {};
  for (const module of Object.values(registry)) {
    for (const prop of module.ownProps) (owners[prop] ??= []).push(module.name);
  }
  return owners;
}

describe.each(Object.entries(FAMILIES))('%s', (_construct, family) => {
  test('each module is registered under its own name', () => {
    for (const [key, module] of Object.entries(family.registry)) expect(module.name).toBe(key);
  });

  test('the props each module owns are the props the schema gives to that mode alone', () => {
    const rule = schemaRule(family.type);
    expect(rule?.prop).toBe(family.modeProp);
    const sorted = (owners: Record<string, string[]>) => Object.fromEntries(Object.entries(owners).map(([p, m]) => [p, [...m].sort()]).sort());
    expect(sorted(ownership(family.registry))).toEqual(sorted(rule!.props));
  });

  test('throws error, when a prop of another mode is given, naming the path, the prop, the mode and the modes it belongs to', () => {
    const owners = ownership(family.registry);
    const cases = Object.keys(family.registry).flatMap(mode =>
      Object.entries(owners).filter(([, modes]) => !modes.includes(mode)).map(([prop, modes]) => ({ mode, prop, modes })));
    expect(cases.length).toBeGreaterThan(0);
    for (const { mode, prop, modes } of cases) {
      const scope = Testing.chart();
      const quoted = modes.map(m => `'${m}'`);
      const owned = quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}` : quoted[0];
      expect(() => validateProps(scope, family.type, { [family.modeProp]: mode, [prop]: 1 }))
        .toThrow(`${scope.node.path}: '${prop}' (1) does not apply to ${family.modeProp} '${mode}': it is a prop of ${family.modeProp} ${owned}`);
    }
  });
});
