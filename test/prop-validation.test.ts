/* eslint-disable @typescript-eslint/no-explicit-any */
import { Duration, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { LoadBalancer, Observability, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { validateProps } from '../lib/core/prop-validation';

// What a plain JavaScript caller can pass: anything.
const js = (props: Record<string, unknown>): any => props;
const IMAGE = 'example/api:1.0.0';
const WORKER = 'example/worker:1.0.0';

function topology() {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'volatile-lru' });
  const api = new ScaledApi(chart, 'api', { image: IMAGE });
  return { chart, cache, api };
}

// The mistakes a newcomer made from JavaScript (issue 21): each was a TypeError without a path, or silently accepted.
test.each<[string, (t: ReturnType<typeof topology>) => unknown, string]>([
  ['a job timeout is a number of milliseconds',
    ({ chart, cache }) => new WorkerPool(chart, 'jobs', js({ image: WORKER, queues: ['jobs'], broker: cache, jobTimeout: 120000 })),
    'test/jobs: \'jobTimeout\' (120000) must be a Duration, e.g. Duration.minutes(5)'],
  ['a backoff has no delay',
    ({ chart, cache }) => new WorkerPool(chart, 'jobs', js({ image: WORKER, queues: ['jobs'], broker: cache, backoff: { type: 'exponential' } })),
    'test/jobs: missing required prop \'backoff.delay\': The delay before the first retry. It must be a Duration, e.g. Duration.seconds(30).'],
  ['an Observability target is a string',
    ({ chart, api }) => new Observability(chart, 'obs', js({ targets: [api, 'db'] })),
    'test/obs: \'targets[1]\' ("db") must be a ScaledApi, WorkerPool, RedisCluster, PgReplicaSet or LoadBalancer (an IMetricsTarget)'],
  ['a probe path is under a name of its own making',
    ({ chart }) => new ScaledApi(chart, 'api2', js({ image: IMAGE, probes: { ready: '/readyz' } })),
    'test/api2: unknown prop \'probes.ready\' (did you mean \'readiness\'?); known props: liveness, readiness, startup'],
  ['a storage size is a number',
    ({ chart }) => new PgReplicaSet(chart, 'db', js({ storageSize: 50 })),
    'test/db: \'storageSize\' (50) must be a Kubernetes quantity greater than 0, e.g. \'250m\', \'1\', \'512Mi\', \'10Gi\''],
  ['shards are given in sentinel mode',
    ({ chart }) => new RedisCluster(chart, 'sentinel', js({ mode: 'sentinel', shards: 3 })),
    'test/sentinel: \'shards\' (3) does not apply to mode \'sentinel\': it is a prop of mode \'cluster\' (\'cluster\' shards the keyspace over masters; '
    + '\'sentinel\' runs one master with replicas and Sentinels; \'standalone\' runs one Redis without replicas)'],
  ['a stabilization window is a number of seconds',
    ({ chart }) => new ScaledApi(chart, 'api2', js({ image: IMAGE, scaleDown: { stabilizationWindow: 300 } })),
    'test/api2: \'scaleDown.stabilizationWindow\' (300) must be a Duration, e.g. Duration.seconds(30)'],
])('throws error, when %s', (_case, create, message) => {
  expect(() => create(topology())).toThrow(new Error(message));
});

test('throws error, when a linked construct is of the wrong kind, naming the kinds that fit', () => {
  const { chart, cache } = topology();
  expect(() => new LoadBalancer(chart, 'lb', js({ backend: cache })))
    .toThrow(new Error('test/lb: \'backend\' ("RedisCluster test/cache") must be a ScaledApi (an ILoadBalancerBackend)'));
});

test('throws error, when a value fits no branch of a union, naming each branch', () => {
  const { chart } = topology();
  expect(() => new ScaledApi(chart, 'api2', js({ image: IMAGE, memoryUtilization: '80%' })))
    .toThrow(new Error('test/api2: \'memoryUtilization\' ("80%") must be a number or false'));
});

test('throws error, when a nested quantity is malformed', () => {
  const { chart } = topology();
  expect(() => new ScaledApi(chart, 'api2', js({ image: IMAGE, resources: { cpuLimit: '1 cpu' } })))
    .toThrow(new Error('test/api2: \'resources.cpuLimit\' ("1 cpu") must be a Kubernetes quantity greater than 0, e.g. \'250m\', \'1\', \'512Mi\', \'10Gi\''));
});

test('throws error, when a prop of nginx mode is given in gateway mode', () => {
  const { chart, api } = topology();
  expect(() => new LoadBalancer(chart, 'lb', js({ backend: api, mode: 'gateway', gateway: { name: 'gw' }, websocketReadTimeout: Duration.minutes(2) })))
    .toThrow(new Error('test/lb: \'websocketReadTimeout\' ("Duration 2 minutes") does not apply to mode \'gateway\': it is a prop of mode \'nginx\' '
      + '(\'nginx\' runs our own nginx tier; \'gateway\' attaches an HTTPRoute to an existing Gateway, whose implementation configures what a '
      + 'portable route cannot express (rate limits, TLS, retries, buffers, caching, HTTP/2, /health); \'ingress\' emits an Ingress '
      + '(with `tls`) for the cluster\'s Ingress controller, which likewise configures the rest)'));
});

test('throws error, when the props are not an object', () => {
  const scope = new Construct(Testing.chart(), 'thing');
  expect(() => validateProps(scope, 'RedisClusterProps', js('redis:7' as any))).toThrow(new Error('test/thing: props must be an object, got string'));
  expect(() => validateProps(scope, 'RedisClusterProps', js([] as any))).toThrow(new Error('test/thing: props must be an object, got an array'));
});

test('no props at all stand for {}, and valid props are returned as given', () => {
  const scope = new Construct(Testing.chart(), 'thing');
  expect(validateProps(scope, 'RedisClusterProps', undefined)).toEqual({});
  const props = { mode: 'sentinel' as const, replicas: 1, sentinelDownAfter: Duration.seconds(3) };
  expect(validateProps(scope, 'RedisClusterProps', props)).toBe(props);
});
