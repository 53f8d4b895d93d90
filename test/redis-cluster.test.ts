import { Chart, Duration, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { Observability, RedisCluster, RedisClusterProps, RuleGroup, ScaledApi } from '../lib';
import { DEFAULT_METRICS_SCRAPER } from '../lib/core/endpoints';
import { renderRedisAcl } from '../lib/redis/redis-acl';
import { resolveRedisClusterSettings } from '../lib/redis/resolve';
import { expectEveryObjectExposed } from './support/exposed';
import { findObject } from './support/find';
import { checkManifests, Manifest } from './support/manifest-checks';
import { ProcessGroup } from './support/processes';
import { checkRules, testRules } from './support/promtool';

function synthRedis(props: RedisClusterProps = {}) {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', props);
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', cache });
  return { cache, manifests: Testing.synth(chart) };
}

const envOf = (container: Manifest) => Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

test('cluster mode synthesizes six nodes, their Services, a PDB and the create Job', async () => {
  const { manifests, cache } = synthRedis();
  expect(manifests.filter(m => m.metadata.name.startsWith('test-cache'))).toMatchSnapshot();
  await checkManifests(manifests);
  const set = findObject(manifests, 'StatefulSet', 'test-cache');
  expect(set.spec.replicas).toBe(6);
  expect(set.spec.serviceName).toBe('test-cache-nodes');
  expect(set.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
  expect(findObject(manifests, 'Service', 'test-cache-nodes').spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-cache').spec.maxUnavailable).toBe(1);
  const job = findObject(manifests, 'Job', cache.createJob!.name);
  expect(job.metadata.name).toMatch(/^test-cache-create-[0-9a-f]{10}$/);
  expect(job.spec.ttlSecondsAfterFinished).toBe(3600);
  expect(envOf(job.spec.template.spec.containers[0]).REPLICAS_PER_SHARD).toBe('1');
});

test('the create Job\'s name is the same for the same spec and changes with its spec, its script\'s inputs or its pod options, so a re-apply never edits its immutable template', () => {
  const name = (props: RedisClusterProps = {}) => synthRedis(props).cache.createJob!.name;
  expect(name()).toBe(name());
  // Props the Job does not read (the data pods' memory) leave it alone: applying them again is a no-op for the Job.
  expect(name({ resources: { memoryLimit: '4Gi' } })).toBe(name());
  const changed = [
    name({ image: 'redis:7.2.12' }), name({ replicasPerShard: 2 }), name({ shards: 4 }),
    name({ jobPod: { nodeSelector: { pool: 'jobs' } } }), name({ pod: { priorityClassName: 'critical' } }),
  ];
  expect(new Set([name(), ...changed]).size).toBe(changed.length + 1);
});

test('throws error, when the create Job\'s name with its hash is longer than a label value', () => {
  const chart = Testing.chart();
  expect(() => new RedisCluster(chart, 'a'.repeat(46), {})).toThrow(/'id' \("test-a{46}-create-[0-9a-f]{10}"\) must be a DNS-1123 label: at most 63/);
});

test('redis.conf carries the cluster settings and no password', () => {
  const { cache } = synthRedis();
  for (const line of [
    'cluster-enabled yes', 'cluster-node-timeout 5000', 'cluster-require-full-coverage no',
    'cluster-preferred-endpoint-type hostname', 'maxmemory-policy allkeys-lru', 'appendonly yes', 'appendfsync everysec',
    `maxmemory ${3 * 2 ** 29}`, 'save "3600 1 300 100 60 10000"',
  ]) expect(cache.redisConf.split('\n')).toContain(line);
  expect(cache.redisConf).not.toMatch(/requirepass|masterauth/);
});

test('each container gets the passwords of its own ACL users from the Secret, and no other', () => {
  const { manifests, cache } = synthRedis({ passwordSecret: { secretName: 'redis-auth', key: 'pw' } });
  const [redis, exporter] = findObject(manifests, 'StatefulSet', 'test-cache').spec.template.spec.containers;
  const ref = (key: string) => ({ secretKeyRef: { name: 'redis-auth', key } });
  // The Redis container writes every user's hash into users.acl.
  expect(envOf(redis)).toMatchObject({
    REDIS_PASSWORD: ref('pw'), REDIS_EXPORTER_PASSWORD: ref('exporter-password'), REDIS_KEDA_PASSWORD: ref('keda-password'),
    REDIS_REPLICATION_PASSWORD: ref('replication-password'), REDIS_OPERATOR_PASSWORD: ref('operator-password'),
  });
  expect(envOf(exporter)).toMatchObject({ REDIS_USER: 'exporter', REDIS_PASSWORD: ref('exporter-password') });
  const job = findObject(manifests, 'Job', cache.createJob!.name).spec.template.spec.containers[0];
  expect(job.env.filter((e: Manifest) => e.valueFrom)).toEqual([{ name: 'REDIS_OPERATOR_PASSWORD', valueFrom: ref('operator-password') }]);
  expect(findObject(manifests, 'ConfigMap', 'test-cache').data['users.acl']).toBe(renderRedisAcl({ mode: 'cluster', queuePrefixes: ['{hscale}'] }));
  expect(cache.generatableSecrets).toEqual([{
    name: 'redis-auth', randomKeys: ['pw', 'exporter-password', 'keda-password', 'replication-password', 'operator-password'],
    plainKeys: { 'keda-username': 'keda' },
  }]);
  expect(envOf(redis).ANNOUNCE_HOST).toBe('$(POD_NAME).test-cache-nodes.default.svc.cluster.local');
});

test('Sentinels require their own password, which clients and Redis pods send, and log in to Redis as their user', () => {
  const { manifests, cache } = synthRedis({ mode: 'sentinel' });
  const ref = (key: string) => ({ secretKeyRef: { name: 'test-cache-auth', key } });
  const sentinel = findObject(manifests, 'StatefulSet', 'test-cache-sentinel').spec.template.spec.containers[0];
  expect(sentinel.env.filter((e: Manifest) => e.valueFrom?.secretKeyRef).map((e: Manifest) => e.name).sort())
    .toEqual(['REDIS_SENTINEL_USER_PASSWORD', 'SENTINEL_PASSWORD']);
  expect(envOf(findObject(manifests, 'StatefulSet', 'test-cache').spec.template.spec.containers[0]).SENTINEL_PASSWORD).toEqual(ref('sentinel-password'));
  expect(cache.clientEnv.filter(e => e.name !== 'REDIS_SENTINELS')).toEqual([
    { name: 'REDIS_SENTINEL_MASTER', value: 'hscale' },
    { name: 'REDIS_SENTINEL_PASSWORD', valueFrom: ref('sentinel-password') },
    { name: 'REDIS_USERNAME', value: 'app' },
    { name: 'REDIS_PASSWORD', valueFrom: ref('password') },
  ]);
  expect(cache.scalerCredentials).toEqual([
    { parameter: 'username', name: 'test-cache-auth', key: 'keda-username' },
    { parameter: 'password', name: 'test-cache-auth', key: 'keda-password' },
    { parameter: 'sentinelPassword', name: 'test-cache-auth', key: 'sentinel-password' },
  ]);
  expect(cache.generatableSecrets[0].randomKeys).toEqual(['password', 'exporter-password', 'keda-password', 'replication-password', 'sentinel-user-password', 'sentinel-password']);
});

test('every cluster node is given all nodes by DNS name, to find them again after they all get new IPs', () => {
  const { manifests, cache } = synthRedis();
  const redis = findObject(manifests, 'StatefulSet', 'test-cache').spec.template.spec.containers[0];
  expect(envOf(redis).REDIS_NODES).toBe(cache.nodes.join(' '));
  expect(cache.nodes).toHaveLength(6);
});

test('linking the API injects every node by DNS name and opens 6379 only, the bus only between nodes', () => {
  const { manifests, cache } = synthRedis();
  const api = findObject(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0];
  expect(envOf(api).REDIS_CLUSTER_NODES).toBe(cache.nodes.join(','));
  expect(cache.nodes[5]).toBe('test-cache-5.test-cache-nodes.default.svc.cluster.local:6379');
  const apiEgress = findObject(manifests, 'NetworkPolicy', 'test-api').spec.egress;
  expect(apiEgress[1].ports).toEqual([{ protocol: 'TCP', port: 6379 }]);
  const ingress = findObject(manifests, 'NetworkPolicy', 'test-cache').spec.ingress;
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
  const set = findObject(manifests, 'StatefulSet', 'test-cache');
  expect(set.spec.volumeClaimTemplates).toBeUndefined();
  expect(set.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: { sizeLimit: '2Gi' } });
});

test('sentinel mode runs a master with replicas and three Sentinels, and injects the Sentinels', async () => {
  const { manifests, cache } = synthRedis({ mode: 'sentinel' });
  await checkManifests(manifests);
  expect(findObject(manifests, 'StatefulSet', 'test-cache').spec.replicas).toBe(3);
  expect(findObject(manifests, 'StatefulSet', 'test-cache-sentinel').spec.replicas).toBe(3);
  expect(manifests.find(m => m.kind === 'Job')).toBeUndefined();
  expect(cache.redisConf).not.toContain('cluster-enabled');
  const api = envOf(findObject(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0]);
  expect(api.REDIS_SENTINELS).toBe(cache.sentinelHosts.join(','));
  expect(api.REDIS_SENTINEL_MASTER).toBe('hscale');
  expect(api.REDIS_CLUSTER_NODES).toBeUndefined();
  const conf = findObject(manifests, 'ConfigMap', 'test-cache').data;
  expect(conf['sentinel-master.conf']).toContain('sentinel down-after-milliseconds hscale 5000');
  expect(findObject(manifests, 'NetworkPolicy', 'test-cache-sentinel').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' } } }],
    ports: [{ protocol: 'TCP', port: 26379 }],
  });
});

test.each([
  ['cluster', { mode: 'cluster', jobPod: { serviceAccountAnnotations: { 'iam.example.com/role': 'create' } } }],
  ['sentinel', { mode: 'sentinel', pod: { serviceAccountAnnotations: { 'iam.example.com/role': 'cache' } } }],
  ['standalone', { mode: 'standalone' }],
] as Array<[string, RedisClusterProps]>)('%s mode exposes every object it makes, as the object synthesized', (_mode, props) => {
  const { cache } = synthRedis(props);
  expectEveryObjectExposed(cache, [
    cache.configMap, cache.statefulSet, cache.service, cache.headlessService, cache.disruptionBudget, cache.networkPolicy.policy,
    cache.createJob, cache.createJobNetworkPolicy?.policy,
    cache.sentinelStatefulSet, cache.sentinelService, cache.sentinelDisruptionBudget, cache.sentinelNetworkPolicy?.policy,
    cache.serviceAccounts.redis, cache.serviceAccounts.sentinel, cache.serviceAccounts.job,
  ]);
});

test('the members of other modes are absent', () => {
  const { cache } = synthRedis({ mode: 'cluster' });
  expect([cache.sentinelStatefulSet, cache.sentinelService, cache.sentinelDisruptionBudget, cache.sentinelNetworkPolicy]).toEqual([undefined, undefined, undefined, undefined]);
  const sentinel = synthRedis({ mode: 'sentinel' }).cache;
  expect([sentinel.createJob, sentinel.createJobNetworkPolicy]).toEqual([undefined, undefined]);
});

test('the exporter is a metrics target behind the headless Service', () => {
  const { cache } = synthRedis();
  expect(cache.metricsEndpoints).toEqual([expect.objectContaining({ exporter: 'redis-exporter', portName: 'metrics', port: 9121, serviceName: 'test-cache-nodes' })]);
});

test('the settings fill every default of cluster mode, without creating any object', () => {
  // GIVEN
  const scope = new Construct(Testing.chart(), 'cache');
  // WHEN
  const settings = resolveRedisClusterSettings(scope, {});
  // THEN
  expect(settings).toMatchObject({
    name: 'test-cache', namespace: undefined, dnsSuffix: 'default.svc.cluster.local', headlessServiceName: 'test-cache-nodes',
    mode: 'cluster', topology: { nodeCount: 6, replicasPerMaster: 1, shards: 3, replicasPerShard: 1 },
    image: 'redis:7.2.11', maxmemoryBytes: 3 * 2 ** 29, maxmemoryPolicy: 'allkeys-lru', appendonly: true,
    appendfsync: 'everysec', savePoints: ['3600 1', '300 100', '60 10000'], clusterNodeTimeoutMs: 5000, persistence: true,
    storageSize: '10Gi', storageClassName: undefined, placement: 'required',
    passwordSecret: { secretName: 'test-cache-auth', key: 'password' }, metricsScraper: DEFAULT_METRICS_SCRAPER,
  });
  expect(scope.node.children).toHaveLength(0);
});

test('the settings of sentinel mode carry its topology and the namespace\'s DNS suffix', () => {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'orders' });
  const settings = resolveRedisClusterSettings(new Construct(chart, 'queue'), {
    mode: 'sentinel', replicas: 4, sentinels: 5, quorum: 3, masterName: 'jobs', sentinelDownAfter: Duration.seconds(9), maxmemory: '1Gi',
  });
  expect(settings).toMatchObject({ name: 'shop-queue', namespace: 'orders', dnsSuffix: 'orders.svc.cluster.local', mode: 'sentinel', maxmemoryBytes: 2 ** 30 });
  expect(settings.topology).toEqual({ nodeCount: 5, replicasPerMaster: 4, replicas: 4, sentinels: 5, quorum: 3, masterName: 'jobs', downAfterMs: 9000 });
});

