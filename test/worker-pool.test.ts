import { Duration, Testing } from 'cdk8s';
import { PgReplicaSet, RedisCluster, RedisClusterProps, WorkerPool, WorkerPoolProps, WorkerSchedule } from '../lib';
import { resolveWorkerPoolSettings, workerQueuesEnv } from '../lib/workers/worker-pool';
import { QUEUE_PREFIX } from '../service/src/queue/settings';
import { findObject } from './support/find';
import { checkManifests, Manifest } from './support/manifest-checks';

/** A broker must never evict a job: 'volatile-lru' evicts only keys with a TTL. */
const QUEUE_SAFE: RedisClusterProps = { maxmemoryPolicy: 'noeviction' };

function synthPool(props: Partial<WorkerPoolProps> = {}, redis: RedisClusterProps = {}) {
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'cache', { ...QUEUE_SAFE, ...redis });
  const db = new PgReplicaSet(chart, 'db');
  const pool = new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker, database: db, ...props });
  return { pool, broker, manifests: Testing.synth(chart) };
}

const envOf = (container: Manifest) => Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

test('a pool on Redis Cluster is scaled by KEDA on the queue length, and every object passes the checks', async () => {
  const { manifests, broker } = synthPool();
  expect(manifests.filter(m => m.metadata.name.startsWith('test-jobs'))).toMatchSnapshot();
  // Schemas (KEDA's included), restricted pods, no literal secrets, and the cross-object rules.
  await checkManifests(manifests);

  const deployment = findObject(manifests, 'Deployment', 'test-jobs');
  expect(deployment.spec.replicas).toBeUndefined();
  const scaled = findObject(manifests, 'ScaledObject', 'test-jobs');
  expect(scaled.apiVersion).toBe('keda.sh/v1alpha1');
  expect(scaled.spec).toMatchObject({
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'test-jobs' },
    minReplicaCount: 1, maxReplicaCount: 10, pollingInterval: 15, cooldownPeriod: 300,
    advanced: { horizontalPodAutoscalerConfig: { name: 'test-jobs' } },
  });
  expect(scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  expect(scaled.spec.triggers).toEqual([{
    type: 'redis-cluster',
    metadata: { addresses: broker.nodes.join(','), listName: '{hscale}:emails:wait', listLength: '20' },
    authenticationRef: { name: 'test-jobs-broker' },
  }]);
  // The scaler logs in as the broker's KEDA user, from the broker's own Secret: nothing literal, and not the app's password.
  expect(findObject(manifests, 'TriggerAuthentication', 'test-jobs-broker').spec).toEqual({
    secretTargetRef: [
      { parameter: 'username', name: 'test-cache-auth', key: 'keda-username' },
      { parameter: 'password', name: 'test-cache-auth', key: 'keda-password' },
    ],
  });
  expect(manifests.some(m => m.kind === 'HorizontalPodAutoscaler' && m.metadata.name === 'test-jobs')).toBe(false);
});

test('the workers get the queue, the broker and the database by the env contract', () => {
  const { manifests } = synthPool();
  const container = findObject(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0];
  const env = envOf(container);
  expect(env).toMatchObject({
    WORKER_QUEUES: 'emails', QUEUE_PREFIX: '{hscale}', WORKER_CONCURRENCY: '1', JOB_ATTEMPTS: '3', JOB_BACKOFF_TYPE: 'exponential', JOB_BACKOFF_DELAY_MS: '1000',
    JOB_TIMEOUT_MS: '300000', SHUTDOWN_TIMEOUT_MS: '325000', METRICS_PORT: '9100',
  });
  // 80% of the 1Gi memory limit.
  expect(env.WORKER_MAX_RSS_BYTES).toBe(String(Math.floor(2 ** 30 * 0.8)));
  expect(env.REDIS_CLUSTER_NODES).toMatch(/^test-cache-0\.test-cache-nodes\.default\.svc\.cluster\.local:6379,/);
  expect(env.REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'test-cache-auth', key: 'password' } });
  expect(env.DATABASE_URL).toContain('test-db-rw');
  expect(env.PGPASSWORD).toEqual({ secretKeyRef: expect.objectContaining({ key: 'password' }) });
  expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9100, protocol: 'TCP' }]);
  expect(container.livenessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
  // A slow first start gets 3 minutes (36 x 5 s) before liveness counts.
  expect(container.startupProbe).toMatchObject({ httpGet: { path: '/metrics', port: 'metrics' }, periodSeconds: 5, failureThreshold: 36 });
  // The default 5-minute job timeout, and 30 s more to finish it.
  expect(findObject(manifests, 'Deployment', 'test-jobs').spec.template.spec.terminationGracePeriodSeconds).toBe(330);
});

