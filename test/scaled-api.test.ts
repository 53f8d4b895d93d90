import { Duration, Testing } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import { DatabaseConnectionPool, ICacheEndpoint, IDatabaseEndpoint, LoadBalancer, PodPeer, RedisCluster, ScaledApi, ScaledApiProps } from '../lib';
import { adapterRateRule } from '../lib/api/metrics-adapter-rules';
import { resolveScaledApiSettings } from '../lib/api/scaled-api';
import { findObject } from './support/find';
import { checkManifests, Manifest } from './support/manifest-checks';

function synthApi(props: Partial<ScaledApiProps> = {}): Manifest[] {
  const chart = Testing.chart();
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', ...props });
  return Testing.synth(chart);
}

const podSpec = (manifests: Manifest[]) => findObject(manifests, 'Deployment').spec.template.spec;
const container = (manifests: Manifest[]) => podSpec(manifests).containers[0];

/** A backend endpoint that records which clients it admitted. */
class FakeBackend implements IDatabaseEndpoint, ICacheEndpoint {
  public readonly clients: PodPeer[] = [];
  public readonly primaryHost = 'db-rw';
  public readonly replicaHosts = ['db-ro-0:5432'];
  public readonly nodes = ['cache-0:6379'];
  constructor(public readonly port: number, public readonly clientEnv: k8s.EnvVar[]) {}
  public get clientLinks() {
    return [{ peer: { podSelector: { app: `backend-${this.port}` } }, ports: [this.port] }];
  }
  public readonly pools: DatabaseConnectionPool[] = [];
  public allowClient(client: PodPeer) {
    this.clients.push(client);
  }
  public addConnectionPool(pool: DatabaseConnectionPool) {
    this.pools.push(pool);
  }
}

test('defaults synthesize a production-ready API tier', async () => {
  const manifests = synthApi();
  expect(manifests).toMatchSnapshot();
  await checkManifests(manifests);
  expect(manifests.map(m => m.kind).sort()).toEqual([
    'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount',
  ]);
});

test('the autoscaler owns the replica count and scales up fast and down slowly', () => {
  const manifests = synthApi();
  const deployment = findObject(manifests, 'Deployment');
  const hpa = findObject(manifests, 'HorizontalPodAutoscaler');
  expect(deployment.spec.replicas).toBeUndefined();
  expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  expect(hpa.apiVersion).toBe('autoscaling/v2');
  expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 20]);
  // CPU only: a Node.js process's memory follows V8's heap sizing, not its load, so a memory target would never let pods go.
  expect(hpa.spec.metrics).toEqual([
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
  ]);
  expect(hpa.spec.behavior.scaleUp).toEqual({
    stabilizationWindowSeconds: 60,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }, { type: 'Pods', value: 2, periodSeconds: 60 }],
  });
  expect(hpa.spec.behavior.scaleDown).toEqual({
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Min',
    policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }, { type: 'Pods', value: 1, periodSeconds: 60 }],
  });
});

test('a per-pod metric is added as an average value target', () => {
  const hpa = findObject(synthApi({ podMetric: { name: 'requests_per_second', averageValue: 100 } }), 'HorizontalPodAutoscaler');
  expect(hpa.spec.metrics[1]).toEqual({
    type: 'Pods', pods: { metric: { name: 'requests_per_second' }, target: { type: 'AverageValue', averageValue: '100' } },
  });
});

test('a per-pod metric comes with the prometheus-adapter rule that serves it', () => {
  // GIVEN bet-intel's requests per second, from the service's request counter
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', podMetric: { name: 'requests_per_second', averageValue: 100 } });
  // WHEN
  const configMap = findObject(Testing.synth(chart), 'ConfigMap');
  // THEN the ConfigMap holds the adapter config with the one rule, renaming http_requests_total's per-pod rate
  expect(configMap.metadata.name).toBe('test-api-adapter-rules');
  expect(api.adapterRules?.name).toBe('test-api-adapter-rules');
  const config = parse(configMap.data['config.yaml']);
  expect(config.rules).toEqual([adapterRateRule({ name: 'requests_per_second', counter: 'http_requests_total' })]);
  expect(config.rules[0].seriesQuery).toBe('http_requests_total{namespace!="",pod!=""}');
  expect(config.rules[0].metricsQuery).toBe('sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)');
  expect(new ScaledApi(chart, 'plain', { image: 'example/api:1.0.0' }).adapterRules).toBeUndefined();
});