test('the settings of cluster mode count every master and replica', () => {
  const settings = resolveRedisClusterSettings(new Construct(Testing.chart(), 'cache'), { shards: 4, replicasPerShard: 2 });
  expect(settings.topology).toEqual({ nodeCount: 12, replicasPerMaster: 2, shards: 4, replicasPerShard: 2 });
});

test('throws error, when maxmemory is above a lowered memory limit, before creating any object', () => {
  const scope = new Construct(Testing.chart(), 'cache');
  expect(() => resolveRedisClusterSettings(scope, { resources: { memoryRequest: '512Mi', memoryLimit: '1Gi' }, maxmemory: '2Gi' })).toThrow(
    'test/cache: \'maxmemory\' ("2Gi") is over the memory budget: maxmemory (2048MiB) × 2 = 4096MiB, as it forks for AOF rewrite, ' +
    'RDB save points, full sync to replicas and a fork may copy every page, is more than the memory limit (1024MiB)');
  expect(scope.node.children).toHaveLength(0);
});

test('maxmemory defaults to half the limit on a node that forks, and to 70% on one that never does', () => {
  const settings = (props: RedisClusterProps) => resolveRedisClusterSettings(new Construct(Testing.chart(), 'cache'), props);
  expect(settings({ mode: 'standalone', savePoints: [] }).maxmemoryBytes).toBe(3 * 2 ** 29);
  expect(settings({ mode: 'sentinel', appendonly: false, savePoints: [] }).maxmemoryBytes).toBe(3 * 2 ** 29);
  expect(settings({ mode: 'standalone', appendonly: false, savePoints: [] }).maxmemoryBytes).toBe(Math.floor(3 * 2 ** 30 * 0.7));
});

