import { Testing } from 'cdk8s';
import { ProductionChart } from '../charts/production-chart';
import { externalRequirements } from '../lib/render';
import { crdValidators } from './support/crd-validators';
import { findObject } from './support/find';
import { namespacedChartProblems } from './support/guide-chart';
import { checkManifests, Manifest } from './support/manifest-checks';

const manifests = Testing.synth(new ProductionChart(Testing.app(), 'hscale', { namespace: 'hscale' }));
const find = (kind: string, name: string) => findObject(manifests, kind, name);

test('every object of the production chart passes the manifest checks', async () => {
  await expect(checkManifests(manifests, { validators: crdValidators() })).resolves.toBeUndefined();
});

test('the chart\'s restricted Namespace comes first, and every other object lives in it', async () => {
  expect(await namespacedChartProblems(manifests, 'hscale')).toEqual([]);
});

test('the API is wired to the database and the cache with credentials from Secrets only', () => {
  const env: Manifest[] = find('Deployment', 'hscale-api').spec.template.spec.containers[0].env;
  const names = env.map(e => e.name);
  expect(names).toEqual(expect.arrayContaining(['DATABASE_URL', 'POSTGRES_READ_REPLICAS', 'PGUSER', 'PGPASSWORD', 'REDIS_CLUSTER_NODES', 'REDIS_PASSWORD']));
  for (const secret of ['PGUSER', 'PGPASSWORD', 'REDIS_PASSWORD', 'ADMIN_TOKEN', 'AUTH_SIGNING_KEY']) {
    expect(env.find(e => e.name === secret)).toEqual({ name: secret, valueFrom: { secretKeyRef: expect.any(Object) } });
  }
  // Every Patroni member (the leader and 2 replicas): the service reads from those in recovery.
  expect(env.find(e => e.name === 'POSTGRES_READ_REPLICAS')!.value.split(',')).toHaveLength(3);
  expect(env.find(e => e.name === 'REDIS_CLUSTER_NODES')!.value.split(',')).toHaveLength(6);
});

test('the key of the write tokens reaches the API from a Secret the chart generates, so the chart applies without one and writes need a token', () => {
  const env: Manifest[] = find('Deployment', 'hscale-api').spec.template.spec.containers[0].env;
  expect(env.find(e => e.name === 'AUTH_SIGNING_KEY')).toEqual({ name: 'AUTH_SIGNING_KEY', valueFrom: { secretKeyRef: { name: 'hscale-api-auth', key: 'signing-key' } } });
  const requirements = externalRequirements(manifests);
  expect(requirements.createdSecrets).toContainEqual({ namespace: 'hscale', name: 'hscale-api-auth', by: expect.stringMatching(/^Job\/hscale-secrets-/) });
  expect(requirements.secrets.map(s => s.name)).toEqual(['hscale-tls']);
});

test('the API may reach only DNS, PostgreSQL and Redis, and is reached only by the load balancer and Prometheus', () => {
  const policy = find('NetworkPolicy', 'hscale-api').spec;
  expect(policy.egress.map((rule: Manifest) => rule.ports.map((p: Manifest) => p.port))).toEqual([[53, 53], [5432], [6379], [6379], [26379]]);
  expect(policy.ingress.map((rule: Manifest) => rule.from[0].podSelector.matchLabels['app.kubernetes.io/name']
    ?? rule.from[0].podSelector.matchLabels['app.kubernetes.io/instance']).sort()).toEqual(['hscale-lb', 'prometheus']);
});

test('the cache evicts any key (LRU) and the queue has a Redis of its own that never evicts, which the API and workers reach as QUEUE_REDIS_*', () => {
  expect(find('ConfigMap', 'hscale-cache').data['redis.conf']).toContain('maxmemory-policy allkeys-lru');
  expect(find('ConfigMap', 'hscale-queue').data['redis.conf']).toContain('maxmemory-policy noeviction');
  for (const deployment of ['hscale-api', 'hscale-jobs']) {
    const env: Manifest[] = find('Deployment', deployment).spec.template.spec.containers[0].env;
    expect(env.find(e => e.name === 'REDIS_CLUSTER_NODES')!.value).toContain('hscale-cache-0');
    expect(env.find(e => e.name === 'QUEUE_REDIS_SENTINELS')!.value).toContain('hscale-queue-sentinel-0');
    expect(env.find(e => e.name === 'QUEUE_REDIS_PASSWORD')).toEqual({ name: 'QUEUE_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'hscale-queue-auth', key: 'password' } } });
  }
});

test('the API accepts jobs for the worker pool\'s queue, and the nightly schedule enqueues onto it', () => {
  const apiEnv: Manifest[] = find('Deployment', 'hscale-api').spec.template.spec.containers[0].env;
  expect(apiEnv.find(e => e.name === 'WORKER_QUEUES')).toEqual({ name: 'WORKER_QUEUES', value: 'items' });
  const cron = find('CronJob', 'hscale-jobs-aggregate');
  expect(cron.spec).toMatchObject({ schedule: '0 2 * * *', concurrencyPolicy: 'Forbid' });
  expect(cron.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual(['items', 'items.aggregate', '{}']);
  expect(find('ScaledObject', 'hscale-jobs').spec.triggers[0].metadata.listName).toBe('{hscale}:items:wait');
});