test('the autoscaler behaviour takes the CMS\'s policies, each direction and field on its own', () => {
  // GIVEN the CMS's scale-up (0 s window, +100% or +2 pods per 15 s) and scale-down (-50% per 60 s)
  const cms = findObject(synthApi({
    scaleUp: {
      stabilizationWindow: Duration.seconds(0),
      policies: [{ type: 'Percent', value: 100, period: Duration.seconds(15) }, { type: 'Pods', value: 2, period: Duration.seconds(15) }],
      selectPolicy: 'Max',
    },
    scaleDown: { policies: [{ type: 'Percent', value: 50, period: Duration.seconds(60) }] },
  }), 'HorizontalPodAutoscaler');
  // THEN
  expect(cms.spec.behavior.scaleUp).toEqual({
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 2, periodSeconds: 15 }],
  });
  expect(cms.spec.behavior.scaleDown).toEqual({
    stabilizationWindowSeconds: 300, selectPolicy: 'Min', policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
  });
  // AND bet-intel's 30 s scale-up delay keeps the default policies
  const betIntel = findObject(synthApi({ scaleUp: { stabilizationWindow: Duration.seconds(30) } }), 'HorizontalPodAutoscaler');
  expect(betIntel.spec.behavior.scaleUp).toEqual({
    stabilizationWindowSeconds: 30,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }, { type: 'Pods', value: 2, periodSeconds: 60 }],
  });
});

test('memoryUtilization, given, adds a memory target beside CPU', () => {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', memoryUtilization: 80 });
  expect(findObject(Testing.synth(chart), 'HorizontalPodAutoscaler').spec.metrics).toEqual([
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
    { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } } },
  ]);
  expect(api.memoryUtilization).toBe(80);
});

