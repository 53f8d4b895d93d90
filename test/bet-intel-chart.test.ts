import { Testing } from 'cdk8s';
import { BetIntelChart } from '../charts/bet-intel-chart';
import { namespacedChartProblems, synthChart } from './support/guide-chart';
import { Manifest } from './support/manifest-checks';

const chart = synthChart(new BetIntelChart(Testing.app(), 'bet-intel', { namespace: 'bet-intel' }));

test('the bet-intel chart passes the manifest checks, behind its restricted Namespace', async () => {
  expect(await namespacedChartProblems(chart.manifests, 'bet-intel')).toEqual([]);
});

test('the API scales on 3-20 pods at CPU 70%, memory 80% and 100 requests per second per pod', () => {
  const hpa = chart.find('HorizontalPodAutoscaler', 'bet-intel-api').spec;
  expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([3, 20]);
  expect(hpa.metrics.map((m: Manifest) => m.resource?.target.averageUtilization ?? [m.pods.metric.name, m.pods.target.averageValue]))
    .toEqual([70, 80, ['requests_per_second', '100']]);
  expect(chart.find('Deployment', 'bet-intel-api').spec.template.spec.containers[0].resources)
    .toEqual({ requests: { 'cpu': '200m', 'memory': '256Mi', 'ephemeral-storage': '114Mi' }, limits: { 'cpu': '500m', 'memory': '512Mi', 'ephemeral-storage': '114Mi' } });
});

test('the autoscaler waits 30 s before adding pods and 5 minutes before removing them; requests_per_second is served by its adapter rule', () => {
  const behavior = chart.find('HorizontalPodAutoscaler', 'bet-intel-api').spec.behavior;
  expect([behavior.scaleUp.stabilizationWindowSeconds, behavior.scaleDown.stabilizationWindowSeconds]).toEqual([30, 300]);
  expect(chart.configFile('bet-intel-api-adapter-rules', 'config.yaml')).toContain('as: requests_per_second');
});