test('network: workers reach the broker, the database and DNS only; the broker admits them and the KEDA operator', () => {
  const { manifests } = synthPool();
  const policy = findObject(manifests, 'NetworkPolicy', 'test-jobs');
  expect(policy.spec.ingress).toEqual([{
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    ports: [{ protocol: 'TCP', port: 9100 }],
  }]);
  const egressPorts = policy.spec.egress.flatMap((rule: Manifest) => rule.ports.map((p: Manifest) => p.port)).sort();
  // 5432 once: every Patroni member (the default engine) may lead, so one rule admits the leader and the replicas.
  expect(egressPorts).toEqual([53, 53, 5432, 6379]);
  const brokerIngress = findObject(manifests, 'NetworkPolicy', 'test-cache').spec.ingress;
  expect(brokerIngress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
  expect(brokerIngress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-jobs', 'app.kubernetes.io/component': 'worker' } } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
});

test('on Sentinel, KEDA asks the Sentinels for the master', async () => {
  const { manifests, broker } = synthPool({ minReplicas: 0, backlogPerReplica: 5 }, { mode: 'sentinel', masterName: 'jobs-master' });
  await checkManifests(manifests);
  const scaled = findObject(manifests, 'ScaledObject', 'test-jobs');
  expect(scaled.spec.minReplicaCount).toBe(0);
  expect(scaled.spec.triggers[0]).toEqual({
    type: 'redis-sentinel',
    metadata: { addresses: broker.sentinelHosts.join(','), sentinelMaster: 'jobs-master', listName: '{hscale}:emails:wait', listLength: '5' },
    authenticationRef: { name: 'test-jobs-broker' },
  });
  expect(findObject(manifests, 'NetworkPolicy', 'test-cache-sentinel').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } }],
    ports: [{ protocol: 'TCP', port: 26379 }],
  });
});

test('on a standalone Redis, KEDA\'s redis scaler reads the one node and the workers get REDIS_URL', async () => {
  const { manifests, broker } = synthPool({}, { mode: 'standalone' });
  await checkManifests(manifests);
  expect(findObject(manifests, 'ScaledObject', 'test-jobs').spec.triggers).toEqual([{
    type: 'redis',
    metadata: { address: 'test-cache-0.test-cache-nodes.default.svc.cluster.local:6379', listName: '{hscale}:emails:wait', listLength: '20' },
    authenticationRef: { name: 'test-jobs-broker' },
  }]);
  expect(broker.nodes).toEqual(['test-cache-0.test-cache-nodes.default.svc.cluster.local:6379']);
  expect(findObject(manifests, 'TriggerAuthentication', 'test-jobs-broker').spec.secretTargetRef).toEqual([
    { parameter: 'username', name: 'test-cache-auth', key: 'keda-username' },
    { parameter: 'password', name: 'test-cache-auth', key: 'keda-password' },
  ]);
  const env = envOf(findObject(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0]);
  expect(env.REDIS_URL).toBe('redis://test-cache-0.test-cache-nodes.default.svc.cluster.local:6379');
  expect(env.REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'test-cache-auth', key: 'password' } });
  expect(env.REDIS_CLUSTER_NODES).toBeUndefined();
  expect(findObject(manifests, 'NetworkPolicy', 'test-cache').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keda-operator' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } }],
    ports: [{ protocol: 'TCP', port: 6379 }],
  });
});

test('autoscaler cpu: an HPA on CPU with the guides\' behaviour, and no KEDA object', async () => {
  const { manifests } = synthPool({ autoscalerKind: 'cpu', minReplicas: 2, maxReplicas: 6, cpuUtilization: 60 });
  await checkManifests(manifests);
  expect(manifests.filter(m => m.apiVersion.startsWith('keda.sh/'))).toEqual([]);
  const hpa = findObject(manifests, 'HorizontalPodAutoscaler', 'test-jobs');
  expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }]);
  expect(hpa.spec.behavior.scaleUp.policies).toEqual([{ type: 'Percent', value: 50, periodSeconds: 60 }, { type: 'Pods', value: 2, periodSeconds: 60 }]);
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-jobs').spec.maxUnavailable).toBe(1);
});

