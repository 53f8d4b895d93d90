import { Chart, Duration, Testing } from 'cdk8s';
import { PgReplicaSet, RedisCluster, RedisClusterProps, WorkerPool, WorkerPoolProps } from '../lib';
import { checkManifests, Manifest } from './support/manifest-checks';

function synthPool(props: Partial<WorkerPoolProps> = {}, redis: RedisClusterProps = {}) {
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'cache', redis);
  const db = new PgReplicaSet(chart, 'db');
  const pool = new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queue: 'emails', broker, database: db, ...props });
  return { pool, broker, manifests: Testing.synth(chart) };
}

const find = (manifests: Manifest[], kind: string, name: string) => manifests.find(m => m.kind === kind && m.metadata.name === name)!;
const envOf = (container: Manifest) => Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

test('a pool on Redis Cluster is scaled by KEDA on the queue length, and every object passes the checks', () => {
  const { manifests, broker } = synthPool();
  expect(manifests.filter(m => m.metadata.name.startsWith('test-jobs'))).toMatchSnapshot();
  // Schemas (KEDA's included), restricted pods, no literal secrets, and the cross-object rules.
  checkManifests(manifests);

  const deployment = find(manifests, 'Deployment', 'test-jobs');
  expect(deployment.spec.replicas).toBeUndefined();
  const scaled = find(manifests, 'ScaledObject', 'test-jobs');
  expect(scaled.apiVersion).toBe('keda.sh/v1alpha1');
  expect(scaled.spec).toMatchObject({
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'test-jobs' },
    minReplicaCount: 1, maxReplicaCount: 10, pollingInterval: 15, cooldownPeriod: 300,
    advanced: { horizontalPodAutoscalerConfig: { name: 'test-jobs' } },
  });
  expect(scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  expect(scaled.spec.triggers).toEqual([{
    type: 'redis-cluster',
    metadata: { addresses: broker.nodes.join(','), listName: 'emails', listLength: '20' },
    authenticationRef: { name: 'test-jobs-broker' },
  }]);
  // The scaler reads the password from the broker's own Secret: nothing literal.
  expect(find(manifests, 'TriggerAuthentication', 'test-jobs-broker').spec).toEqual({
    secretTargetRef: [{ parameter: 'password', name: 'test-cache-auth', key: 'password' }],
  });
  expect(manifests.some(m => m.kind === 'HorizontalPodAutoscaler' && m.metadata.name === 'test-jobs')).toBe(false);
});

test('the workers get the queue, the broker and the database by the env contract', () => {
  const { manifests } = synthPool();
  const container = find(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0];
  const env = envOf(container);
  expect(env.WORKER_QUEUE).toBe('emails');
  expect(env.METRICS_PORT).toBe('9100');
  expect(env.REDIS_CLUSTER_NODES).toMatch(/^test-cache-0\.test-cache-nodes\.default\.svc\.cluster\.local:6379,/);
  expect(env.REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'test-cache-auth', key: 'password' } });
  expect(env.DATABASE_URL).toContain('test-db-rw');
  expect(env.PGPASSWORD).toEqual({ secretKeyRef: expect.objectContaining({ key: 'password' }) });
  expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }]);
  expect(container.livenessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
  expect(find(manifests, 'Deployment', 'test-jobs').spec.template.spec.terminationGracePeriodSeconds).toBe(120);
});

test('network: workers reach the broker, the database and DNS only; the broker admits them and the KEDA operator', () => {
  const { manifests } = synthPool();
  const policy = find(manifests, 'NetworkPolicy', 'test-jobs');
  expect(policy.spec.ingress).toEqual([{
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } }, namespaceSelector: { matchLabels: {} } }],
    ports: [{ protocol: 'TCP', port: 9100 }],
  }]);
  const egressPorts = policy.spec.egress.flatMap((rule: Manifest) => rule.ports.map((p: Manifest) => p.port)).sort();
  expect(egressPorts).toEqual([53, 53, 5432, 5432, 6379]);
  const brokerIngress = find(manifests, 'NetworkPolicy', 'test-cache').spec.ingress;
  expect(brokerIngress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } }, namespaceSelector: { matchLabels: {} } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
  expect(brokerIngress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-jobs', 'app.kubernetes.io/component': 'worker' } } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
});

test('on Sentinel, KEDA asks the Sentinels for the master', () => {
  const { manifests, broker } = synthPool({ minReplicas: 0, backlogPerReplica: 5 }, { mode: 'sentinel', masterName: 'jobs-master' });
  checkManifests(manifests);
  const scaled = find(manifests, 'ScaledObject', 'test-jobs');
  expect(scaled.spec.minReplicaCount).toBe(0);
  expect(scaled.spec.triggers[0]).toEqual({
    type: 'redis-sentinel',
    metadata: { addresses: broker.sentinelHosts.join(','), sentinelMaster: 'jobs-master', listName: 'emails', listLength: '5' },
    authenticationRef: { name: 'test-jobs-broker' },
  });
  expect(find(manifests, 'NetworkPolicy', 'test-cache-sentinel').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } }, namespaceSelector: { matchLabels: {} } }],
    ports: [{ protocol: 'TCP', port: 26379 }],
  });
});