test('memoryUtilization false scales on CPU only', () => {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', memoryUtilization: false });
  expect(findObject(Testing.synth(chart), 'HorizontalPodAutoscaler').spec.metrics).toEqual([
    { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
  ]);
  expect(api.memoryUtilization).toBeUndefined();
});

test('a readiness failure window one period shorter than the liveness window is accepted', () => {
  const timings = { readiness: { period: Duration.seconds(10), failureThreshold: 3 }, liveness: { period: Duration.seconds(31), failureThreshold: 1 } };
  expect(resolveScaledApiSettings(new Construct(Testing.chart(), 'api'), { image: 'example/api:1.0.0', probeTimings: timings }).probes.readiness.failureThreshold).toBe(3);
});

test('probe timings are set per probe, the rest keeping their defaults', () => {
  // GIVEN FastNext's liveness and startup timings
  const probes = container(synthApi({
    probeTimings: {
      liveness: { initialDelay: Duration.seconds(60), period: Duration.seconds(10), timeout: Duration.seconds(5), failureThreshold: 3 },
      startup: { period: Duration.seconds(10), timeout: Duration.seconds(3) },
    },
  }));
  // THEN
  const timings = (probe: Manifest) => [probe.initialDelaySeconds, probe.periodSeconds, probe.timeoutSeconds, probe.failureThreshold];
  expect(timings(probes.livenessProbe)).toEqual([60, 10, 5, 3]);
  expect(timings(probes.startupProbe)).toEqual([undefined, 10, 3, 30]);
  expect(timings(probes.readinessProbe)).toEqual([undefined, 5, 2, 2]);
  expect(probes.livenessProbe.httpGet.path).toBe('/api/v1/scaling/health/liveness');
});

test('the API counts its pools at maxReplicas in the database\'s connection budget, the service\'s defaults without databasePool', () => {
  const sized = new FakeBackend(5432, databaseEnv);
  synthApi({ database: sized, maxReplicas: 12, databasePool: { primarySize: 20, primaryOverflow: 40, replicaSize: 10, replicaOverflow: 20 } });
  expect(sized.pools).toEqual([{ client: 'test/api', maxPods: 12, primaryPerPod: 60, replicaPerPod: 30 }]);
  const unsized = new FakeBackend(5432, databaseEnv);
  synthApi({ database: unsized });
  expect(unsized.pools).toEqual([{ client: 'test/api', maxPods: 20, primaryPerPod: 10, replicaPerPod: 10 }]);
});

test('databasePool passes size + overflow of each pool as the service\'s pool bound, and metricsPrefix as METRICS_PREFIX', () => {
  const env: Manifest[] = container(synthApi({
    database: new FakeBackend(5432, databaseEnv),
    databasePool: { primarySize: 20, primaryOverflow: 40, replicaSize: 10, replicaOverflow: 20, timeout: Duration.seconds(10) },
    metricsPrefix: 'fastnext',
  })).env;
  expect(env.slice(0, 6)).toEqual([
    { name: 'PORT', value: '8000' },
    { name: 'METRICS_PREFIX', value: 'fastnext' },
    { name: 'PG_POOL_MAX', value: '60' },
    { name: 'PG_REPLICA_POOL_MAX', value: '30' },
    { name: 'PG_POOL_TIMEOUT_MS', value: '10000' },
    { name: 'PG_POOL_SIZE', value: '20' },
  ]);
  const defaults: Manifest[] = container(synthApi({ database: new FakeBackend(5432, databaseEnv), databasePool: { primaryOverflow: 5 } })).env;
  expect(defaults.filter(e => e.name.startsWith('PG_'))).toEqual([
    { name: 'PG_POOL_MAX', value: '15' }, { name: 'PG_REPLICA_POOL_MAX', value: '10' }, { name: 'PG_POOL_TIMEOUT_MS', value: '30000' },
    { name: 'PG_POOL_SIZE', value: '10' },
  ]);
});

test('an API with every guide prop synthesizes valid manifests', async () => {
  // GIVEN bet-intel-like settings: CPU and requests per second, a quick scale-up, guide pools and names
  const manifests = synthApi({
    database: new FakeBackend(5432, databaseEnv),
    memoryUtilization: false,
    podMetric: { name: 'requests_per_second', averageValue: 100 },
    scaleUp: { stabilizationWindow: Duration.seconds(30) },
    scaleDown: { policies: [{ type: 'Percent', value: 10, period: Duration.seconds(60) }, { type: 'Pods', value: 1, period: Duration.seconds(180) }] },
    probeTimings: { readiness: { initialDelay: Duration.seconds(10), timeout: Duration.seconds(3), failureThreshold: 3 } },
    databasePool: { primarySize: 20, primaryOverflow: 40, replicaSize: 10, replicaOverflow: 20 },
    metricsPrefix: 'betintel',
  });
  // THEN
  expect(manifests).toMatchSnapshot();
  await checkManifests(manifests);
  const hpa = findObject(manifests, 'HorizontalPodAutoscaler').spec;
  expect(hpa.metrics.map((m: Manifest) => m.resource?.name ?? m.pods.metric.name)).toEqual(['cpu', 'requests_per_second']);
  expect(hpa.behavior.scaleUp.stabilizationWindowSeconds).toBe(30);
  expect(hpa.behavior.scaleDown.policies[1]).toEqual({ type: 'Pods', value: 1, periodSeconds: 180 });
  expect(container(manifests).readinessProbe).toMatchObject({ initialDelaySeconds: 10, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 });
  expect(container(manifests).env.slice(1, 4).map((e: Manifest) => e.value)).toEqual(['betintel', '60', '30']);
});

test('the PodDisruptionBudget keeps two pods by default', () => {
  const pdb = findObject(synthApi(), 'PodDisruptionBudget');
  expect(pdb.spec.minAvailable).toBe(2);
  expect(pdb.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' });
});

test('probes use the guides\' paths on the http port, each overridable', () => {
  const defaults = container(synthApi());
  expect(defaults.livenessProbe.httpGet).toEqual({ path: '/api/v1/scaling/health/liveness', port: 'http' });
  expect(defaults.readinessProbe.httpGet).toEqual({ path: '/api/v1/scaling/health/readiness', port: 'http' });
  expect(defaults.startupProbe.httpGet).toEqual({ path: '/api/v1/scaling/health/startup', port: 'http' });
  const custom = container(synthApi({ probes: { readiness: '/ready' } }));
  expect(custom.readinessProbe.httpGet.path).toBe('/ready');
  expect(custom.livenessProbe.httpGet.path).toBe('/api/v1/scaling/health/liveness');
});

test('pods pause before SIGTERM and get a grace period longer than the pause', () => {
  const manifests = synthApi({ preStopDelay: Duration.seconds(15), terminationGracePeriod: Duration.seconds(60) });
  expect(container(manifests).lifecycle.preStop.exec.command).toEqual(['sleep', '15']);
  expect(podSpec(manifests).terminationGracePeriodSeconds).toBe(60);
});

test('resources default to 250m/256Mi requests and 1 CPU/1Gi limits', () => {
  expect(container(synthApi()).resources).toEqual({
    requests: { 'cpu': '250m', 'memory': '256Mi', 'ephemeral-storage': '114Mi' },
    limits: { 'cpu': '1', 'memory': '1Gi', 'ephemeral-storage': '114Mi' },
  });
});

test('topology spread over zones and nodes reaches the YAML, each ReplicaSet\'s pods spread on their own', () => {
  const spread = podSpec(synthApi()).topologySpreadConstraints;
  expect(spread.map((s: Manifest) => [s.topologyKey, s.whenUnsatisfiable, s.matchLabelKeys])).toEqual([
    ['topology.kubernetes.io/zone', 'ScheduleAnyway', ['pod-template-hash']], ['kubernetes.io/hostname', 'ScheduleAnyway', ['pod-template-hash']],
  ]);
  expect(podSpec(synthApi({ placement: 'required' })).topologySpreadConstraints[0].whenUnsatisfiable).toBe('DoNotSchedule');
});

test('pods meet the restricted profile and mount no service account token', () => {
  const manifests = synthApi();
  expect(podSpec(manifests).securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  expect(container(manifests).securityContext).toMatchObject({
    allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
  });
  expect(podSpec(manifests).automountServiceAccountToken).toBe(false);
  expect(findObject(manifests, 'ServiceAccount').automountServiceAccountToken).toBe(false);
});

test('the Service names its http port, and its metrics port when one is given', () => {
  expect(findObject(synthApi(), 'Service', 'test-api').spec.ports.map((p: Manifest) => p.name)).toEqual(['http']);
  const withMetrics = synthApi({ metricsPort: 9090 });
  expect(findObject(withMetrics, 'Service', 'test-api').spec.ports.map((p: Manifest) => [p.name, p.port])).toEqual([['http', 8000], ['metrics', 9090]]);
  expect(findObject(withMetrics, 'Service', 'test-api-pods').spec.clusterIP).toBe('None');
});

const databaseEnv: k8s.EnvVar[] = [
  { name: 'PGUSER', valueFrom: { secretKeyRef: { name: 'db', key: 'username' } } },
  { name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
  { name: 'DATABASE_URL', value: 'postgres://$(PGUSER):$(PGPASSWORD)@db-rw:5432/app' },
  { name: 'POSTGRES_READ_REPLICAS', value: 'db-ro-0:5432' },
];
const cacheEnv: k8s.EnvVar[] = [
  { name: 'REDIS_CLUSTER_NODES', value: 'cache-0:6379' },
  { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'cache', key: 'password' } } },
];

test('linking a database and a cache injects their env and opens exactly their ports', async () => {
  // GIVEN
  const database = new FakeBackend(5432, databaseEnv);
  const cache = new FakeBackend(6379, cacheEnv);
  // WHEN
  const manifests = synthApi({ database, cache, metricsPort: 9090, podMetric: { name: 'requests_per_second', averageValue: 100 } });
  // THEN
  expect(manifests).toMatchSnapshot();
  await checkManifests(manifests);
  const env: Manifest[] = container(manifests).env;
  expect(env).toEqual([{ name: 'PORT', value: '8000' }, ...databaseEnv, ...cacheEnv]);
  for (const name of ['PGUSER', 'PGPASSWORD', 'REDIS_PASSWORD']) {
    expect(env.find(e => e.name === name)).toEqual({ name, valueFrom: { secretKeyRef: expect.any(Object) } });
  }
  const policy = findObject(manifests, 'NetworkPolicy').spec;
  expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
  expect(policy.egress.map((r: Manifest) => r.ports.map((p: Manifest) => p.port))).toEqual([[53, 53], [5432], [6379]]);
  expect(policy.egress[1].to).toEqual([{ podSelector: { matchLabels: { app: 'backend-5432' } } }]);
  const apiPods = { podSelector: { 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' } };
  expect(database.clients).toEqual([apiPods]);
  expect(cache.clients).toEqual([apiPods]);
});

test('a standalone RedisCluster as cache injects REDIS_URL and the password from its Secret, and opens 6379 both ways', async () => {
  // GIVEN
  const chart = Testing.chart();
  const standaloneRedis = new RedisCluster(chart, 'cache', { mode: 'standalone', passwordSecret: { secretName: 'cache-auth', key: 'pw' } });
  // WHEN
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', cache: standaloneRedis });
  const manifests = Testing.synth(chart);
  // THEN
  await checkManifests(manifests);
  expect(container(manifests).env).toEqual([
    { name: 'PORT', value: '8000' },
    { name: 'REDIS_URL', value: 'redis://test-cache-0.test-cache-nodes.default.svc.cluster.local:6379' },
    { name: 'REDIS_USERNAME', value: 'app' },
    { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'cache-auth', key: 'pw' } } },
  ]);
  const redisPods = { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-cache', 'app.kubernetes.io/component': 'redis' } } };
  expect(findObject(manifests, 'NetworkPolicy', 'test-api').spec.egress).toContainEqual({ to: [redisPods], ports: [{ protocol: 'TCP', port: 6379 }] });
  expect(findObject(manifests, 'NetworkPolicy', 'test-cache').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' } } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
});

test('secretEnv reads each value from the named Secret key', () => {
  const env = container(synthApi({ env: { LOG_LEVEL: 'info' }, secretEnv: { ADMIN_TOKEN: { secretName: 'api-admin', key: 'token' } } })).env;
  expect(env.slice(1)).toEqual([
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'api-admin', key: 'token' } } },
  ]);
});

test('ingress is admitted only from linked clients and the metrics scraper', () => {
  // GIVEN
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', metricsPort: 9090 });
  // WHEN
  api.allowClient({ podSelector: { app: 'lb' } });
  // THEN
  const ingress = findObject(Testing.synth(chart), 'NetworkPolicy').spec.ingress;
  expect(ingress).toEqual([
    { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: 9090 }] },
    { from: [{ podSelector: { matchLabels: { app: 'lb' } } }], ports: [{ protocol: 'TCP', port: 8000 }] },
  ]);
});