test('several queues: one KEDA trigger per queue on BullMQ\'s wait list, with the same hash-tagged prefix as the worker', () => {
  const { manifests, pool } = synthPool({ queues: ['ev_calculation', 'data_refresh'], concurrency: 4 });
  expect(manifests.find(m => m.kind === 'ScaledObject')!.spec.triggers.map((t: Manifest) => t.metadata.listName))
    .toEqual(['{hscale}:ev_calculation:wait', '{hscale}:data_refresh:wait']);
  expect(envOf(findObject(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0])).toMatchObject({ WORKER_QUEUES: 'ev_calculation,data_refresh', WORKER_CONCURRENCY: '4' });
  expect(QUEUE_PREFIX).toBe('{hscale}');
  expect(workerQueuesEnv([pool, { queues: ['notifications', 'data_refresh'] }]))
    .toEqual({ WORKER_QUEUES: 'ev_calculation,data_refresh,notifications', QUEUE_PREFIX: '{hscale}' });
  expect(workerQueuesEnv([])).toEqual({});
});

test('a queue may have a concurrency of its own, beside queues at the pool\'s', () => {
  const { manifests, pool } = synthPool({ queues: ['emails', { name: 'invoices', concurrency: 2 }], concurrency: 8 });
  expect(pool.queues).toEqual(['emails', 'invoices']);
  expect(envOf(findObject(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0]))
    .toMatchObject({ WORKER_QUEUES: 'emails,invoices', WORKER_CONCURRENCY: '8', WORKER_QUEUE_CONCURRENCY: 'invoices=2' });
  expect(manifests.find(m => m.kind === 'ScaledObject')!.spec.triggers.map((t: Manifest) => t.metadata.listName))
    .toEqual(['{hscale}:emails:wait', '{hscale}:invoices:wait']);
  expect(workerQueuesEnv([{ queues: ['emails', { name: 'invoices', concurrency: 2 }] }])).toEqual({ WORKER_QUEUES: 'emails,invoices', QUEUE_PREFIX: '{hscale}' });
});

test('the queue prefix is followed by the KEDA triggers and passed to the workers and the API', () => {
  const { manifests } = synthPool({ queuePrefix: '{jobs}' }, { queuePrefixes: ['{jobs}'] });
  expect(manifests.find(m => m.kind === 'ScaledObject')!.spec.triggers[0].metadata.listName).toBe('{jobs}:emails:wait');
  expect(envOf(findObject(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0]).QUEUE_PREFIX).toBe('{jobs}');
  expect(workerQueuesEnv([{ queues: ['emails'], queuePrefix: '{jobs}' }])).toEqual({ WORKER_QUEUES: 'emails', QUEUE_PREFIX: '{jobs}' });
  // Without a hash tag the keys of one queue may land on several slots: fine on one node, refused on a cluster.
  expect(synthPool({ queuePrefix: 'bull' }, { mode: 'sentinel', queuePrefixes: ['bull'] }).manifests.find(m => m.kind === 'ScaledObject')!.spec.triggers[0].metadata.listName)
    .toBe('bull:emails:wait');
});

test('throws error, when the queue prefix is not one the broker\'s KEDA user may read', () => {
  expect(() => synthPool({ queuePrefix: '{jobs}' }))
    .toThrow('test/jobs: \'queuePrefix\' ("{jobs}") must be one of the broker\'s queuePrefixes ({hscale}), which its KEDA user may read');
});

test('throws error, when pools for one API use different queue prefixes', () => {
  expect(() => workerQueuesEnv([{ queues: ['a'] }, { queues: ['b'], queuePrefix: '{b}' }]))
    .toThrow('workerQueuesEnv: the pools use several queue prefixes ({hscale}, {b}); an API enqueues under one');
});

