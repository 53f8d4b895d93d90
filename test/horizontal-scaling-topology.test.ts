import { Testing } from 'cdk8s';
import { HorizontalScalingTopology, HorizontalScalingTopologyProps, PgReplicaSet, RedisCluster } from '../lib';
import { checkManifests, Manifest } from './support/manifest-checks';

function synthTopology(props: Partial<HorizontalScalingTopologyProps> = {}) {
  const chart = Testing.chart();
  const topology = new HorizontalScalingTopology(chart, 'app', { image: 'example/api:1.0.0', ...props });
  return { topology, manifests: Testing.synth(chart) };
}

const names = (manifests: Manifest[], kind: string) => manifests.filter(m => m.kind === kind).map(m => m.metadata.name).sort();
const envOf = (container: Manifest) => Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

test('one construct synthesizes every tier of the guides, wired, and every object passes the checks', async () => {
  const { manifests } = synthTopology();
  expect(manifests.map(m => `${m.kind}/${m.metadata.name}`)).toMatchSnapshot();
  await checkManifests(manifests);
  expect(names(manifests, 'Deployment')).toEqual(['test-app-api', 'test-app-lb']);
  expect(names(manifests, 'StatefulSet')).toEqual(['test-app-cache', 'test-app-db']);
  expect(names(manifests, 'HorizontalPodAutoscaler')).toEqual(['test-app-api', 'test-app-lb']);
  expect(names(manifests, 'PrometheusRule')).toEqual(['test-app-obs-api', 'test-app-obs-nginx', 'test-app-obs-postgresql', 'test-app-obs-recording', 'test-app-obs-redis']);
  const api = manifests.find(m => m.kind === 'Deployment' && m.metadata.name === 'test-app-api')!;
  const env = envOf(api.spec.template.spec.containers[0]);
  expect(env.DATABASE_URL).toContain('test-app-db-rw');
  // Every Patroni member (the leader and 2 replicas): the service reads from those in recovery.
  expect(env.POSTGRES_READ_REPLICAS.split(',')).toHaveLength(3);
  expect(env.REDIS_CLUSTER_NODES.split(',')).toHaveLength(6);
  const hpa = manifests.find(m => m.kind === 'HorizontalPodAutoscaler' && m.metadata.name === 'test-app-api')!;
  expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
});

test('tier props pass through, and worker pools join the Redis and PostgreSQL of the topology', async () => {
  const { topology, manifests } = synthTopology({
    api: { minReplicas: 4, maxReplicas: 12, minAvailable: 3 },
    database: { replicas: 3 },
    workers: {
      emails: { image: 'example/worker:1.0.0', queues: ['emails'], maxReplicas: 5 },
      reports: { image: 'example/worker:1.0.0', queues: ['reports', 'exports'], concurrency: 2 },
    },
  });
  await checkManifests(manifests);
  // The API accepts jobs for every pool's queues.
  expect(envOf(manifests.find(m => m.kind === 'Deployment' && m.metadata.name === 'test-app-api')!.spec.template.spec.containers[0]).WORKER_QUEUES)
    .toBe('emails,reports,exports');
  expect(manifests.find(m => m.kind === 'HorizontalPodAutoscaler' && m.metadata.name === 'test-app-api')!.spec).toMatchObject({ minReplicas: 4, maxReplicas: 12 });
  expect(manifests.find(m => m.kind === 'StatefulSet' && m.metadata.name === 'test-app-db')!.spec.replicas).toBe(4);
  const scaled = manifests.find(m => m.kind === 'ScaledObject')!;
  expect(scaled.metadata.name).toBe('test-app-emails');
  expect(scaled.spec.maxReplicaCount).toBe(5);
  // KEDA reads the queue's own Redis, which never evicts; the cache keeps its LRU.
  expect(scaled.spec.triggers[0].metadata.addresses).toBe(topology.queue!.sentinelHosts.join(','));
  const worker = envOf(manifests.find(m => m.kind === 'Deployment' && m.metadata.name === 'test-app-emails')!.spec.template.spec.containers[0]);
  expect(worker.DATABASE_URL).toContain('test-app-db-rw');
  expect(worker.REDIS_CLUSTER_NODES).toBe(topology.cache.nodes.join(','));
  expect(worker.QUEUE_REDIS_SENTINELS).toBe(topology.queue!.sentinelHosts.join(','));
  expect(names(manifests, 'PrometheusRule')).toContain('test-app-obs-worker');
  expect(topology.queue!.redisConf).toContain('maxmemory-policy noeviction');
  expect(topology.cache.redisConf).toContain('maxmemory-policy allkeys-lru');
});

