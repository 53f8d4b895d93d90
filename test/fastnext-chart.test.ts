import { Testing } from 'cdk8s';
import { FastNextChart } from '../charts/fastnext-chart';
import { PATRONI_COMMAND } from '../lib/postgres/patroni-engine';
import { externalRequirements } from '../lib/render';
import { namespacedChartProblems, synthChart } from './support/guide-chart';
import { Manifest } from './support/manifest-checks';

const chart = synthChart(new FastNextChart(Testing.app(), 'fastnext', { namespace: 'fastnext' }));

test('the FastNext chart passes the manifest checks, behind its restricted Namespace', async () => {
  expect(await namespacedChartProblems(chart.manifests, 'fastnext')).toEqual([]);
});

test('the key of the write tokens comes from a Secret the user creates, which the chart\'s requirements list', () => {
  expect(chart.env('Deployment', 'backend-api').AUTH_SIGNING_KEY).toEqual({ secretKeyRef: { name: 'fastnext-api-auth', key: 'signing-key' } });
  expect(externalRequirements(chart.manifests).secrets).toContainEqual(expect.objectContaining({ namespace: 'fastnext', name: 'fastnext-api-auth', keys: ['signing-key'] }));
});

test('the API scales on 3-20 pods at CPU 70% and memory 80%, keeps 2 available, with the guide\'s requests and limits', () => {
  const hpa = chart.find('HorizontalPodAutoscaler', 'backend-hpa').spec;
  expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([3, 20]);
  expect(hpa.metrics.map((m: Manifest) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([['cpu', 70], ['memory', 80]]);
  expect(chart.find('PodDisruptionBudget', 'backend-pdb').spec.minAvailable).toBe(2);
  const container = chart.find('Deployment', 'backend-api').spec.template.spec.containers[0];
  expect(container.resources).toEqual({
    requests: { 'cpu': '250m', 'memory': '256Mi', 'ephemeral-storage': '114Mi' },
    limits: { 'cpu': '1', 'memory': '1Gi', 'ephemeral-storage': '114Mi' },
  });
  expect(container.ports[0].containerPort).toBe(8000);
});

test('the autoscaler adds the larger of 50% and 2 pods a minute, and removes the smaller of 10% a minute and 1 pod per 3 minutes', () => {
  expect(chart.find('HorizontalPodAutoscaler', 'backend-hpa').spec.behavior).toEqual({
    scaleUp: {
      stabilizationWindowSeconds: 60, selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }, { type: 'Pods', value: 2, periodSeconds: 60 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: 300, selectPolicy: 'Min',
      policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }, { type: 'Pods', value: 1, periodSeconds: 180 }],
    },
  });
});

test('the probes keep the guide\'s paths and timings', () => {
  const container = chart.find('Deployment', 'backend-api').spec.template.spec.containers[0];
  const timing = (probe: Manifest) => [probe.httpGet.path, probe.initialDelaySeconds ?? 0, probe.periodSeconds, probe.timeoutSeconds, probe.failureThreshold];
  expect(timing(container.livenessProbe)).toEqual(['/api/v1/scaling/health/liveness', 60, 10, 5, 3]);
  expect(timing(container.readinessProbe)).toEqual(['/api/v1/scaling/health/readiness', 10, 5, 3, 3]);
  expect(timing(container.startupProbe)).toEqual(['/api/v1/scaling/health/startup', 0, 10, 3, 30]);
});

test('the pools are the guide\'s 20 + 40 on the primary and 10 + 20 per replica, and PostgreSQL admits them all at 20 pods', () => {
  const env = chart.env('Deployment', 'backend-api');
  expect([env.PG_POOL_MAX, env.PG_REPLICA_POOL_MAX, env.PG_POOL_TIMEOUT_MS]).toEqual(['60', '30', '30000']);
  // fastnext_db_pool_size reports the guide's pool_size, 20, as its sample does.
  expect(env.PG_POOL_SIZE).toBe('20');
  const maxConnections = Number(chart.patroniParameters('fastnext-db-config').max_connections);
  expect(maxConnections).toBeGreaterThanOrEqual(20 * 60);
});

test('the API serves the guide\'s fastnext_* metrics, reads from the members that are replicas (it checks all three), and knows all six Redis nodes', () => {
  const env = chart.env('Deployment', 'backend-api');
  expect(env.METRICS_PREFIX).toBe('fastnext');
  expect(String(env.POSTGRES_READ_REPLICAS).split(',')).toEqual([0, 1, 2].map(i => `fastnext-db-${i}.fastnext-db-pods.fastnext.svc.cluster.local:5432`));
  expect(String(env.REDIS_CLUSTER_NODES).split(',')).toHaveLength(6);
});

test('PostgreSQL is 1 primary + 2 replicas, 3 Patroni members that fail over by themselves; Redis Cluster is 3 masters + 3 replicas with the guide\'s redis.conf', () => {
  expect(chart.find('StatefulSet', 'fastnext-db').spec.replicas).toBe(3);
  expect(chart.find('StatefulSet', 'fastnext-db').spec.template.spec.containers[0].command).toEqual(PATRONI_COMMAND);
  expect(chart.find('StatefulSet', 'fastnext-cache').spec.replicas).toBe(6);
  const conf = chart.configFile('fastnext-cache', 'redis.conf');
  for (const line of ['cluster-enabled yes', 'cluster-node-timeout 5000', 'maxmemory 2147483648', 'maxmemory-policy allkeys-lru',
    'appendonly yes', 'appendfsync everysec', 'save "900 1 300 10 60 10000"', 'tcp-keepalive 300']) {
    expect(conf).toContain(line);
  }
  // The guide's 2 GB of data on nodes that fork (AOF, save points, replicas) needs twice that as the limit.
  expect(chart.find('StatefulSet', 'fastnext-cache').spec.template.spec.containers[0].resources.limits.memory).toBe('4Gi');
});