test('on a standalone Redis, KEDA\'s redis scaler reads the one node and the workers get REDIS_URL', () => {
  const { manifests, broker } = synthPool({}, { mode: 'standalone' });
  checkManifests(manifests);
  expect(find(manifests, 'ScaledObject', 'test-jobs').spec.triggers).toEqual([{
    type: 'redis',
    metadata: { address: 'test-cache-0.test-cache-nodes.default.svc.cluster.local:6379', listName: 'emails', listLength: '20' },
    authenticationRef: { name: 'test-jobs-broker' },
  }]);
  expect(broker.nodes).toEqual(['test-cache-0.test-cache-nodes.default.svc.cluster.local:6379']);
  expect(find(manifests, 'TriggerAuthentication', 'test-jobs-broker').spec.secretTargetRef).toEqual([{ parameter: 'password', name: 'test-cache-auth', key: 'password' }]);
  const env = envOf(find(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0]);
  expect(env.REDIS_URL).toBe('redis://test-cache-0.test-cache-nodes.default.svc.cluster.local:6379');
  expect(env.REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'test-cache-auth', key: 'password' } });
  expect(env.REDIS_CLUSTER_NODES).toBeUndefined();
  expect(find(manifests, 'NetworkPolicy', 'test-cache').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } }, namespaceSelector: { matchLabels: {} } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
});

test('autoscaler cpu: an HPA on CPU with the guides\' behaviour, and no KEDA object', () => {
  const { manifests } = synthPool({ autoscaler: 'cpu', minReplicas: 2, maxReplicas: 6, cpuUtilization: 60 });
  checkManifests(manifests);
  expect(manifests.filter(m => m.apiVersion.startsWith('keda.sh/'))).toEqual([]);
  const hpa = find(manifests, 'HorizontalPodAutoscaler', 'test-jobs');
  expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }]);
  expect(hpa.spec.behavior.scaleUp.policies).toEqual([{ type: 'Percent', value: 50, periodSeconds: 60 }, { type: 'Pods', value: 2, periodSeconds: 60 }]);
  expect(find(manifests, 'PodDisruptionBudget', 'test-jobs').spec.maxUnavailable).toBe(1);
});

test('a queue name may start with a hash tag, as Redis Cluster users name related keys', () => {
  const { manifests } = synthPool({ queue: '{mail}:outbox' });
  expect(manifests.find(m => m.kind === 'ScaledObject')!.spec.triggers[0].metadata.listName).toBe('{mail}:outbox');
});

test('the metrics endpoint carries the queue for the backlog alert', () => {
  const { pool } = synthPool({ maxReplicas: 4, backlogPerReplica: 50 });
  expect(pool.metricsEndpoints).toEqual([expect.objectContaining({
    exporter: 'hscale-worker', portName: 'metrics', port: 9100,
    queue: { name: 'emails', scaledObject: 'test-jobs', backlogLimit: 200 },
  })]);
  expect(synthPool({ autoscaler: 'cpu' }).pool.metricsEndpoints[0].queue).toBeUndefined();
});

const BAD_PROPS: Array<[string, Partial<WorkerPoolProps>, string]> = [
  ['an empty queue name', { queue: '' }, 'test/jobs: \'queue\' ("") must be 1-200 letters, digits or \':._{}-\', starting with a letter, a digit or \'{\' (a hash tag)'],
  ['a queue name with spaces', { queue: 'my queue' }, 'test/jobs: \'queue\' ("my queue") must be'],
  ['an unknown autoscaler', { autoscaler: 'vpa' as never }, 'test/jobs: \'autoscaler\' ("vpa") must be one of \'keda\', \'cpu\''],
  ['zero workers on an HPA', { autoscaler: 'cpu', minReplicas: 0 }, 'test/jobs: \'minReplicas\' (0) must be an integer from 1 to 1000'],
  ['min above max', { minReplicas: 5, maxReplicas: 3 }, 'test/jobs: \'minReplicas\' (5) must be less than or equal to \'maxReplicas\' (3)'],
  ['a backlog target of 0', { backlogPerReplica: 0 }, 'test/jobs: \'backlogPerReplica\' (0) must be an integer from 1 to 1000000'],
  ['a metrics port out of range', { metricsPort: 70000 }, 'test/jobs: \'metricsPort\' (70000) must be'],
  ['a zero grace period', { terminationGracePeriod: Duration.seconds(0) }, 'test/jobs: \'terminationGracePeriod\' (0) must be an integer from 1 to 86400'],
  ['an unpinned image', { image: 'example/worker:latest' }, 'test/jobs: \'image\' ("example/worker:latest")'],
  ['a credential as a plain env var', { env: { SMTP_PASSWORD: 'x' } }, 'test/jobs: \'env.SMTP_PASSWORD\' ("<redacted>") looks like a credential'],
  ['a name set twice', { env: { WORKER_QUEUE: 'other' } }, 'test/jobs: \'env\' ("WORKER_QUEUE") is set twice'],
];

test.each(BAD_PROPS)('throws error, when given %s', (_what, props, message) => {
  expect(() => synthPool(props)).toThrow(message);
});

test('throws error, when KEDA would read the broker\'s Secret from another namespace', () => {
  const app = Testing.app();
  const data = new Chart(app, 'data', { namespace: 'data' });
  const work = new Chart(app, 'work', { namespace: 'work' });
  const broker = new RedisCluster(data, 'cache');
  expect(() => new WorkerPool(work, 'jobs', { image: 'example/worker:1.0.0', queue: 'emails', broker }))
    .toThrow('work/jobs: \'broker\' ("data/cache") must be in the workers\' namespace (work): KEDA reads the broker\'s password Secret');
  // The HPA needs no Secret, so a cpu pool may use a broker elsewhere.
  expect(() => new WorkerPool(work, 'cpu-jobs', { image: 'example/worker:1.0.0', queue: 'emails', broker, autoscaler: 'cpu' })).not.toThrow();
});