test('a given maxmemory may use the whole limit on a node that never forks, and half of it on one that does', () => {
  const settings = (props: RedisClusterProps) => resolveRedisClusterSettings(new Construct(Testing.chart(), 'cache'), { maxmemory: '2Gi', ...props });
  expect(settings({ mode: 'standalone', appendonly: false, savePoints: [] }).maxmemoryBytes).toBe(2 ** 31);
  expect(() => settings({ mode: 'standalone', savePoints: [] })).toThrow(
    'test/cache: \'maxmemory\' ("2Gi") is over the memory budget: maxmemory (2048MiB) × 2 = 4096MiB, as it forks for AOF rewrite ' +
    'and a fork may copy every page, is more than the memory limit (3072MiB): at peak the kernel kills Redis; lower \'maxmemory\' or raise \'resources.memoryLimit\'');
  expect(settings({ mode: 'standalone', savePoints: [], resources: { memoryLimit: '4Gi' } }).maxmemoryBytes).toBe(2 ** 31);
});

test.each<[string, RedisClusterProps, string]>([
  ['shards < 3 in cluster mode', { shards: 2 }, 'test/cache: \'shards\' (2) must be an integer from 3 to 1000'],
  ['replicasPerShard < 0', { replicasPerShard: -1 }, 'test/cache: \'replicasPerShard\' (-1) must be an integer from 0 to 10'],
  ['maxmemory and its fork do not fit the memory limit', { maxmemory: '2Gi' },
    'test/cache: \'maxmemory\' ("2Gi") is over the memory budget: maxmemory (2048MiB) × 2 = 4096MiB'],
  ['the eviction policy is unknown', { maxmemoryPolicy: 'lru' as never }, 'test/cache: \'maxmemoryPolicy\' ("lru") must be one of \'noeviction\', \'allkeys-lru\''],
  ['the quorum exceeds the Sentinels', { mode: 'sentinel', sentinels: 3, quorum: 4 },
    'test/cache: \'quorum\' (4) must be less than or equal to \'sentinels\' (3), or no failover can ever be agreed'],
  ['fewer than 3 Sentinels', { mode: 'sentinel', sentinels: 2 },
    'test/cache: \'sentinels\' (2) must be an integer of 3 or more, so a majority survives the loss of one'],
  ['the mode is unknown', { mode: 'replicated' as never }, 'test/cache: \'mode\' ("replicated") must be one of \'cluster\', \'sentinel\', \'standalone\''],
  ['a save point is a string, as before 1.0', { savePoints: ['900 1' as never] },
    'test/cache: \'savePoints[0]\' ("900 1") must be an object with the keys after, changes'],
  ['a save point\'s window is a number of seconds', { savePoints: [{ after: 900 as never, changes: 1 }] },
    'test/cache: \'savePoints[0].after\' (900) must be a Duration'],
  ['the node timeout is too short', { clusterNodeTimeout: Duration.millis(100) }, 'test/cache: \'clusterNodeTimeout\' ("100ms") must be a whole number of milliseconds from 500ms to 60000ms'],
  ['a storage class is given without persistence', { persistence: false, storageClassName: 'fast-ssd' },
    'test/cache: \'storageClassName\' ("fast-ssd") needs \'persistence\' true: without it the data is on an emptyDir, which has no storage class'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthRedis(props)).toThrow(message);
});