test('without workers there is no queue Redis, and the Redis is a cache only, evicting any key', () => {
  const { topology } = synthTopology();
  expect(topology.cache.maxmemoryPolicy).toBe('allkeys-lru');
  expect(topology.queue).toBeUndefined();
});

test('throws error, when the workers\' queue Redis is given a policy that evicts', () => {
  expect(() => synthTopology({ queue: { maxmemoryPolicy: 'volatile-lru' }, workers: { emails: { image: 'example/worker:1.0.0', queues: ['emails'] } } }))
    .toThrow('test/app/emails: \'broker\' ("test/app/queue") has maxmemoryPolicy \'volatile-lru\'; a queue\'s Redis must have \'noeviction\'');
});

test('an existing database and cache are used instead of new ones', async () => {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'shared-db', { replicas: 1 });
  const cache = new RedisCluster(chart, 'shared-cache', { mode: 'sentinel' });
  const topology = new HorizontalScalingTopology(chart, 'app', { image: 'example/api:1.0.0', existingDatabase: db, existingCache: cache });
  const manifests = Testing.synth(chart);
  await checkManifests(manifests);
  expect([topology.database, topology.cache]).toEqual([db, cache]);
  expect(names(manifests, 'StatefulSet')).toEqual(['test-shared-cache', 'test-shared-cache-sentinel', 'test-shared-db']);
  const env = envOf(manifests.find(m => m.kind === 'Deployment' && m.metadata.name === 'test-app-api')!.spec.template.spec.containers[0]);
  expect(env.DATABASE_URL).toContain('test-shared-db-rw');
  expect(env.REDIS_SENTINEL_MASTER).toBe('hscale');
});

test('throws error, when a tier is given both as options and as an existing construct', () => {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'shared-db');
  expect(() => new HorizontalScalingTopology(chart, 'app', { image: 'example/api:1.0.0', database: { replicas: 3 }, existingDatabase: db }))
    .toThrow('test/app: \'existingDatabase\' ("test/shared-db") must not be given with \'database\': pass options for a new tier or an existing one, not both');
});

test('observability false leaves monitoring out', () => {
  const { topology, manifests } = synthTopology({ observability: false });
  expect(topology.observability).toBeUndefined();
  expect(manifests.filter(m => m.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
});

test('throws error, when a worker pool takes the id of a tier', () => {
  expect(() => synthTopology({ workers: { api: { image: 'example/worker:1.0.0', queues: ['q'] } } }))
    .toThrow('test/app: \'workers.api\' ("api") is the id of a tier; name worker pools other than \'db\', \'cache\', \'queue\', \'api\', \'lb\', \'obs\'');
});

test('throws error, when a worker pool id is not a DNS label', () => {
  expect(() => synthTopology({ workers: { Send_Mail: { image: 'example/worker:1.0.0', queues: ['q'] } } }))
    .toThrow('test/app: \'workers.Send_Mail\' ("Send_Mail")');
});

test('a tier\'s own validation still names its path', () => {
  expect(() => synthTopology({ api: { minReplicas: 0 } })).toThrow('test/app/api: \'minReplicas\' (0)');
});

test('the Secrets of the tiers made here are generated; those of an existing tier are its owner\'s', () => {
  const chart = Testing.chart();
  const shared = new PgReplicaSet(chart, 'shared-db');
  const topology = new HorizontalScalingTopology(chart, 'app', { image: 'example/api:1.0.0', existingDatabase: shared });
  expect(topology.secrets!.secrets.map(s => s.name)).toEqual(['test-app-cache-auth']);
});

test('generateSecrets: false leaves every Secret to the user', () => {
  const { topology, manifests } = synthTopology({ generateSecrets: false });
  expect(topology.secrets).toBeUndefined();
  expect(manifests.filter(m => m.kind === 'Job' && m.metadata.name.startsWith('test-app-secrets'))).toEqual([]);
});