test('the metrics endpoint is the http port unless a metrics port is given', () => {
  const chart = Testing.chart();
  const plain = new ScaledApi(chart, 'plain', { image: 'example/api:1.0.0' });
  const separate = new ScaledApi(chart, 'separate', { image: 'example/api:1.0.0', metricsPort: 9090 });
  expect(plain.metricsEndpoints[0]).toMatchObject({ portName: 'http', port: 8000, path: '/metrics', exporter: 'hscale-service' });
  expect(separate.metricsEndpoints[0]).toMatchObject({ portName: 'metrics', port: 9090 });
});

test.each<[string, Partial<ScaledApiProps>, string]>([
  ['minReplicas < 1', { minReplicas: 0 }, 'test/api: \'minReplicas\' (0) must be an integer from 1 to 1000'],
  ['min > max', { minReplicas: 11, maxReplicas: 10 }, 'test/api: \'minReplicas\' (11) must be less than or equal to \'maxReplicas\' (10)'],
  ['cpu utilization above 100', { cpuUtilization: 120 }, 'test/api: \'cpuUtilization\' (120) must be an integer from 1 to 100'],
  ['memory utilization 0', { memoryUtilization: 0 }, 'test/api: \'memoryUtilization\' (0) must be an integer from 1 to 100'],
  ['the PDB blocks every eviction', { minReplicas: 2 },
    'test/api: \'minAvailable\' (2) must be less than \'minReplicas\' (2), or the PodDisruptionBudget blocks every eviction at the minimum scale'],
  ['the image is not a reference', { image: 'Not An Image' },
    'test/api: \'image\' ("Not An Image") must be an image reference pinned by a tag other than \'latest\' or by a sha256 digest, e.g. \'registry.example.com/api:1.4.2\''],
  ['the image is on latest', { image: 'example/api:latest' }, 'test/api: \'image\' ("example/api:latest") must be an image reference pinned'],
  ['the image has no tag', { image: 'example/api' }, 'test/api: \'image\' ("example/api") must be an image reference pinned'],
  ['the port is out of range', { port: 70000 }, 'test/api: \'port\' (70000) must be an integer from 1 to 65535'],
  ['the metrics port equals the port', { metricsPort: 8000 }, 'test/api: \'metricsPort\' (8000) must differ from \'port\' (8000); omit it to scrape the HTTP port'],
  ['an env name looks like a credential', { env: { DB_PASSWORD: 'x' } },
    'test/api: \'env.DB_PASSWORD\' ("<redacted>") looks like a credential; pass it in \'secretEnv\' as a Secret key'],
  ['an env name is set twice', { env: { PORT: '9' } }, 'test/api: \'env\' ("PORT") is set twice'],
  ['a plain env name repeats a linked one', { database: new FakeBackend(5432, databaseEnv), env: { DATABASE_URL: 'postgres://x/y' } },
    'test/api: \'env\' ("DATABASE_URL") is set twice (by a linked backend, or by \'env\' and \'secretEnv\'); each name may appear once'],
  ['an env name ends in KEY', { env: { SIGNING_KEY: 'x' } },
    'test/api: \'env.SIGNING_KEY\' ("<redacted>") looks like a credential; pass it in \'secretEnv\' as a Secret key'],
  ['the grace period is shorter than the pause', { terminationGracePeriod: Duration.seconds(5) },
    'test/api: \'terminationGracePeriod\' ("5s") must be longer than \'preStopDelay\' (10s), or the process is killed before it can drain'],
  ['a request exceeds its limit', { resources: { cpuRequest: '2' } },
    'test/api: \'resources.cpuRequest\' ("2") must be less than or equal to \'resources.cpuLimit\' (1) for cpu'],
  ['a quantity does not parse', { resources: { memoryLimit: 'lots' } },
    'test/api: \'resources.memoryLimit\' ("lots") must be a Kubernetes quantity greater than 0'],
  ['an unknown placement', { placement: 'Sometimes' as never }, 'test/api: \'placement\' ("Sometimes") must be one of \'preferred\', \'required\''],
  ['the placement is given by its name of before 1.0', { spread: 'DoNotSchedule' } as never,
    'test/api: \'spread\' was renamed to \'placement\' before 1.0 (\'ScheduleAnyway\' is now \'preferred\', \'DoNotSchedule\' \'required\'); see CHANGELOG.md, "Renamed and removed props"'],
  ['a stabilization window above an hour', { scaleUp: { stabilizationWindow: Duration.minutes(61) } },
    'test/api: \'scaleUp.stabilizationWindow\' ("3660s") must be a whole number of seconds from 0s to 3600s'],
  ['a stabilization window in fractions of a second', { scaleDown: { stabilizationWindow: Duration.millis(1500) } },
    'test/api: \'scaleDown.stabilizationWindow\' ("1.5s") must be a whole number of seconds from 0s to 3600s'],
  ['no scaling policy', { scaleDown: { policies: [] } },
    'test/api: \'scaleDown.policies\' ("[]") must hold at least one policy; set \'selectPolicy\' to \'Disabled\' to stop scaling this way'],
  ['a policy of 0 pods', { scaleUp: { policies: [{ type: 'Pods', value: 0, period: Duration.seconds(15) }] } },
    'test/api: \'scaleUp.policies[0].value\' (0) must be an integer from 1 to 1000'],
  ['a policy period above 30 minutes', { scaleDown: { policies: [{ type: 'Percent', value: 10, period: Duration.seconds(60) }, { type: 'Pods', value: 1, period: Duration.minutes(31) }] } },
    'test/api: \'scaleDown.policies[1].period\' ("1860s") must be a whole number of seconds from 1s to 1800s'],
  ['an unknown policy type', { scaleUp: { policies: [{ type: 'Replicas' as never, value: 1, period: Duration.seconds(60) }] } },
    'test/api: \'scaleUp.policies[0].type\' ("Replicas") must be one of \'Pods\', \'Percent\''],
  ['an unknown select policy', { scaleUp: { selectPolicy: 'Avg' as never } },
    'test/api: \'scaleUp.selectPolicy\' ("Avg") must be one of \'Max\', \'Min\', \'Disabled\''],
  ['memory utilization true', { memoryUtilization: true as never }, 'test/api: \'memoryUtilization\' (true) must be a number or false'],
  ['a probe timeout longer than its period', { probeTimings: { readiness: { timeout: Duration.seconds(6) } } },
    'test/api: \'probeTimings.readiness.timeout\' ("6s") must be at most \'probeTimings.readiness.period\' (5s), or probes run later than their period'],
  ['readiness fails no sooner than liveness', { probeTimings: { readiness: { period: Duration.seconds(10), failureThreshold: 3 } } },
    'test/api: the readiness failure window (\'probeTimings.readiness\' period × failureThreshold, 30s) must be shorter than the liveness one '
    + '(\'probeTimings.liveness\', 30s): a pod that stops answering must leave the Service before the kubelet restarts it, or it is restarted while still sent requests'],
  ['a probe period of 0', { probeTimings: { liveness: { period: Duration.seconds(0) } } },
    'test/api: \'probeTimings.liveness.period\' ("0s") must be a whole number of seconds from 1s to 3600s'],
  ['a probe initial delay above an hour', { probeTimings: { startup: { initialDelay: Duration.hours(2) } } },
    'test/api: \'probeTimings.startup.initialDelay\' ("7200s") must be a whole number of seconds from 0s to 3600s'],
  ['a failure threshold of 0', { probeTimings: { startup: { failureThreshold: 0 } } },
    'test/api: \'probeTimings.startup.failureThreshold\' (0) must be an integer from 1 to 1000'],
  ['a pool without a database', { databasePool: { primarySize: 20 } },
    'test/api: \'databasePool\' ("primarySize") needs \'database\': the pools hold the service\'s connections to it'],
  ['a pool size of 0', { database: new FakeBackend(5432, databaseEnv), databasePool: { replicaSize: 0 } },
    'test/api: \'databasePool.replicaSize\' (0) must be an integer from 1 to 1000'],
  ['a negative overflow', { database: new FakeBackend(5432, databaseEnv), databasePool: { primaryOverflow: -1 } },
    'test/api: \'databasePool.primaryOverflow\' (-1) must be an integer from 0 to 999'],
  ['a pool above the service\'s bound', { database: new FakeBackend(5432, databaseEnv), databasePool: { primarySize: 600, primaryOverflow: 500 } },
    'test/api: \'databasePool.primaryOverflow\' (500) plus \'primarySize\' (600) must be at most 1000, the most connections one pool of the service holds'],
  ['a pool timeout of 0', { database: new FakeBackend(5432, databaseEnv), databasePool: { timeout: Duration.seconds(0) } },
    'test/api: \'databasePool.timeout\' ("0ms") must be a whole number of milliseconds from 1ms to 600000ms'],
  ['a pool timeout above 10 minutes', { database: new FakeBackend(5432, databaseEnv), databasePool: { timeout: Duration.minutes(11) } },
    'test/api: \'databasePool.timeout\' ("660000ms") must be a whole number of milliseconds from 1ms to 600000ms'],
  ['a metrics prefix with a dash', { metricsPrefix: 'fast-next' },
    'test/api: \'metricsPrefix\' ("fast-next") must be 1 to 64 letters, digits or \'_\', not starting with a digit, e.g. \'fastnext\''],
  ['a pod metric name with a dash', { podMetric: { name: 'requests-per-second', averageValue: 100 } },
    'test/api: \'podMetric.name\' ("requests-per-second") must be a Prometheus metric name: letters, digits and \'_\', not starting with a digit'],
  ['a pod metric counter with a selector', { podMetric: { name: 'rps', averageValue: 100, counter: 'http_requests_total{code="200"}' } },
    'test/api: \'podMetric.counter\' ("http_requests_total{code=\\"200\\"}") must be a Prometheus metric name'],
  ['a pod metric named as its counter', { podMetric: { name: 'http_requests_total', averageValue: 100 } },
    'test/api: \'podMetric.name\' ("http_requests_total") must differ from \'podMetric.counter\': the adapter serves the counter\'s rate under a new name'],
  ['a pod metric target of 0', { podMetric: { name: 'rps', averageValue: 0 } },
    'test/api: \'podMetric.averageValue\' (0) must be a number greater than 0'],
  ['an HPA name with upper case', { names: { autoscaler: 'Backend-HPA' } },
    'test/api: \'names.autoscaler\' ("Backend-HPA") must be a DNS-1123 label'],
  ['a Service name starting with a digit', { names: { service: '1backend' } },
    'test/api: \'names.service\' ("1backend") must start with a letter and be at most 58 characters (the headless Service adds \'-pods\')'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthApi(props)).toThrow(message);
});

