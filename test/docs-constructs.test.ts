import { readFileSync } from 'fs';
import { join } from 'path';
import { PROP_SCHEMAS, PropsInterface } from '../lib/core/generated/prop-schemas';

/*
 * Each construct's page names every prop of its props interface, so a new prop cannot ship
 * undocumented: the failure names the page and the props it lacks.
 */
const PAGES: Partial<Record<PropsInterface, string>> = {
  GeneratedSecretsProps: 'generated-secrets.md',
  HorizontalScalingTopologyProps: 'horizontal-scaling-topology.md',
  LoadBalancerProps: 'load-balancer.md',
  ObservabilityProps: 'observability.md',
  PgReplicaSetProps: 'pg-replica-set.md',
  PodSecurityNamespaceProps: 'pod-security-namespace.md',
  RedisClusterProps: 'redis-cluster.md',
  ScaledApiProps: 'scaled-api.md',
  WorkerPoolProps: 'worker-pool.md',
};

/** A prop counts as named when the page quotes it as code: `prop` in prose or a table, or `prop:` in an example. */
const names = (page: string, prop: string) => page.includes(`\`${prop}\``) || new RegExp(`[{,\\s]${prop}:`).test(page);

test.each(Object.entries(PAGES))('the page of %s names each of its props', (iface, file) => {
  const page = readFileSync(join(__dirname, '..', 'docs', 'constructs', file), 'utf8');
  const props = Object.keys(PROP_SCHEMAS.definitions[iface as PropsInterface].properties);
  expect(props.length).toBeGreaterThan(0);
  expect(props.filter(prop => !names(page, prop))).toEqual([]);
});
