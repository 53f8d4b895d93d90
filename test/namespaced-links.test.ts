import { App, Chart, Testing } from 'cdk8s';
import { LoadBalancer, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { checkManifests } from './support/manifest-checks';

/*
 * A link (database, cache, broker, backend) carries no namespace: the client's pods read the linked
 * construct's Secrets from their own namespace, and its NetworkPolicy admits clients of its own
 * namespace. So a link between charts works within one namespace and is refused across two.
 */
function charts(app: App, clientNamespace?: string, dataNamespace?: string) {
  const data = new Chart(app, 'data', { namespace: dataNamespace });
  const client = new Chart(app, 'client', { namespace: clientNamespace });
  const database = new PgReplicaSet(data, 'db', { replicas: 1 });
  const cache = new RedisCluster(data, 'cache', { mode: 'standalone', maxmemoryPolicy: 'noeviction' });
  return { data, client, database, cache };
}

const WHY = 'its clients read its Secrets from their own namespace, and its NetworkPolicy admits clients of its own namespace only';

test('throws error, when a ScaledApi links a database, cache or queue broker of another namespace', () => {
  const { client, database, cache } = charts(Testing.app(), 'shop', 'data');
  expect(() => new ScaledApi(client, 'api', { image: 'example/api:1.0.0', database }))
    .toThrow(`client/api: 'database' ("PgReplicaSet data/db") must be in this construct's namespace, 'shop', not 'data': ${WHY}`);
  expect(() => new ScaledApi(client, 'api-cache', { image: 'example/api:1.0.0', cache }))
    .toThrow('client/api-cache: \'cache\' ("RedisCluster data/cache") must be in this construct\'s namespace, \'shop\', not \'data\'');
  expect(() => new ScaledApi(client, 'api-queue', { image: 'example/api:1.0.0', queueBroker: cache }))
    .toThrow('client/api-queue: \'queueBroker\' ("RedisCluster data/cache") must be in this construct\'s namespace, \'shop\', not \'data\'');
});

test('throws error, when a WorkerPool links a broker, cache or database of another namespace, whatever scales it', () => {
  const app = Testing.app();
  const { client, database, cache } = charts(app, 'shop', 'data');
  const ownBroker = new RedisCluster(client, 'queue', { mode: 'standalone', maxmemoryPolicy: 'noeviction' });
  const pool = { image: 'example/worker:1.0.0', queues: ['emails'] };
  expect(() => new WorkerPool(client, 'jobs', { ...pool, broker: cache }))
    .toThrow(`client/jobs: 'broker' ("RedisCluster data/cache") must be in this construct's namespace, 'shop', not 'data': ${WHY}`);
  // Not only KEDA's Secret: the workers' own pods read the broker's password in their namespace.
  expect(() => new WorkerPool(client, 'cpu-jobs', { ...pool, broker: cache, autoscalerKind: 'cpu' })).toThrow(/'broker' .* must be in this construct's namespace/);
  expect(() => new WorkerPool(client, 'db-jobs', { ...pool, broker: ownBroker, database }))
    .toThrow('client/db-jobs: \'database\' ("PgReplicaSet data/db") must be in this construct\'s namespace, \'shop\', not \'data\'');
});

test('throws error, when a LoadBalancer fronts a backend of another namespace, or of a chart with no namespace', () => {
  const app = Testing.app();
  const api = new ScaledApi(new Chart(app, 'apps', { namespace: 'apps' }), 'api', { image: 'example/api:1.0.0' });
  expect(() => new LoadBalancer(new Chart(app, 'edge', { namespace: 'edge' }), 'lb', { backend: api }))
    .toThrow(`edge/lb: 'backend' ("ScaledApi apps/api") must be in this construct's namespace, 'edge', not 'apps': ${WHY}`);
  expect(() => new LoadBalancer(new Chart(app, 'loose'), 'lb', { backend: api }))
    .toThrow('loose/lb: \'backend\' ("ScaledApi apps/api") must be in this construct\'s namespace, none (the namespace it is applied to), not \'apps\'');
});

test('links between two charts of one namespace synthesize and pass the checks', async () => {
  const app = Testing.app();
  const { client, database, cache } = charts(app, 'shop', 'shop');
  const api = new ScaledApi(client, 'api', { image: 'example/api:1.0.0', database, cache });
  new WorkerPool(client, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker: cache, database });
  new LoadBalancer(client, 'lb', { backend: api });
  for (const chart of app.charts) await checkManifests(Testing.synth(chart));
  const env = Object.fromEntries(Testing.synth(client).find(o => o.kind === 'Deployment' && o.metadata.name === 'client-api')!
    .spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  expect(env.REDIS_URL).toBe('redis://data-cache-0.data-cache-nodes.shop.svc.cluster.local:6379');
});