const STANDALONE_URL = 'redis://test-cache-0.test-cache-nodes.default.svc.cluster.local:6379';

test('standalone mode runs one Redis on a volume with its exporter, and injects REDIS_URL with the password beside it', async () => {
  const { manifests, cache } = synthRedis({ mode: 'standalone' });
  expect(manifests.filter(m => m.metadata.name.startsWith('test-cache'))).toMatchSnapshot();
  await checkManifests(manifests);
  const set = findObject(manifests, 'StatefulSet', 'test-cache');
  expect(set.spec.replicas).toBe(1);
  expect(set.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
  expect(set.spec.template.spec.containers.map((c: Manifest) => c.name)).toEqual(['redis', 'exporter']);
  expect(manifests.filter(m => ['Job', 'StatefulSet'].includes(m.kind)).map(m => m.metadata.name)).toEqual(['test-cache']);
  expect(Object.keys(findObject(manifests, 'ConfigMap', 'test-cache').data)).toEqual(['redis.conf', 'start.sh', 'users.acl']);
  expect(cache.redisConf).not.toContain('cluster-enabled');
  expect(cache.nodes).toEqual(['test-cache-0.test-cache-nodes.default.svc.cluster.local:6379']);
  // One pod cannot stay available through a drain: a budget of 0 disruptions would block the drain for ever.
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-cache').spec.maxUnavailable).toBe(1);
  const api = findObject(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0];
  expect(api.env.filter((e: Manifest) => e.name.startsWith('REDIS_'))).toEqual([
    { name: 'REDIS_URL', value: STANDALONE_URL },
    { name: 'REDIS_USERNAME', value: 'app' },
    { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'test-cache-auth', key: 'password' } } },
  ]);
});