test('nginx retries the next pod on invalid headers and 500s too, with 5 s connect and 60 s send/read timeouts', () => {
  const conf = chart.configFile('bet-intel-lb', 'nginx.conf');
  for (const line of ['proxy_next_upstream error timeout invalid_header http_500 http_502 http_503;', 'proxy_connect_timeout 5s;',
    'proxy_send_timeout 60s;', 'proxy_read_timeout 60s;', 'max_fails=3 fail_timeout=30s;']) {
    expect(conf).toContain(line);
  }
  expect(conf).toMatch(/location = \/health \{\s+access_log off;\s+proxy_pass http:\/\/api;/);
});

test('PostgreSQL has 2 read replicas; Redis Cluster has 3 masters with a replica each, so no lost master takes its slots down', () => {
  // Patroni members: the leader and 2 replicas, any of which it promotes when the leader goes.
  expect(chart.find('StatefulSet', 'bet-intel-db').spec.replicas).toBe(3);
  const redis = chart.find('StatefulSet', 'bet-intel-cache');
  expect(redis.spec.replicas).toBe(6);
  expect(chart.env('Job', /^bet-intel-cache-create-[0-9a-f]{10}$/).REPLICAS_PER_SHARD).toBe('1');
  expect(chart.configFile('bet-intel-cache', 'redis.conf')).toContain('maxmemory-policy allkeys-lru');
  // Celery's broker is a Redis of its own that never evicts.
  expect(chart.configFile('bet-intel-queue', 'redis.conf')).toContain('maxmemory-policy noeviction');
  expect(chart.env('Deployment', 'bet-intel-api').QUEUE_REDIS_SENTINELS).toContain('bet-intel-queue-sentinel-0');
  // The guide's requests, but a whole CPU as the limit for Redis's one thread and its forks, and half the memory limit as maxmemory.
  expect(redis.spec.template.spec.containers[0].resources).toEqual({
    requests: { 'cpu': '100m', 'memory': '256Mi', 'ephemeral-storage': '114Mi' },
    limits: { 'cpu': '1', 'memory': '512Mi', 'ephemeral-storage': '114Mi' },
  });
  expect(chart.configFile('bet-intel-cache', 'redis.conf')).toContain(`maxmemory ${256 * 2 ** 20}\n`);
});

test('a pool per queue with the guide\'s concurrency, each 2-8 workers, scaled at 50 waiting jobs per worker', () => {
  const pools = [['ev-calculation', 'ev_calculation', '4'], ['data-refresh', 'data_refresh', '2'], ['notifications', 'notifications', '8']];
  for (const [pool, queue, concurrency] of pools) {
    const env = chart.env('Deployment', `bet-intel-${pool}`);
    expect([env.WORKER_QUEUES, env.WORKER_CONCURRENCY]).toEqual([queue, concurrency]);
    const scaledObject = chart.find('ScaledObject', `bet-intel-${pool}`).spec;
    expect([scaledObject.minReplicaCount, scaledObject.maxReplicaCount]).toEqual([2, 8]);
    expect(scaledObject.triggers[0].metadata.listLength).toBe('50');
    expect(chart.find('Deployment', `bet-intel-${pool}`).spec.template.spec.containers[0].resources)
      .toEqual({ requests: { 'cpu': '300m', 'memory': '512Mi', 'ephemeral-storage': '114Mi' }, limits: { 'cpu': '800m', 'memory': '1024Mi', 'ephemeral-storage': '114Mi' } });
  }
  expect(chart.env('Deployment', 'bet-intel-api').WORKER_QUEUES).toBe('ev_calculation,data_refresh,notifications');
});

test('a worker restarts past 200 MB per job it runs at once, as Celery\'s children did, and within 80% of its limit', () => {
  const maxRss = (pool: string) => Number(chart.env('Deployment', `bet-intel-${pool}`).WORKER_MAX_RSS_BYTES) / 2 ** 20;
  expect(Math.round(maxRss('data-refresh'))).toBe(Math.round(1024 * 0.39));
  expect(Math.round(maxRss('ev-calculation'))).toBe(Math.round(1024 * 0.78));
  expect(Math.round(maxRss('notifications'))).toBe(Math.round(1024 * 0.8));
});

test('each pool is told its WORKER_TYPE, as the guide\'s compose file names them', () => {
  for (const [pool, type] of [['ev-calculation', 'ev_calculation'], ['data-refresh', 'data_refresh'], ['notifications', 'notifications']]) {
    expect(chart.env('Deployment', `bet-intel-${pool}`).WORKER_TYPE).toBe(type);
  }
});

test('alerts warn at the guide\'s scaling guidelines: mean latency over 200 ms, reads over 50 ms, hit rate under 95%, p95 over 200 ms', () => {
  const rules = chart.find('PrometheusRule', 'bet-intel-obs-api').spec.groups[0].rules;
  const expr = (alert: string) => rules.find((r: Manifest) => r.alert === alert).expr;
  const job = 'namespace="bet-intel", job="bet-intel-api"';
  expect(expr('HscaleApiAverageLatencyHigh')).toBe(`sum by (namespace, job) (rate(http_request_duration_seconds_sum{${job}}[5m]))`
    + ` / sum by (namespace, job) (rate(http_request_duration_seconds_count{${job}}[5m])) > 0.2`);
  expect(expr('HscaleApiReadQueriesSlow')).toBe(`sum by (namespace, job) (rate(db_query_duration_seconds_sum{${job}, operation="read"}[5m]))`
    + ` / sum by (namespace, job) (rate(db_query_duration_seconds_count{${job}, operation="read"}[5m])) > 0.05`);
  expect(expr('HscaleCacheHitRatioLow')).toBe(`hscale:cache_hit:ratio_rate10m{${job}} < 0.95`);
  expect(expr('HscaleApiLatencyAboveSlo')).toBe(`hscale:http_request_duration_seconds:p95{${job}} > 0.2`);
});

test('the guide\'s seven metric names exist: the API and the workers serve four, two are recorded, db_query_duration_seconds is ours', () => {
  // requests_total and cache_hit_rate by the API; celery_task_duration_seconds and celery_workers_active by each pool's workers.
  expect(chart.env('Deployment', 'bet-intel-api').GUIDE_METRICS).toBe('bet-intel');
  for (const pool of ['ev-calculation', 'data-refresh', 'notifications']) expect(chart.env('Deployment', `bet-intel-${pool}`).GUIDE_METRICS).toBe('bet-intel');
  // cache_memory_bytes: the cache's six servers (not the queue's Redis); celery_queue_length: each queue's waiting jobs.
  const rules = chart.find('PrometheusRule', 'bet-intel-obs-guide-metrics').spec.groups[0].rules;
  expect(rules).toEqual([
    { record: 'cache_memory_bytes', expr: 'sum by (namespace) (redis_memory_used_bytes{namespace="bet-intel", pod=~"bet-intel-cache-.+"})' },
    {
      record: 'celery_queue_length',
      expr: 'max by (namespace, queue_name) (label_replace(worker_queue_jobs{namespace="bet-intel", '
        + 'pod=~"bet-intel-ev-calculation-.+|bet-intel-data-refresh-.+|bet-intel-notifications-.+", state="waiting"}, "queue_name", "$1", "queue", "(.+)"))',
    },
  ]);
});

test('the API dashboard has the guide\'s panels: p95/p99 by endpoint, 4xx/5xx by instance, query times, CPU, memory and disk I/O per container', () => {
  const panels = chart.panels('bet-intel-obs', 'hscale-api');
  const job = 'namespace="bet-intel", job="bet-intel-api"';
  expect(panels['Latency p95 / p99 by route']).toEqual([95, 99].map(q =>
    `histogram_quantile(0.${q}, sum by (route, le) (rate(http_request_duration_seconds_bucket{${job}}[$__rate_interval])))`));
  expect(panels['4xx / 5xx per second by pod']).toEqual(['4', '5'].map(digit => `sum by (pod) (rate(http_requests_total{${job}, status=~"${digit}.."}[$__rate_interval]))`));
  expect(panels['Query duration p95 by operation and target'])
    .toEqual([`histogram_quantile(0.95, sum by (operation, target, le) (rate(db_query_duration_seconds_bucket{${job}}[$__rate_interval])))`]);
  const containers = 'namespace="bet-intel", pod=~"bet-intel-api-.+", container!=""';
  expect(panels['CPU per container']).toEqual([`sum by (pod, container) (rate(container_cpu_usage_seconds_total{${containers}}[$__rate_interval]))`]);
  expect(panels['Memory per container (working set)']).toEqual([`sum by (pod, container) (container_memory_working_set_bytes{${containers}})`]);
  expect(panels['Disk I/O per container']).toEqual(['reads', 'writes'].map(way => `sum by (pod, container) (rate(container_fs_${way}_bytes_total{${containers}}[$__rate_interval]))`));
});
