import { Duration, Testing } from 'cdk8s';
import { RedisCluster, RedisClusterProps, ScaledApi } from '../lib';
import { checkManifests, Manifest } from './support/manifest-checks';

function synthRedis(props: RedisClusterProps = {}) {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', props);
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', cache });
  return { cache, manifests: Testing.synth(chart) };
}

const find = (manifests: Manifest[], kind: string, name: string) => manifests.find(m => m.kind === kind && m.metadata.name === name)!;
const envOf = (container: Manifest) => Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

test('cluster mode synthesizes six nodes, their Services, a PDB and the create Job', async () => {
  const { manifests } = synthRedis();
  expect(manifests.filter(m => m.metadata.name.startsWith('test-cache'))).toMatchSnapshot();
  await checkManifests(manifests);
  const set = find(manifests, 'StatefulSet', 'test-cache');
  expect(set.spec.replicas).toBe(6);
  expect(set.spec.serviceName).toBe('test-cache-nodes');
  expect(set.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
  expect(find(manifests, 'Service', 'test-cache-nodes').spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
  expect(find(manifests, 'PodDisruptionBudget', 'test-cache').spec.maxUnavailable).toBe(1);
  const job = find(manifests, 'Job', 'test-cache-create');
  expect(job.spec.ttlSecondsAfterFinished).toBe(3600);
  expect(envOf(job.spec.template.spec.containers[0]).REPLICAS_PER_SHARD).toBe('1');
});

test('redis.conf carries the cluster settings and no password', () => {
  const { cache } = synthRedis();
  for (const line of [
    'cluster-enabled yes', 'cluster-node-timeout 5000', 'cluster-require-full-coverage no',
    'cluster-preferred-endpoint-type hostname', 'maxmemory-policy allkeys-lru', 'appendonly yes', 'appendfsync everysec',
    `maxmemory ${Math.floor(3 * 2 ** 30 * 0.7)}`, 'save "3600 1 300 100 60 10000"',
  ]) expect(cache.redisConf.split('\n')).toContain(line);
  expect(cache.redisConf).not.toMatch(/requirepass|masterauth/);
});

test('the password reaches every container from the Secret only', () => {
  const { manifests } = synthRedis({ passwordSecret: { name: 'redis-auth', key: 'pw' } });
  const containers = find(manifests, 'StatefulSet', 'test-cache').spec.template.spec.containers;
  for (const container of containers) {
    expect(envOf(container).REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'pw' } });
  }
  expect(envOf(containers[0]).ANNOUNCE_HOST).toBe('$(POD_NAME).test-cache-nodes.default.svc.cluster.local');
});

test('linking the API injects every node by DNS name and opens 6379 only, the bus only between nodes', () => {
  const { manifests, cache } = synthRedis();
  const api = find(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0];
  expect(envOf(api).REDIS_CLUSTER_NODES).toBe(cache.nodes.join(','));
  expect(cache.nodes[5]).toBe('test-cache-5.test-cache-nodes.default.svc.cluster.local:6379');
  const apiEgress = find(manifests, 'NetworkPolicy', 'test-api').spec.egress;
  expect(apiEgress[1].ports).toEqual([{ protocol: 'TCP', port: 6379 }]);
  const ingress = find(manifests, 'NetworkPolicy', 'test-cache').spec.ingress;
  const ports = (instance: string, component: string) => ingress
    .filter((r: Manifest) => r.from[0].podSelector.matchLabels['app.kubernetes.io/instance'] === instance
      && r.from[0].podSelector.matchLabels['app.kubernetes.io/component'] === component)
    .flatMap((r: Manifest) => r.ports.map((p: Manifest) => p.port));
  expect(ports('test-cache', 'redis')).toEqual([6379, 16379]);
  expect(ports('test-api', 'api')).toEqual([6379]);
  expect(ports('test-cache', 'cluster-create')).toEqual([6379]);
});

test('persistence off uses an emptyDir sized like the volume would be', async () => {
  const { manifests } = synthRedis({ persistence: false, storageSize: '2Gi' });
  await checkManifests(manifests);
  const set = find(manifests, 'StatefulSet', 'test-cache');
  expect(set.spec.volumeClaimTemplates).toBeUndefined();
  expect(set.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: { sizeLimit: '2Gi' } });
});

test('sentinel mode runs a master with replicas and three Sentinels, and injects the Sentinels', async () => {
  const { manifests, cache } = synthRedis({ mode: 'sentinel' });
  await checkManifests(manifests);
  expect(find(manifests, 'StatefulSet', 'test-cache').spec.replicas).toBe(3);
  expect(find(manifests, 'StatefulSet', 'test-cache-sentinel').spec.replicas).toBe(3);
  expect(manifests.find(m => m.kind === 'Job')).toBeUndefined();
  expect(cache.redisConf).not.toContain('cluster-enabled');
  const api = envOf(find(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0]);
  expect(api.REDIS_SENTINELS).toBe(cache.sentinelHosts.join(','));
  expect(api.REDIS_SENTINEL_MASTER).toBe('hscale');
  expect(api.REDIS_CLUSTER_NODES).toBeUndefined();
  const conf = find(manifests, 'ConfigMap', 'test-cache').data;
  expect(conf['sentinel-master.conf']).toContain('sentinel down-after-milliseconds hscale 5000');
  expect(find(manifests, 'NetworkPolicy', 'test-cache-sentinel').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' } } }],
    ports: [{ protocol: 'TCP', port: 26379 }],
  });
});

test('the exporter is a metrics target behind the headless Service', () => {
  const { cache } = synthRedis();
  expect(cache.metricsEndpoints).toEqual([expect.objectContaining({ exporter: 'redis-exporter', portName: 'metrics', port: 9121, serviceName: 'test-cache-nodes' })]);
});

test.each<[string, RedisClusterProps, string]>([
  ['shards < 3 in cluster mode', { shards: 2 }, 'test/cache: \'shards\' (2) must be an integer from 3 to 1000'],
  ['replicasPerShard < 0', { replicasPerShard: -1 }, 'test/cache: \'replicasPerShard\' (-1) must be an integer from 0 to 10'],
  ['maxmemory is above the memory limit', { maxmemory: '4Gi' },
    'test/cache: \'maxmemory\' ("4Gi") must be less than or equal to the memory limit (3Gi), with headroom for forks and buffers'],
  ['the eviction policy is unknown', { maxmemoryPolicy: 'lru' as never }, 'test/cache: \'maxmemoryPolicy\' ("lru") must be one of \'noeviction\', \'allkeys-lru\''],
  ['the quorum exceeds the Sentinels', { mode: 'sentinel', sentinels: 3, quorum: 4 },
    'test/cache: \'quorum\' (4) must be less than or equal to \'sentinels\' (3), or no failover can ever be agreed'],
  ['fewer than 3 Sentinels', { mode: 'sentinel', sentinels: 2 },
    'test/cache: \'sentinels\' (2) must be an integer of 3 or more, so a majority survives the loss of one'],
  ['the mode is unknown', { mode: 'standalone' as never }, 'test/cache: \'mode\' ("standalone") must be one of \'cluster\', \'sentinel\''],
  ['a save point is malformed', { savePoints: ['every minute'] }, 'test/cache: \'savePoints[0]\' ("every minute") must be \'<seconds> <changes>\''],
  ['the node timeout is too short', { clusterNodeTimeout: Duration.millis(100) }, 'test/cache: \'clusterNodeTimeout\' (100) must be an integer from 500 to 60000'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthRedis(props)).toThrow(message);
});
