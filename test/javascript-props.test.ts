/* eslint-disable @typescript-eslint/no-explicit-any */
import { Testing } from 'cdk8s';
import {
  HorizontalScalingTopology, LoadBalancer, Observability, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool,
} from '../lib';

// What a plain JavaScript caller can pass: anything. Each construct must answer with its path and the prop.
const js = (props: Record<string, unknown>): any => props;

test('throws error, when a JavaScript caller misspells a prop of any construct', () => {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const cases: Array<[() => unknown, RegExp]> = [
    [() => new RedisCluster(chart, 'c2', js({ replica: 2 })), /^test\/c2: unknown prop 'replica' \(did you mean 'replicas'\?\); known props: mode, shards, /],
    [() => new PgReplicaSet(chart, 'db', js({ replica: 2 })), /^test\/db: unknown prop 'replica' \(did you mean 'replicas'\?\); known props: engine, replicas, /],
    [() => new ScaledApi(chart, 'a2', js({ image: 'example/api:1.0.0', minReplica: 2 })), /^test\/a2: unknown prop 'minReplica' \(did you mean 'minReplicas'\?\)/],
    [() => new LoadBalancer(chart, 'lb', js({ backend: api, tlss: {} })), /^test\/lb: unknown prop 'tlss' \(did you mean 'tls'\?\)/],
    [() => new Observability(chart, 'obs', js({ targets: [api], mdoe: 'standalone' })), /^test\/obs: unknown prop 'mdoe' \(did you mean 'mode'\?\)/],
    [() => new HorizontalScalingTopology(chart, 'app', js({ image: 'example/api:1.0.0', worker: {} })), /^test\/app: unknown prop 'worker' \(did you mean 'workers'\?\)/],
  ];
  for (const [create, message] of cases) expect(create).toThrow(message);
});

test('throws error, when a WorkerPool is given a misspelt queues prop (it used to synthesize a worker without a queue)', () => {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' });
  expect(() => new WorkerPool(chart, 'jobs', js({ image: 'example/worker:1.0.0', queus: ['jobs'], broker: cache })))
    .toThrow('test/jobs: unknown prop \'queus\' (did you mean \'queues\'?); known props: queues, queuePrefix, image, imageDigest, command, concurrency, attempts, '
      + 'backoff, jobTimeout, maxRssPercent, schedules, enqueueCommand, broker, cache, database, autoscalerKind, minReplicas, maxReplicas, '
      + 'backlogPerReplica, cpuUtilization, pollingInterval, terminationGracePeriod, metricsPort, metricsPath, resources, placement, env, '
      + 'secretEnv, guideMetrics, wiringEnv, metricsScraper, kedaOperator, runAsUser, pod, jobPod');
});

test('throws error, when a prop is given by its name of before 1.0, naming the new one', () => {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' });
  const renamed = (old: string, to: string, note: string) => `'${old}' was renamed to '${to}' before 1.0 (${note}); see CHANGELOG.md, "Renamed and removed props"`;
  const cases: Array<[() => unknown, string]> = [
    [() => new RedisCluster(chart, 'c2', js({ requireAntiAffinity: true })), `test/c2: ${renamed('requireAntiAffinity', 'placement', 'false is now \'preferred\', true \'required\'')}`],
    [() => new PgReplicaSet(chart, 'db', js({ requireAntiAffinity: true })), `test/db: ${renamed('requireAntiAffinity', 'placement', 'false is now \'preferred\', true \'required\'')}`],
    [() => new WorkerPool(chart, 'jobs', js({ image: 'example/worker:1.0.0', queues: ['jobs'], broker: cache, spread: 'DoNotSchedule' })),
      `test/jobs: ${renamed('spread', 'placement', '\'ScheduleAnyway\' is now \'preferred\', \'DoNotSchedule\' \'required\'')}`],
    [() => new RedisCluster(chart, 'c3', js({ passwordSecret: { name: 'redis-auth', key: 'password' } })),
      `test/c3: ${renamed('passwordSecret.name', 'passwordSecret.secretName', 'a Secret is named by secretName in every SecretRef and SecretKeyRef')}`],
    [() => new HorizontalScalingTopology(chart, 'app', js({ image: 'example/api:1.0.0', database: { requireAntiAffinity: true } })),
      `test/app: ${renamed('database.requireAntiAffinity', 'database.placement', 'false is now \'preferred\', true \'required\'')}`],
  ];
  for (const [create, message] of cases) expect(create).toThrow(new Error(message));
});

test('throws error, when a WorkerPool has no broker (it used to be a TypeError reading \'node\') or no queue', () => {
  const chart = Testing.chart();
  expect(() => new WorkerPool(chart, 'jobs', js({ image: 'example/worker:1.0.0', queues: ['jobs'] })))
    .toThrow('test/jobs: missing required prop \'broker\': The Redis holding the queues (a RedisCluster in any mode), with `maxmemoryPolicy` '
      + '\'noeviction\' so no job or lock is evicted. It must be a RedisCluster (an IQueueBroker).');
  expect(() => new WorkerPool(chart, 'w2', js({ image: 'example/worker:1.0.0', broker: new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' }) })))
    .toThrow('test/w2: missing required prop \'queues\'');
});

test('throws error, when a required prop of the other constructs is missing', () => {
  const chart = Testing.chart();
  expect(() => new ScaledApi(chart, 'api', js({})))
    .toThrow('test/api: missing required prop \'image\': Container image, pinned by a tag other than `latest` or by digest. It must be a string.');
  expect(() => new LoadBalancer(chart, 'lb', js({})))
    .toThrow('test/lb: missing required prop \'backend\': The API the load balancer sends traffic to. It must be a ScaledApi (an ILoadBalancerBackend).');
  expect(() => new Observability(chart, 'obs', js({}))).toThrow('test/obs: missing required prop \'targets\': The constructs to monitor '
    + '(ScaledApi, PgReplicaSet, RedisCluster, LoadBalancer). It must be an array (each item a ScaledApi, WorkerPool, RedisCluster, PgReplicaSet or LoadBalancer '
    + '(an IMetricsTarget)).');
  expect(() => new HorizontalScalingTopology(chart, 'app', js({})))
    .toThrow('test/app: missing required prop \'image\': Container image of the API, pinned by a tag other than `latest` or by digest. It must be a string.');
});

test('a misspelt prop inside a topology\'s tier names the topology and the prop path within it', () => {
  const chart = Testing.chart();
  expect(() => new HorizontalScalingTopology(chart, 'app', js({ image: 'example/api:1.0.0', cache: { shard: 3 } })))
    .toThrow(/^test\/app: unknown prop 'cache.shard' \(did you mean 'shards'\?\)/);
  expect(() => new HorizontalScalingTopology(chart, 'app2', js({ image: 'example/api:1.0.0', workers: { mail: { image: 'example/w:1', queues: ['m'], concurency: 2 } } })))
    .toThrow(/^test\/app2: unknown prop 'workers.mail.concurency' \(did you mean 'concurrency'\?\)/);
});