test('standalone mode admits the API on 6379 and the scraper on the exporter, and opens no port between Redis pods', () => {
  const { manifests } = synthRedis({ mode: 'standalone' });
  const policy = findObject(manifests, 'NetworkPolicy', 'test-cache').spec;
  expect(policy.ingress).toEqual([
    { from: [{ podSelector: { matchLabels: DEFAULT_METRICS_SCRAPER.podSelector }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9121 }] },
    { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' } } }], ports: [{ protocol: 'TCP', port: 6379 }] },
  ]);
  expect(policy.egress.flatMap((r: Manifest) => r.ports.map((p: Manifest) => p.port))).toEqual([53, 53]);
  const apiEgress = findObject(manifests, 'NetworkPolicy', 'test-api').spec.egress;
  expect(apiEgress).toContainEqual({
    to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-cache', 'app.kubernetes.io/component': 'redis' } } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
});

test('the settings of standalone mode count one node', () => {
  const settings = resolveRedisClusterSettings(new Construct(Testing.chart(), 'cache'), { mode: 'standalone', persistence: false });
  expect(settings).toMatchObject({ mode: 'standalone', topology: { nodeCount: 1 }, persistence: false, tcpKeepaliveSeconds: 60 });
});

test('tcpKeepalive reaches redis.conf in every mode, and 60 s is its default', () => {
  expect(synthRedis().cache.redisConf.split('\n')).toContain('tcp-keepalive 60');
  for (const mode of ['cluster', 'sentinel', 'standalone'] as const) {
    expect(synthRedis({ mode, tcpKeepalive: Duration.minutes(5) }).cache.redisConf.split('\n')).toContain('tcp-keepalive 300');
  }
});

test('the guides\' save points are rendered as one save line, and none turns RDB off', () => {
  expect(synthRedis({ savePoints: [{ after: Duration.minutes(15), changes: 1 }, { after: Duration.minutes(5), changes: 10 }, { after: Duration.minutes(1), changes: 10_000 }] }).cache.redisConf.split('\n')).toContain('save "900 1 300 10 60 10000"');
  expect(synthRedis({ mode: 'standalone', savePoints: [] }).cache.redisConf.split('\n')).toContain('save ""');
});

test.each<[string, RedisClusterProps, string]>([
  ['shards are given in standalone mode', { mode: 'standalone', shards: 3 },
    'test/cache: \'shards\' (3) does not apply to mode \'standalone\': it is a prop of mode \'cluster\''],
  ['replicasPerShard is given in standalone mode', { mode: 'standalone', replicasPerShard: 0 },
    'test/cache: \'replicasPerShard\' (0) does not apply to mode \'standalone\': it is a prop of mode \'cluster\''],
  ['replicas are given in standalone mode', { mode: 'standalone', replicas: 2 },
    'test/cache: \'replicas\' (2) does not apply to mode \'standalone\': it is a prop of mode \'sentinel\''],
  ['sentinels are given in standalone mode', { mode: 'standalone', sentinels: 3 },
    'test/cache: \'sentinels\' (3) does not apply to mode \'standalone\': it is a prop of mode \'sentinel\''],
  ['masterName is given in standalone mode', { mode: 'standalone', masterName: 'jobs' },
    'test/cache: \'masterName\' ("jobs") does not apply to mode \'standalone\': it is a prop of mode \'sentinel\''],
  ['sentinelDownAfter is given in standalone mode', { mode: 'standalone', sentinelDownAfter: Duration.seconds(5) },
    'test/cache: \'sentinelDownAfter\' ("Duration 5 seconds") does not apply to mode \'standalone\': it is a prop of mode \'sentinel\''],
  ['clusterNodeTimeout is given in standalone mode', { mode: 'standalone', clusterNodeTimeout: Duration.seconds(5) },
    'test/cache: \'clusterNodeTimeout\' ("Duration 5 seconds") does not apply to mode \'standalone\': it is a prop of mode \'cluster\''],
  ['sentinelDownAfter is under half a second', { mode: 'sentinel', sentinelDownAfter: Duration.millis(100) },
    'test/cache: \'sentinelDownAfter\' ("100ms") must be a whole number of milliseconds from 500ms to 60000ms'],
  ['tcpKeepalive is under 10 s', { tcpKeepalive: Duration.seconds(5) }, 'test/cache: \'tcpKeepalive\' ("5s") must be a whole number of seconds from 10s to 7200s'],
  ['tcpKeepalive is above 2 hours', { tcpKeepalive: Duration.hours(3) }, 'test/cache: \'tcpKeepalive\' ("10800s") must be a whole number of seconds from 10s to 7200s'],
  ['tcpKeepalive is not whole seconds', { tcpKeepalive: Duration.millis(30_500) }, 'test/cache: \'tcpKeepalive\' ("30.5s") must be a whole number of seconds from 10s to 7200s'],
  ['a save point has no change', { mode: 'standalone', savePoints: [{ after: Duration.minutes(15), changes: 0 }] },
    'test/cache: \'savePoints[0].changes\' (0) must be an integer from 1 to 1000000000'],
  ['a save point\'s window is not whole seconds', { mode: 'standalone', savePoints: [{ after: Duration.millis(1500), changes: 1 }] },
    'test/cache: \'savePoints[0].after\' ("1.5s") must be a whole number of seconds from 1s to 86400s'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthRedis(props)).toThrow(message);
});

describe('monitoring of a standalone Redis', () => {
  const group = new ProcessGroup();
  afterAll(() => group.cleanup());
  const rulesFor = (props: RedisClusterProps) => {
    const chart = Testing.chart();
    return new Observability(chart, 'obs', { targets: [new RedisCluster(chart, 'cache', props)] }).ruleGroups;
  };
  const alertsOf = (groups: RuleGroup[]) => groups.flatMap(g => g.rules).flatMap(r => ('alert' in r ? [r.alert] : []));

  test('leaves out the missing-replica alert where no replica is meant to run, and keeps it where one is', () => {
    expect(alertsOf(rulesFor({}))).toContain('RedisMasterWithoutReplica');
    expect(alertsOf(rulesFor({ mode: 'sentinel' }))).toContain('RedisMasterWithoutReplica');
    expect(alertsOf(rulesFor({ mode: 'standalone' }))).not.toContain('RedisMasterWithoutReplica');
    expect(alertsOf(rulesFor({ replicasPerShard: 0 }))).not.toContain('RedisMasterWithoutReplica');
  });

  test('promtool: no Redis alert fires on the series a healthy standalone exporter serves', async () => {
    // GIVEN the standalone rules and what redis_exporter reports for a lone master (no redis_cluster_state without cluster mode)
    const groups = rulesFor({ mode: 'standalone' });
    const dir = group.tempDir();
    await checkRules(dir, 'rules.yml', groups.map(g => ({ ...g, rules: g.rules.map(r => ('alert' in r ? { ...r, annotations: undefined } : r)) as RuleGroup['rules'] })));
    const pod = 'namespace="default", pod="test-cache-0"';
    const input_series = [
      { series: `redis_up{${pod}}`, values: '1x60' },
      { series: `redis_connected_slaves{${pod}}`, values: '0x60' },
      { series: `redis_instance_info{${pod}, role="master"}`, values: '1x60' },
      { series: `redis_memory_used_bytes{${pod}}`, values: '100x60' },
      { series: `redis_memory_max_bytes{${pod}}`, values: '1000x60' },
      { series: `redis_evicted_keys_total{${pod}}`, values: '0x60' },
    ];
    // WHEN promtool evaluates every Redis alert after an hour
    const output = await testRules(dir, {
      rule_files: ['rules.yml'], evaluation_interval: '1m',
      tests: [{ interval: '1m', input_series, alert_rule_test: alertsOf(groups).map(alertname => ({ eval_time: '59m', alertname, exp_alerts: [] })) }],
    });
    // THEN none fires
    expect(alertsOf(groups)).toContain('RedisMemoryHigh');
    expect(output).toContain('SUCCESS');
  });

  test('cluster_state is alerted on and charted only in cluster mode, where redis_exporter serves it', () => {
    const dashboardFor = (props: RedisClusterProps) => {
      const chart = Testing.chart();
      const obs = new Observability(chart, 'obs', { targets: [new RedisCluster(chart, 'cache', props)] });
      return JSON.stringify(obs.dashboards);
    };
    expect(alertsOf(rulesFor({}))).toContain('RedisClusterStateNotOk');
    expect(alertsOf(rulesFor({}))).toContain('RedisClusterSlotsFailed');
    expect(dashboardFor({})).toContain('redis_cluster_state');
    for (const mode of ['sentinel', 'standalone'] as const) {
      expect(alertsOf(rulesFor({ mode }))).not.toContain('RedisClusterStateNotOk');
      expect(alertsOf(rulesFor({ mode }))).not.toContain('RedisClusterSlotsFailed');
      expect(dashboardFor({ mode })).not.toContain('redis_cluster_state');
    }
  });
});

test('by default Redis nodes and Sentinels stay on different nodes as a rule (a replica never shares its master\'s node) and spread over zones as a preference; placement \'preferred\' softens the node rule only', () => {
  for (const mode of ['cluster', 'sentinel', 'standalone'] as const) {
    const sets = synthRedis({ mode }).manifests.filter(m => m.kind === 'StatefulSet');
    expect(sets.length).toBe(mode === 'sentinel' ? 2 : 1);
    for (const set of sets) {
      const spec = set.spec.template.spec;
      const peers = spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
      expect(peers).toEqual({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: set.spec.selector.matchLabels } });
      expect(spec.topologySpreadConstraints).toEqual([
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: peers.labelSelector },
      ]);
    }
  }
  const preferred = synthRedis({ placement: 'preferred' }).manifests.find(m => m.kind === 'StatefulSet')!.spec.template.spec;
  expect(preferred.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  expect(preferred.topologySpreadConstraints[0].whenUnsatisfiable).toBe('ScheduleAnyway');
});