test('the job policy and the memory bound reach the workers\' env', () => {
  const { manifests } = synthPool({
    attempts: 7, backoff: { type: 'fixed', delay: Duration.millis(500) }, jobTimeout: Duration.seconds(30),
    maxRssPercent: 50, resources: { memoryLimit: '200Mi', memoryRequest: '200Mi' }, terminationGracePeriod: Duration.seconds(40),
  });
  expect(envOf(findObject(manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0])).toMatchObject({
    JOB_ATTEMPTS: '7', JOB_BACKOFF_TYPE: 'fixed', JOB_BACKOFF_DELAY_MS: '500', JOB_TIMEOUT_MS: '30000',
    WORKER_MAX_RSS_BYTES: String(100 * 2 ** 20), SHUTDOWN_TIMEOUT_MS: '35000',
  });
});

test('a schedule is a CronJob that enqueues its job, with Forbid, a deadline, history limits, a TTL, restricted pods and a broker-only NetworkPolicy', async () => {
  const { manifests } = synthPool({
    queues: ['emails', 'reports'],
    schedules: { nightly: { cron: '30 2 * * *', queue: 'reports', name: 'items.aggregate', data: { day: '2026-01-01' }, timeZone: 'Europe/Paris' } },
  });
  await checkManifests(manifests);
  const cron = findObject(manifests, 'CronJob', 'test-jobs-nightly');
  expect(cron).toMatchSnapshot();
  expect(cron.spec).toMatchObject({
    schedule: '30 2 * * *', timeZone: 'Europe/Paris', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 300,
    successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 3, jobTemplate: { spec: { ttlSecondsAfterFinished: 86400 } },
  });
  const container = cron.spec.jobTemplate.spec.template.spec.containers[0];
  expect([...container.command, ...container.args]).toEqual(['node', 'service/dist/enqueue.js', 'reports', 'items.aggregate', '{"day":"2026-01-01"}']);
  expect(envOf(container)).toEqual({
    ENQUEUE_RUN_ID: { fieldRef: { fieldPath: 'metadata.labels[\'batch.kubernetes.io/job-name\']' } },
    REDIS_CLUSTER_NODES: expect.stringContaining('test-cache-0'), REDIS_USERNAME: 'app', REDIS_PASSWORD: { secretKeyRef: { name: 'test-cache-auth', key: 'password' } },
  });
  const policy = findObject(manifests, 'NetworkPolicy', 'test-jobs-schedule');
  expect(policy.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/instance': 'test-jobs', 'app.kubernetes.io/component': 'schedule' });
  expect(cron.spec.jobTemplate.spec.template.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
  expect(policy.spec.ingress ?? []).toEqual([]);
  expect(policy.spec.egress.flatMap((rule: Manifest) => rule.ports.map((p: Manifest) => p.port)).sort()).toEqual([53, 53, 6379]);
});

test('the settings resolver gives the defaults, alone', () => {
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'cache', QUEUE_SAFE);
  expect(resolveWorkerPoolSettings(chart, { image: 'example/worker:1.0.0', queues: ['emails'], broker })).toMatchObject({
    queues: ['emails'], concurrency: 1, attempts: 3, backoff: { type: 'exponential', delayMs: 1000 }, jobTimeoutMs: 300_000,
    schedules: [], autoscalerKind: 'keda', minReplicas: 1, maxReplicas: 10, gracePeriodSeconds: 330,
  });
});

test('guideMetrics tells the reference worker to serve that guide\'s names too; without it, nothing is set', () => {
  const envOfPool = (props: Partial<WorkerPoolProps>) => envOf(findObject(synthPool(props).manifests, 'Deployment', 'test-jobs').spec.template.spec.containers[0]);
  expect(envOfPool({ guideMetrics: 'bet-intel' }).GUIDE_METRICS).toBe('bet-intel');
  expect(envOfPool({}).GUIDE_METRICS).toBeUndefined();
});

test('throws error, when the settings resolver gets a prop the pool does not know, as the ScaledApi resolver does', () => {
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'cache', QUEUE_SAFE);
  const typo = { image: 'example/worker:1.0.0', queues: ['emails'], broker, maxReplica: 5 } as WorkerPoolProps;
  expect(() => resolveWorkerPoolSettings(chart, typo)).toThrow('test: unknown prop \'maxReplica\' (did you mean \'maxReplicas\'?)');
  // The one-queue prop of before 0.1.0 is gone: queues names every queue.
  expect(() => synthPool({ queue: 'emails' } as never)).toThrow('test/jobs: \'queue\' was renamed to \'queues\' before 1.0 (a list: queue: \'emails\' is queues: [\'emails\']); see CHANGELOG.md, "Renamed and removed props"');
});