test('the rollout prop sets the Deployment\'s strategy and minReadySeconds; without it no ready pod is taken away', () => {
  expect(findObject(synthApi(), 'Deployment').spec.strategy.rollingUpdate).toEqual({ maxSurge: '25%', maxUnavailable: 0 });
  const spec = findObject(synthApi({ rollout: { maxSurge: 1, minReady: Duration.seconds(10) } }), 'Deployment').spec;
  expect([spec.strategy.rollingUpdate, spec.minReadySeconds, spec.progressDeadlineSeconds]).toEqual([{ maxSurge: 1, maxUnavailable: 0 }, 10, undefined]);
});

test('names renames the Deployment, HPA, PDB and Services, and what refers to them follows', () => {
  // GIVEN
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', {
    image: 'example/api:1.0.0', names: { deployment: 'backend-api', autoscaler: 'backend-hpa', disruptionBudget: 'backend-pdb', service: 'backend' },
  });
  new LoadBalancer(chart, 'lb', { backend: api });
  // WHEN
  const manifests = Testing.synth(chart);
  // THEN
  const nameOf = (kind: string) => manifests.filter(m => m.kind === kind).map(m => m.metadata.name);
  for (const [kind, name] of [['Deployment', 'backend-api'], ['HorizontalPodAutoscaler', 'backend-hpa'], ['PodDisruptionBudget', 'backend-pdb'],
    ['Service', 'backend'], ['Service', 'backend-pods']]) {
    expect(nameOf(kind)).toContain(name);
  }
  expect(findObject(manifests, 'HorizontalPodAutoscaler', 'backend-hpa').spec.scaleTargetRef.name).toBe('backend-api');
  expect(api.metricsEndpoints[0]).toMatchObject({ workloadName: 'backend-api', autoscalerName: 'backend-hpa', disruptionBudgetName: 'backend-pdb', serviceName: 'backend' });
  expect(JSON.stringify(manifests)).toContain('server backend-pods.');
  // Objects the prop does not name keep <chart>-<id>.
  expect(nameOf('ServiceAccount')).toContain('test-api');
});

