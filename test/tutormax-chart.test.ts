import { Testing } from 'cdk8s';
import { TutorMaxChart } from '../charts/tutormax-chart';
import { namespacedChartProblems, synthChart } from './support/guide-chart';
import { Manifest } from './support/manifest-checks';

const chart = synthChart(new TutorMaxChart(Testing.app(), 'tutormax', { namespace: 'tutormax' }));

test('the TutorMax chart passes the manifest checks, behind its restricted Namespace', async () => {
  expect(await namespacedChartProblems(chart.manifests, 'tutormax')).toEqual([]);
});

test('the API scales on 3-20 pods at CPU 70%, with the compose file\'s 1 CPU / 1G reserved and 2 CPU / 2G limits', () => {
  const hpa = chart.find('HorizontalPodAutoscaler', 'tutormax-api').spec;
  expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([3, 20]);
  expect(hpa.metrics.map((m: Manifest) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([['cpu', 70]]);
  expect(chart.find('Deployment', 'tutormax-api').spec.template.spec.containers[0].resources)
    .toEqual({ requests: { 'cpu': '1', 'memory': '1Gi', 'ephemeral-storage': '114Mi' }, limits: { 'cpu': '2', 'memory': '2Gi', 'ephemeral-storage': '114Mi' } });
});

test('nginx limits each client to 100 API requests per minute, with the guide\'s 8k buffers and the API\'s own /health', () => {
  const conf = chart.configFile('tutormax-lb', 'nginx.conf');
  expect(conf).toContain('zone=api_requests:10m rate=100r/m;');
  expect(conf).toContain('proxy_buffer_size 8k;');
  expect(conf).toContain('proxy_buffers 16 8k;');
  expect(conf).toMatch(/location = \/health \{\s+access_log off;\s+proxy_pass http:\/\/api;/);
});

test('PostgreSQL is a primary + 1 replica, which the API reads from; 20 + 30 per pod keeps the pools within max_connections', () => {
  // Patroni members: the leader and the replica, which it promotes when the leader goes (TutorMax's "automatic failover").
  expect(chart.find('StatefulSet', 'tutormax-db').spec.replicas).toBe(2);
  const env = chart.env('Deployment', 'tutormax-api');
  // Both members: the service reads only from the one that is in recovery, whichever that is.
  expect(String(env.POSTGRES_READ_REPLICAS).split(',')).toHaveLength(2);
  // The guide's 20 + 40 at 20 pods plus the workers' 10 x 10 is 1300, over 1250 - 3 reserved.
  expect([env.PG_POOL_SIZE, env.PG_POOL_MAX]).toEqual(['20', '50']);
  expect(chart.patroniParameters('tutormax-db-config').max_connections).toBe('1250');
});

test('Redis is a master + 1 replica watched by 3 Sentinels with a quorum of 2, 1 GB with the guide\'s allkeys-lru; the queue has its own that never evicts', () => {
  expect(chart.find('StatefulSet', 'tutormax-cache').spec.replicas).toBe(2);
  expect(chart.find('StatefulSet', 'tutormax-cache-sentinel').spec.replicas).toBe(3);
  expect(chart.configFile('tutormax-cache', 'redis.conf')).toMatch(/maxmemory 1073741824\nmaxmemory-policy allkeys-lru/);
  expect(chart.configFile('tutormax-queue', 'redis.conf')).toMatch(/maxmemory 1073741824\nmaxmemory-policy noeviction/);
  const env = chart.env('Deployment', 'tutormax-api');
  expect(env.REDIS_SENTINEL_MASTER).toBe('tutormax-master');
  expect(String(env.REDIS_SENTINELS).split(',')).toHaveLength(3);
});

test('at least 2 workers take the background tasks that the API accepts, from the Redis the API uses', () => {
  expect(chart.find('ScaledObject', 'tutormax-workers').spec.minReplicaCount).toBe(2);
  const workers = chart.env('Deployment', 'tutormax-workers');
  expect([workers.WORKER_QUEUES, workers.REDIS_SENTINEL_MASTER]).toEqual(['tutormax-tasks', 'tutormax-master']);
  expect(chart.env('Deployment', 'tutormax-api').WORKER_QUEUES).toBe('tutormax-tasks');
});

test('celery-beat\'s daily metrics aggregation is a CronJob that never runs twice at once', () => {
  const cronJob = chart.find('CronJob', 'tutormax-workers-daily-metrics').spec;
  expect([cronJob.schedule, cronJob.concurrencyPolicy]).toEqual(['@daily', 'Forbid']);
  expect(cronJob.jobTemplate.spec.template.spec.containers[0].args ?? cronJob.jobTemplate.spec.template.spec.containers[0].command)
    .toEqual(expect.arrayContaining(['tutormax-tasks', 'items.aggregate']));
});

test('an alert warns when a standby\'s slot retains more than 100 MB of WAL, where the guide says to investigate', () => {
  const rules = chart.find('PrometheusRule', 'tutormax-obs-postgresql').spec.groups[0].rules;
  expect(rules.find((r: Manifest) => r.alert === 'PostgresStandbyRetainsTooMuchWal').expr)
    .toBe('hscale_pg_replication_slot_retained_wal_bytes{namespace="tutormax", pod=~"tutormax-db-.+"} > 104857600');
});

test('a new version replaces one instance at a time, each ready for 30 s before the next, as the guide\'s rolling update', () => {
  const spec = chart.find('Deployment', 'tutormax-api').spec;
  expect([spec.strategy.rollingUpdate, spec.minReadySeconds]).toEqual([{ maxSurge: 1, maxUnavailable: 0 }, 30]);
});

test('the API and the workers get the guide\'s REDIS_URL and CELERY_BROKER_URL in Sentinel URL form, beside the Sentinel env the service reads', () => {
  const sentinelUrl = (sentinels: unknown, password: string) =>
    String(sentinels).split(',').map(host => `sentinel://:$(${password})@${host}`).join(';');
  for (const deployment of ['tutormax-api', 'tutormax-workers']) {
    const env = chart.env('Deployment', deployment);
    // The cache's three Sentinels and the broker's, each with its own password's expansion.
    expect(env.REDIS_URL).toBe(sentinelUrl(env.REDIS_SENTINELS, 'REDIS_PASSWORD'));
    expect(env.CELERY_BROKER_URL).toBe(sentinelUrl(env.QUEUE_REDIS_SENTINELS, 'QUEUE_REDIS_PASSWORD'));
    expect(String(env.CELERY_BROKER_URL).split(';')).toHaveLength(3);
    expect(env.CELERY_BROKER_URL).toContain('sentinel://:$(QUEUE_REDIS_PASSWORD)@tutormax-queue-sentinel-0.');
    expect([env.REDIS_SENTINEL_MASTER, env.QUEUE_REDIS_SENTINEL_MASTER]).toEqual(['tutormax-master', 'tutormax-queue']);
  }
});