test('the metrics endpoint carries the queue for the backlog alert', () => {
  const { pool } = synthPool({ maxReplicas: 4, backlogPerReplica: 50 });
  expect(pool.metricsEndpoints).toEqual([expect.objectContaining({
    exporter: 'hscale-worker', portName: 'metrics', port: 9100,
    queue: { name: 'emails', scaledObject: 'test-jobs', backlogLimit: 200 },
  })]);
  expect(synthPool({ autoscalerKind: 'cpu' }).pool.metricsEndpoints[0].queue).toBeUndefined();
});

const daily = (schedule: Partial<WorkerSchedule> = {}) => ({ schedules: { daily: { cron: '@daily', name: 'items.aggregate', ...schedule } } });

const BAD_PROPS: Array<[string, Partial<WorkerPoolProps>, string]> = [
  ['no queue', { queues: [] }, 'test/jobs: \'queues\' ([]) must name at least one queue'],
  ['an empty queue name', { queues: [''] }, 'test/jobs: \'queues[0]\' ("") must be 1-100 letters, digits or \'._-\', starting with a letter or a digit (BullMQ refuses \':\'; the key prefix carries the hash tag)'],
  ['a queue name with a colon', { queues: ['ok', 'mail:outbox'] }, 'test/jobs: \'queues[1]\' ("mail:outbox") must be 1-100 letters'],
  ['a queue listed twice', { queues: ['a', 'a'] }, 'test/jobs: \'queues\' ("a") is listed twice; name each queue once'],
  ['concurrency 0', { concurrency: 0 }, 'test/jobs: \'concurrency\' (0) must be an integer from 1 to 1000'],
  ['0 attempts', { attempts: 0 }, 'test/jobs: \'attempts\' (0) must be an integer from 1 to 100'],
  ['an unknown backoff', { backoff: { type: 'linear' as never, delay: Duration.seconds(1) } }, 'test/jobs: \'backoff.type\' ("linear") must be one of \'fixed\', \'exponential\''],
  ['a job timeout under a second', { jobTimeout: Duration.millis(10) }, 'test/jobs: \'jobTimeout\' ("10ms") must be a whole number of milliseconds from 1000ms to 86400000ms'],
  ['a memory bound of 5%', { maxRssPercent: 5 }, 'test/jobs: \'maxRssPercent\' (5) must be an integer from 10 to 100'],
  ['a cron of 4 fields', daily({ cron: '0 2 * *' }), 'test/jobs: \'schedules.daily.cron\' ("0 2 * *") must be a cron schedule of 5 fields or a macro such as \'@daily\': has 4 fields, not 5'],
  ['a minute out of range', daily({ cron: '60 2 * * *' }), 'test/jobs: \'schedules.daily.cron\' ("60 2 * * *") must be a cron schedule of 5 fields or a macro such as \'@daily\': minute "60" must be within 0-59'],
  ['a bad step', daily({ cron: '*/0 * * * *' }), 'minute "*/0" has a bad step'],
  ['a backwards range', daily({ cron: '0 2 * * FRI-MON' }), 'day of week "FRI-MON" has a range that runs backwards'],
  ['an unknown macro', daily({ cron: '@fortnightly' }), 'has 1 fields, not 5'],
  ['a schedule on a queue the pool does not serve', daily({ queue: 'reports' }), 'test/jobs: \'schedules.daily.queue\' ("reports") must be a queue this pool serves: \'emails\''],
  ['a schedule with an empty job name', daily({ name: '' }), 'test/jobs: \'schedules.daily.name\' ("") must be 1-100 letters, digits or \'._:-\', starting with a letter or a digit'],
  ['a schedule id that is no DNS label', { schedules: { Daily: { cron: '@daily', name: 'x' } } }, 'test/jobs: \'schedules.Daily\' ("Daily")'],
  ['a schedule id too long for a CronJob name', { schedules: { ['x'.repeat(50)]: { cron: '@daily', name: 'x' } } }, `test/jobs: 'schedules.${'x'.repeat(50)}' ("${'x'.repeat(50)}") makes the CronJob name 'test-jobs-${'x'.repeat(50)}' longer than 52 characters`],
  ['a starting deadline of 1 second', daily({ startingDeadline: Duration.seconds(1) }), 'test/jobs: \'schedules.daily.startingDeadline\' ("1s") must be a whole number of seconds from 10s to 86400s'],
  ['an unknown autoscaler kind', { autoscalerKind: 'vpa' as never }, 'test/jobs: \'autoscalerKind\' ("vpa") must be one of \'keda\', \'cpu\''],
  ['the autoscaler kind is given by its name of before 1.0', { autoscaler: 'cpu' } as never,
    'test/jobs: \'autoscaler\' was renamed to \'autoscalerKind\' before 1.0 (\'autoscaler\' is the autoscaling object (ScaledApi.autoscaler, the HPA)); see CHANGELOG.md, "Renamed and removed props"'],
  ['zero workers on an HPA', { autoscalerKind: 'cpu', minReplicas: 0 }, 'test/jobs: \'minReplicas\' (0) must be an integer from 1 to 1000'],
  ['min above max', { minReplicas: 5, maxReplicas: 3 }, 'test/jobs: \'minReplicas\' (5) must be less than or equal to \'maxReplicas\' (3)'],
  ['a backlog target of 0', { backlogPerReplica: 0 }, 'test/jobs: \'backlogPerReplica\' (0) must be an integer from 1 to 1000000'],
  ['a metrics port out of range', { metricsPort: 70000 }, 'test/jobs: \'metricsPort\' (70000) must be'],
  ['a grace period no longer than the job timeout', { jobTimeout: Duration.minutes(5), terminationGracePeriod: Duration.seconds(120) },
    'test/jobs: \'jobTimeout\' (300s) must be shorter than \'terminationGracePeriod\' (120s): scale-in would kill jobs mid-run, and a job cut twice fails for good (BullMQ maxStalledCount 1)'],
  ['a zero grace period', { terminationGracePeriod: Duration.seconds(0) }, 'test/jobs: \'terminationGracePeriod\' ("0s") must be a whole number of seconds from 1s to 86400s'],
  ['an unpinned image', { image: 'example/worker:latest' }, 'test/jobs: \'image\' ("example/worker:latest")'],
  ['a credential as a plain env var', { env: { SMTP_PASSWORD: 'x' } }, 'test/jobs: \'env.SMTP_PASSWORD\' ("<redacted>") looks like a credential'],
  ['a name set twice', { env: { WORKER_QUEUES: 'other' } }, 'test/jobs: \'env\' ("WORKER_QUEUES") is set twice'],
  ['a queue prefix has no hash tag on a Redis Cluster', { queuePrefix: 'bull' },
    'test/jobs: \'queuePrefix\' ("bull") must hold a hash tag such as \'{jobs}\' on a Redis Cluster broker, so each queue\'s keys share a slot'],
  ['a queue prefix holds a colon', { queuePrefix: '{a}:b' }, 'test/jobs: \'queuePrefix\' ("{a}:b") must be 1-64 characters without spaces or \':\''],
  ['a queue\'s own concurrency is 0', { queues: [{ name: 'emails', concurrency: 0 }] }, 'test/jobs: \'queues[0].concurrency\' (0) must be an integer from 1 to 1000'],
];

test.each(BAD_PROPS)('throws error, when given %s', (_what, props, message) => {
  expect(() => synthPool(props)).toThrow(message);
});

test.each(['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'] as const)(
  'throws error, when the broker evicts (%s)', policy => {
    expect(() => synthPool({}, { maxmemoryPolicy: policy })).toThrow(
      `test/jobs: 'broker' ("test/cache") has maxmemoryPolicy '${policy}'; a queue's Redis must have 'noeviction' (BullMQ's jobs carry no TTL `
      + 'and its locks do, so \'allkeys-*\' loses jobs and \'volatile-*\' loses locks): give the queue a RedisCluster of its own with maxmemoryPolicy \'noeviction\'');
  });

test('a broker with noeviction is accepted', () => {
  expect(synthPool({}, { maxmemoryPolicy: 'noeviction' }).broker.maxmemoryPolicy).toBe('noeviction');
});