test('throws error, when the id is not a DNS-1123 label', () => {
  const chart = Testing.chart();
  expect(() => new ScaledApi(chart, 'My_Api', { image: 'example/api:1.0.0' }))
    .toThrow('test/My_Api: \'id\' ("test-my_api") must be a DNS-1123 label');
});

test('resolveScaledApiSettings gives a bare API the production defaults, without creating any object', () => {
  const scope = new Construct(Testing.chart(), 'api');
  const settings = resolveScaledApiSettings(scope, { image: 'example/api:1.0.0' });
  expect(settings).toMatchObject({
    name: 'test-api', port: 8000, metricsPort: undefined, metricsPath: '/metrics', minReplicas: 3, maxReplicas: 20,
    cpuUtilization: 70, memoryUtilization: undefined, minAvailable: 2, placement: 'preferred', preStopSeconds: 10,
    gracePeriodSeconds: 45, runAsUser: 10001, backends: [], env: [{ name: 'PORT', value: '8000' }],
  });
  expect(settings.probes.startup).toEqual({
    path: '/api/v1/scaling/health/startup', initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30,
  });
  expect(scope.node.children).toEqual([]);
});

test('resolveScaledApiSettings resolves the behaviour, the metric counter and the probe timings, and leaves out memory when false', () => {
  const settings = resolveScaledApiSettings(new Construct(Testing.chart(), 'api'), {
    image: 'example/api:1.0.0',
    memoryUtilization: false,
    podMetric: { name: 'requests_per_second', averageValue: 100 },
    scaleDown: { stabilizationWindow: Duration.minutes(10), selectPolicy: 'Disabled' },
    probeTimings: { startup: { initialDelay: Duration.seconds(5) } },
  });
  expect(settings.memoryUtilization).toBeUndefined();
  expect(settings.podMetric).toEqual({ name: 'requests_per_second', averageValue: 100, counter: 'http_requests_total' });
  expect(settings.behavior.scaleDown).toEqual({
    stabilizationWindowSeconds: 600, selectPolicy: 'Disabled',
    policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }, { type: 'Pods', value: 1, periodSeconds: 60 }],
  });
  expect(settings.probes.startup).toMatchObject({ initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 30 });
});

test('resolveScaledApiSettings replaces only the path of the probe given', () => {
  const { probes } = resolveScaledApiSettings(new Construct(Testing.chart(), 'api'), { image: 'example/api:1.0.0', probes: { readiness: '/ready' } });
  expect(probes.readiness).toEqual({ path: '/ready', initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 });
  expect(probes.liveness.path).toBe('/api/v1/scaling/health/liveness');
});

test('throws error, when resolveScaledApiSettings gets a preStopDelay as long as the grace period', () => {
  const scope = new Construct(Testing.chart(), 'api');
  expect(() => resolveScaledApiSettings(scope, { image: 'example/api:1.0.0', preStopDelay: Duration.seconds(45) })).toThrow(
    'test/api: \'terminationGracePeriod\' ("45s") must be longer than \'preStopDelay\' (45s), or the process is killed before it can drain');
});
