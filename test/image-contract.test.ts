import { Chart, Testing } from 'cdk8s';
import { Observability, ObservabilityProps, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { KNOWN_METRICS } from '../lib/core/known-metrics';

test('the API\'s contract with its image: by default the reference service\'s probe paths and metrics on the HTTP port', () => {
  const api = new ScaledApi(Testing.chart(), 'api', { image: 'example/api:1.0.0' });
  expect(api.imageContract).toEqual({
    image: 'example/api:1.0.0',
    env: ['PORT'],
    ports: { http: 8000 },
    writablePaths: ['/tmp'],
    probes: {
      startup: { path: '/api/v1/scaling/health/startup', port: 'http' },
      liveness: { path: '/api/v1/scaling/health/liveness', port: 'http' },
      readiness: { path: '/api/v1/scaling/health/readiness', port: 'http' },
    },
    metrics: { port: 8000, path: '/metrics', names: KNOWN_METRICS['hscale-service'] },
  });
});

test('props adapt the API\'s contract to an existing image, and the contract is what the Deployment says', () => {
  // GIVEN an image that listens on 3000, serves metrics on 9464 at /prom and has its own probe paths
  const api = new ScaledApi(Testing.chart(), 'api', {
    image: 'example/api:1.0.0', port: 3000, metricsPort: 9464, metricsPath: '/prom', probes: { readiness: '/readyz', liveness: '/livez', startup: '/startz' },
  });
  // THEN
  expect(api.imageContract).toMatchObject({
    ports: { http: 3000, metrics: 9464 },
    probes: { startup: { path: '/startz', port: 'http' }, liveness: { path: '/livez', port: 'http' }, readiness: { path: '/readyz', port: 'http' } },
    metrics: { port: 9464, path: '/prom' },
  });
  const container = api.deployment.toJson().spec.template.spec.containers[0];
  expect(container.readinessProbe.httpGet.path).toBe('/readyz');
  expect(container.ports).toContainEqual({ name: 'metrics', containerPort: 9464, protocol: 'TCP' });
});

test('the workers\' contract names the env they get, the metrics port their liveness reads and the enqueue command the schedules run', () => {
  // GIVEN
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'queue', { maxmemoryPolicy: 'noeviction' });
  const database = new PgReplicaSet(chart, 'db');
  // WHEN
  const pool = new WorkerPool(chart, 'jobs', {
    image: 'example/worker:1.0.0', queues: ['emails'], broker, database, metricsPort: 9464, enqueueCommand: ['/app/enqueue'],
    schedules: { nightly: { cron: '0 3 * * *', name: 'report' } },
  });
  // THEN
  expect(pool.imageContract).toEqual({
    image: 'example/worker:1.0.0',
    env: [
      'WORKER_QUEUES', 'QUEUE_PREFIX', 'WORKER_CONCURRENCY', 'JOB_ATTEMPTS', 'JOB_BACKOFF_TYPE', 'JOB_BACKOFF_DELAY_MS', 'JOB_TIMEOUT_MS',
      'WORKER_MAX_RSS_BYTES', 'SHUTDOWN_TIMEOUT_MS', 'METRICS_PORT', 'REDIS_CLUSTER_NODES', 'REDIS_USERNAME', 'REDIS_PASSWORD', 'PGUSER', 'PGPASSWORD',
      'PGDATABASE', 'DATABASE_URL', 'POSTGRES_READ_REPLICAS',
    ],
    ports: { metrics: 9464 },
    writablePaths: ['/tmp'],
    probes: { startup: { path: '/metrics', port: 'metrics' }, liveness: { path: '/metrics', port: 'metrics' }, readiness: { path: '/metrics', port: 'metrics' } },
    metrics: { port: 9464, path: '/metrics', names: ['worker_jobs_total', 'worker_job_duration_seconds_bucket', 'worker_active', 'worker_queue_jobs'] },
    enqueueCommand: ['/app/enqueue'],
  });
});

test('a pool without schedules expects no enqueue command', () => {
  const chart = Testing.chart();
  const pool = new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker: new RedisCluster(chart, 'queue', { maxmemoryPolicy: 'noeviction' }) });
  expect(pool.imageContract.enqueueCommand).toBeUndefined();
});

function observed(referenceGroups?: ObservabilityProps['referenceGroups']) {
  const chart = Testing.chart();
  const broker = new RedisCluster(chart, 'queue', { maxmemoryPolicy: 'noeviction' });
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const pool = new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker });
  return new Observability(chart, 'obs', { targets: [api, pool, broker], referenceGroups });
}

test('the groups that read the reference service\'s metrics are named hscale-api and hscale-worker by default', () => {
  const obs = observed();
  expect(obs.ruleGroups.map(g => g.name)).toEqual(['hscale-recording', 'hscale-api', 'hscale-worker', 'hscale-redis']);
  expect(Object.keys(obs.dashboards)).toEqual(['hscale-api.json', 'hscale-worker.json', 'hscale-redis.json']);
});

test('an image with other metrics renames the API\'s groups and leaves the workers\' out; the exporters\' groups stay', () => {
  // WHEN
  const obs = observed({ api: 'shop-api', worker: false });
  // THEN
  expect(obs.ruleGroups.map(g => g.name)).toEqual(['hscale-recording', 'shop-api', 'hscale-redis']);
  expect(Object.keys(obs.dashboards)).toEqual(['shop-api.json', 'hscale-redis.json']);
  expect(obs.dashboards['shop-api.json']).toMatchObject({ uid: 'shop-api' });
  const names = Testing.synth(obs.node.scope as Chart).map(m => `${m.kind}/${m.metadata.name}`);
  expect(names).toEqual(expect.arrayContaining(['PrometheusRule/test-obs-shop-api', 'ConfigMap/test-obs-shop-api']));
  expect(names.filter(n => n.includes('worker'))).toEqual([]);
});

test('leaving the API\'s group out leaves out the recording rules it reads', () => {
  expect(observed({ api: false }).ruleGroups.map(g => g.name)).toEqual(['hscale-worker', 'hscale-redis']);
});

test('throws error, when a reference group is given a name that cannot be part of an object name', () => {
  expect(() => observed({ api: 'Shop API' })).toThrow(/^test\/obs: 'referenceGroups.api' \("Shop API"\) must be a DNS-1123 label/);
  expect(() => observed({ worker: true as never })).toThrow('test/obs: \'referenceGroups.worker\' (true) must be a string or false');
});
