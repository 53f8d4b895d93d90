import { Testing } from 'cdk8s';
import { CmsChart } from '../charts/cms-chart';
import { namespacedChartProblems, synthChart } from './support/guide-chart';
import { Manifest } from './support/manifest-checks';

const chart = synthChart(new CmsChart(Testing.app(), 'cms', { namespace: 'cms' }));

test('the CMS chart passes the manifest checks, behind its restricted Namespace', async () => {
  expect(await namespacedChartProblems(chart.manifests, 'cms')).toEqual([]);
});

test('the API listens on 3000 and scales on 3-10 pods at CPU 70% and memory 80%, with the guide\'s requests and limits', () => {
  const hpa = chart.find('HorizontalPodAutoscaler', 'cms-api').spec;
  expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([3, 10]);
  expect(hpa.metrics.map((m: Manifest) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([['cpu', 70], ['memory', 80]]);
  const container = chart.find('Deployment', 'cms-api').spec.template.spec.containers[0];
  expect(container.ports[0].containerPort).toBe(3000);
  expect(container.resources).toEqual({
    requests: { 'cpu': '250m', 'memory': '256Mi', 'ephemeral-storage': '114Mi' },
    limits: { 'cpu': '500m', 'memory': '512Mi', 'ephemeral-storage': '114Mi' },
  });
});

test('nginx proxies with the guide\'s 5 s connect and 10 s send/read timeouts, and /health from the API', () => {
  const conf = chart.configFile('cms-lb', 'nginx.conf');
  for (const line of ['proxy_connect_timeout 5s;', 'proxy_send_timeout 10s;', 'proxy_read_timeout 10s;']) expect(conf).toContain(line);
  expect(conf).toMatch(/location = \/health \{\s+access_log off;\s+proxy_pass http:\/\/api;/);
});

test('the autoscaler doubles at once (or adds 2 pods) every 15 s, and halves at most once a minute after 5 calm minutes', () => {
  expect(chart.find('HorizontalPodAutoscaler', 'cms-api').spec.behavior).toEqual({
    scaleUp: {
      stabilizationWindowSeconds: 0, selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 2, periodSeconds: 15 }],
    },
    scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Min', policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] },
  });
});

test('liveness checks the process and readiness the database, with the guide\'s delays and periods; /health is left to nginx', () => {
  const container = chart.find('Deployment', 'cms-api').spec.template.spec.containers[0];
  expect([container.livenessProbe.httpGet.path, container.livenessProbe.initialDelaySeconds, container.livenessProbe.periodSeconds])
    .toEqual(['/api/v1/scaling/health/liveness', 30, 10]);
  expect([container.readinessProbe.httpGet.path, container.readinessProbe.initialDelaySeconds, container.readinessProbe.periodSeconds])
    .toEqual(['/api/v1/scaling/health/readiness', 5, 5]);
});

test('the guide\'s JWT secret is the key the API verifies write tokens with, from the Secret the guide names, never from the YAML', () => {
  const env = chart.env('Deployment', 'cms-api');
  expect(env.AUTH_SIGNING_KEY).toEqual({ secretKeyRef: { name: 'cms-api-secrets', key: 'jwt-secret' } });
  // The service reads no JWT_SECRET: a second name for the key would only be a second place to leak it.
  expect(env.JWT_SECRET).toBeUndefined();
});

test('one PostgreSQL, its replicas at 0 until the guide\'s "future" read replicas are wanted, with room for every pod\'s pool', () => {
  expect(chart.find('StatefulSet', 'cms-db-primary').spec.replicas).toBe(1);
  expect(chart.find('StatefulSet', 'cms-db-replica').spec.replicas).toBe(0);
  expect(chart.env('Deployment', 'cms-api').POSTGRES_READ_REPLICAS).toBe('');
  expect(chart.configFile('cms-db-config', 'postgresql.conf')).toContain('max_connections = 250');
  const env = chart.env('Deployment', 'cms-api');
  expect([env.PG_POOL_MAX, env.PG_POOL_TIMEOUT_MS]).toEqual(['20', '10000']);
});

test('one Redis on its own volume, which the API reaches by REDIS_URL with the password from the Secret', () => {
  const redis = chart.find('StatefulSet', 'cms-cache');
  expect(redis.spec.replicas).toBe(1);
  expect(redis.spec.volumeClaimTemplates).toHaveLength(1);
  const env = chart.env('Deployment', 'cms-api');
  expect(env.REDIS_URL).toBe('redis://cms-cache-0.cms-cache-nodes.cms.svc.cluster.local:6379');
  expect(env.REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'cms-cache-auth', key: 'password' } });
});

test('Redis never evicts, since it holds users\' refresh tokens beside the cache', () => {
  expect(chart.configFile('cms-cache', 'redis.conf')).toContain('maxmemory-policy noeviction');
});

test('a new version replaces one pod at a time, 10 s apart, as Swarm\'s parallelism 1 and delay 10s', () => {
  const spec = chart.find('Deployment', 'cms-api').spec;
  expect([spec.strategy.rollingUpdate, spec.minReadySeconds]).toEqual([{ maxSurge: 1, maxUnavailable: 0 }, 10]);
});

test('the guide\'s "database query duration" is served as db_query_duration_seconds and charted by operation and target', () => {
  expect(chart.panels('cms-obs', 'hscale-api')['Query duration p95 by operation and target'])
    .toEqual(['histogram_quantile(0.95, sum by (operation, target, le) (rate(db_query_duration_seconds_bucket{namespace="cms", job="cms-api"}[$__rate_interval])))']);
});