test('nginx balances least_conn with max_fails 3 / fail_timeout 30s, limits the API to 100 r/s and login to 5 r/min', () => {
  const conf = chart.configFile('fastnext-lb', 'nginx.conf');
  expect(conf).toContain('least_conn;');
  expect(conf).toMatch(/server fastnext-api-pods\.fastnext\.svc\.cluster\.local:8000 resolve max_fails=3 fail_timeout=30s;/);
  expect(conf).toContain('keepalive 32;');
  expect(conf).toContain('zone=api_requests:10m rate=100r/s');
  expect(conf).toContain('zone=login_requests:10m rate=5r/m');
  // As the guide: the API limit on `location /api/`, the login limit on the prefix location of the login path.
  expect(conf).toMatch(/location \/api\/ \{\s+limit_req zone=api_requests burst=20 nodelay;/);
  expect(conf).toMatch(/location \/api\/v1\/auth\/login \{\s+limit_req zone=login_requests burst=3 nodelay;/);
  expect(conf).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
});

test('nginx proxies with the guide\'s 60 s send/read timeouts, 4k buffers, HTTP/2 and the API\'s own /health, and caches nothing, as the guide', () => {
  const conf = chart.configFile('fastnext-lb', 'nginx.conf');
  for (const line of ['proxy_connect_timeout 2s;', 'proxy_send_timeout 60s;', 'proxy_read_timeout 60s;', 'proxy_buffer_size 4k;',
    'proxy_buffers 8 4k;', 'http2 on;']) {
    expect(conf).toContain(line);
  }
  // The guide declares api_cache and uses it in no location.
  expect(conf).not.toContain('proxy_cache');
  expect(conf).toMatch(/location = \/health \{\s+access_log off;\s+proxy_pass http:\/\/api;/);
});

test('the Deployment, HPA and PDB have the guide\'s names, which the autoscaler, monitors and alerts follow', () => {
  // 001: `kubectl describe hpa backend-hpa -n fastnext`.
  const hpa = chart.find('HorizontalPodAutoscaler', 'backend-hpa');
  expect(hpa.metadata.namespace).toBe('fastnext');
  expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'backend-api' });
  expect(chart.find('PodDisruptionBudget', 'backend-pdb').spec.selector.matchLabels)
    .toEqual(chart.find('Deployment', 'backend-api').spec.selector.matchLabels);
  const rules = JSON.stringify(chart.manifests.filter(m => m.kind === 'PrometheusRule'));
  expect(rules).toContain('horizontalpodautoscaler=\\"backend-hpa\\"');
  expect(rules).toContain('poddisruptionbudget=\\"backend-pdb\\"');
  expect(rules).toContain('pod=~\\"backend-api-.+\\"');
  expect(rules).not.toMatch(/(horizontalpodautoscaler|poddisruptionbudget)=\\"fastnext-api\\"/);
});

test('the API gets 001\'s environment, each value from the database, cache and autoscaler it is wired to', () => {
  const env = chart.env('Deployment', 'backend-api');
  // The primary's read-write Service, which DATABASE_URL names too.
  expect(env.POSTGRES_SERVER).toBe('fastnext-db-rw.fastnext.svc.cluster.local');
  expect(env.DATABASE_URL).toContain(`@${env.POSTGRES_SERVER}:5432/`);
  expect(env.POSTGRES_PORT).toBe('5432');
  // The credentials Secret's database key, `fastnext` as the guide's when the Secret is made so.
  expect(env.POSTGRES_DB).toBe('$(PGDATABASE)');
  expect(env.REDIS_HOST).toBe(String(env.REDIS_CLUSTER_NODES).split(',')[0].split(':')[0]);
  expect(env.REDIS_PORT).toBe('6379');
  expect([env.CACHE_ENABLED, env.CACHE_MAX_SIZE, env.CACHE_DEFAULT_TTL]).toEqual(['true', '2gb', '300']);
  expect([env.ENABLE_AUTO_SCALING, env.MIN_REPLICAS, env.MAX_REPLICAS, env.TARGET_CPU_PERCENT, env.TARGET_MEMORY_PERCENT])
    .toEqual(['true', '3', '20', '70', '80']);
});

test('the API dashboard has a query latency panel by kind and target, and 001\'s "System Resources" (CPU, memory, disk, network) per container', () => {
  const panels = chart.panels('fastnext-obs', 'hscale-api');
  expect(panels['Query duration p95 by operation and target'])
    .toEqual(['histogram_quantile(0.95, sum by (operation, target, le) (rate(db_query_duration_seconds_bucket{namespace="fastnext", job="fastnext-api"}[$__rate_interval])))']);
  // The guide's Deployment is backend-api: its pods are backend-api-...
  const containers = 'namespace="fastnext", pod=~"backend-api-.+", container!=""';
  expect(panels['CPU per container']).toEqual([`sum by (pod, container) (rate(container_cpu_usage_seconds_total{${containers}}[$__rate_interval]))`]);
  expect(panels['Memory per container (working set)']).toEqual([`sum by (pod, container) (container_memory_working_set_bytes{${containers}})`]);
  expect(panels['Disk I/O per container']).toEqual(['reads', 'writes'].map(way => `sum by (pod, container) (rate(container_fs_${way}_bytes_total{${containers}}[$__rate_interval]))`));
  expect(panels['Network per pod']).toEqual(['receive', 'transmit']
    .map(way => `sum by (pod) (rate(container_network_${way}_bytes_total{namespace="fastnext", pod=~"backend-api-.+"}[$__rate_interval]))`));
});
