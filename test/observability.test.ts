import { writeFileSync } from 'fs';
import { join } from 'path';
import { Chart, Duration, Size, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import { LoadBalancer, Observability, ObservabilityProps, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { resolveObservabilitySettings } from '../lib/observability/observability';
import { resolveStandaloneSettings } from '../lib/observability/standalone-mode';
import { crdValidators } from './support/crd-validators';
import { expectEveryObjectExposed } from './support/exposed';
import { findObject } from './support/find';
import { checkManifests, Manifest } from './support/manifest-checks';
import { ProcessGroup, run } from './support/processes';

function topology(props: Partial<ObservabilityProps> = {}, engine: 'statefulset' | 'patroni' | 'cloudnative-pg' = 'statefulset', namespace?: string) {
  const chart = namespace ? new Chart(Testing.app(), 'test', { namespace }) : Testing.chart();
  const db = new PgReplicaSet(chart, 'db', { engine });
  const cache = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' });
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', database: db, cache });
  const lb = new LoadBalancer(chart, 'lb', { backend: api });
  const jobs = new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker: cache, database: db });
  const obs = new Observability(chart, 'obs', { targets: [api, db, cache, lb, jobs], ...props });
  return { chart, obs, api, manifests: Testing.synth(chart) };
}

const group = new ProcessGroup();
afterAll(() => group.cleanup());

test('operator mode: a PodMonitor per endpoint and a PrometheusRule per concern, with the selector label', async () => {
  const { manifests } = topology();
  await checkManifests(manifests);
  const monitors = manifests.filter(m => m.kind === 'PodMonitor');
  expect(monitors.map(m => m.metadata.name).sort()).toEqual(['test-api-http', 'test-cache-metrics', 'test-db-metrics', 'test-jobs-metrics', 'test-lb-metrics']);
  for (const m of [...monitors, ...manifests.filter(x => x.kind === 'PrometheusRule')]) expect(m.metadata.labels.release).toBe('kube-prometheus-stack');
  const api = monitors.find(m => m.metadata.name === 'test-api-http')!;
  expect(api.spec.podMetricsEndpoints).toEqual([{ port: 'http', path: '/metrics', relabelings: [{ targetLabel: 'job', replacement: 'test-api' }] }]);
  expect(manifests.filter(m => m.kind === 'PrometheusRule').map(m => m.metadata.name).sort())
    .toEqual(['test-obs-api', 'test-obs-nginx', 'test-obs-postgresql', 'test-obs-recording', 'test-obs-redis', 'test-obs-worker']);
});

test('the patroni engine\'s REST metrics are scraped in both modes, admitted from Prometheus only beside the members', async () => {
  // GIVEN the topology on the patroni engine, with prometheus-operator and with a Prometheus of its own
  const operator = topology({}, 'patroni').manifests;
  const standalone = topology({ mode: 'standalone' }, 'patroni', 'shop').manifests;
  await checkManifests(operator);
  // THEN a PodMonitor on the members' `patroni` port, labelled job as the exporter's
  expect(operator.find(m => m.kind === 'PodMonitor' && m.metadata.name === 'test-db-patroni')!.spec).toEqual({
    selector: { matchLabels: { 'app.kubernetes.io/instance': 'test-db', 'app.kubernetes.io/name': 'postgresql' } },
    podMetricsEndpoints: [{ port: 'patroni', path: '/metrics', relabelings: [{ targetLabel: 'job', replacement: 'test-db-pods' }] }],
  });
  // and 8008 admits the members and the scraper, nobody else (the API reaches 5432 only)
  const admittedOn = (manifests: Manifest[], port: number) => manifests.find(m => m.kind === 'NetworkPolicy' && m.metadata.name === 'test-db-members')!
    .spec.ingress.filter((rule: Manifest) => rule.ports.some((p: Manifest) => p.port === port)).map((rule: Manifest) => rule.from);
  expect(admittedOn(operator, 8008)).toEqual([
    [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-db', 'app.kubernetes.io/name': 'postgresql' } } }],
    [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
  ]);
  expect(admittedOn(operator, 9187)).toEqual(admittedOn(operator, 8008).slice(1));
  // and standalone: a scrape job for the port, Prometheus's egress to it, and its pods admitted
  const prometheusYml = parse(standalone.find(m => m.kind === 'ConfigMap' && m.metadata.name === 'test-obs-prometheus')!.data['prometheus.yml']);
  const job = prometheusYml.scrape_configs.find((c: Manifest) => c.job_name === 'shop/test-db/patroni');
  expect(job.metrics_path).toBe('/metrics');
  expect(job.relabel_configs).toContainEqual({ source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'patroni', action: 'keep' });
  const egress = standalone.find(m => m.kind === 'NetworkPolicy' && m.metadata.name === 'test-obs-prometheus')!.spec.egress;
  expect(egress.flatMap((rule: Manifest) => rule.ports.map((p: Manifest) => p.port))).toContain(8008);
  expect(admittedOn(standalone, 8008)).toContainEqual([{
    podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-obs', 'app.kubernetes.io/component': 'prometheus' } },
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } },
  }]);
});

test('each mode exposes every object it makes, as the object synthesized, the Prometheus and Grafana of standalone mode by part', () => {
  const operator = topology().obs;
  expectEveryObjectExposed(operator, [...operator.dashboardConfigMaps, ...operator.podMonitors, ...operator.prometheusRules]);
  expect([operator.prometheus, operator.grafana]).toEqual([undefined, undefined]);

  const standalone = topology({ mode: 'standalone', grafanaPod: { serviceAccountAnnotations: { 'iam.example.com/role': 'grafana' } } }, 'statefulset', 'monitoring').obs;
  const { prometheus, grafana } = standalone;
  const server = (s: typeof grafana) => [s?.deployment, s?.service, s?.disruptionBudget, s?.networkPolicy.policy, s?.configMap, s?.serviceAccount];
  expectEveryObjectExposed(standalone, [...standalone.dashboardConfigMaps, ...server(prometheus), ...prometheus!.roles, ...prometheus!.roleBindings, ...server(grafana)]);
  expect([standalone.podMonitors, standalone.prometheusRules]).toEqual([[], []]);
  expect([prometheus!.deployment.name, grafana!.deployment.name, grafana!.serviceAccount!.name]).toEqual(['test-obs-prometheus', 'test-obs-grafana', 'test-obs-grafana']);
});

test('every alert carries for, severity, summary, description and a runbook link', () => {
  const { obs } = topology({ runbookBaseUrl: 'https://runbooks.example.com/hscale' });
  const alerts = obs.ruleGroups.flatMap(g => g.rules).filter(r => 'alert' in r);
  expect(alerts.length).toBeGreaterThanOrEqual(17);
  for (const alert of alerts) {
    expect(alert).toMatchObject({ for: expect.stringMatching(/^\d+m$/), labels: { severity: expect.stringMatching(/^(critical|warning)$/) } });
    expect(alert.annotations.summary).not.toBe('');
    expect(alert.annotations.description).not.toBe('');
    expect(alert.annotations.runbook_url).toBe(`https://runbooks.example.com/hscale#${alert.alert.toLowerCase()}`);
  }
});

test('dashboards are ConfigMaps labelled for the Grafana sidecar, in the configured folder', () => {
  const { manifests } = topology({ dashboardLabel: { grafana_dashboard: 'hscale' }, dashboardFolder: 'Platform' });
  const dashboards = manifests.filter(m => m.kind === 'ConfigMap' && m.metadata.labels.grafana_dashboard === 'hscale');
  expect(dashboards.map(m => Object.keys(m.data)[0]).sort()).toEqual(['hscale-api.json', 'hscale-nginx.json', 'hscale-postgresql.json', 'hscale-redis.json', 'hscale-worker.json']);
  for (const m of dashboards) expect(m.metadata.annotations.grafana_folder).toBe('Platform');
});

test('the CloudNativePG PodMonitor is not doubled, and it carries the selector label', async () => {
  const { manifests } = topology({}, 'cloudnative-pg');
  await checkManifests(manifests, { validators: crdValidators() });
  const dbMonitors = manifests.filter(m => m.kind === 'PodMonitor' && m.spec.selector.matchLabels['cnpg.io/cluster'] === 'test-db');
  expect(dbMonitors).toHaveLength(1);
  expect(dbMonitors[0].metadata.labels.release).toBe('kube-prometheus-stack');
});

test('standalone mode: Prometheus and Grafana that pass the checks, with read-only namespaced RBAC', async () => {
  // GIVEN
  const { manifests } = topology({ mode: 'standalone' }, 'statefulset', 'shop');
  // THEN
  await checkManifests(manifests);
  expect(manifests.filter(m => m.apiVersion === 'monitoring.coreos.com/v1')).toEqual([]);
  const role = manifests.find(m => m.kind === 'Role')!;
  expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] }]);
  expect(manifests.find(m => m.kind === 'ClusterRole')).toBeUndefined();
  const prometheus = manifests.find(m => m.kind === 'Deployment' && m.metadata.name === 'test-obs-prometheus')!;
  expect(prometheus.spec.template.spec.automountServiceAccountToken).toBe(true);
  // The scrapers reach every metrics port through the targets' NetworkPolicies.
  const redisIngress = manifests.find(m => m.kind === 'NetworkPolicy' && m.metadata.name === 'test-cache')!.spec.ingress;
  expect(redisIngress).toContainEqual({
    from: [{
      podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-obs', 'app.kubernetes.io/component': 'prometheus' } },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } },
    }],
    ports: [{ protocol: 'TCP', port: 9121 }],
  });
});

test('the standalone prometheus.yml and its rule files pass promtool check config', async () => {
  const { manifests } = topology({ mode: 'standalone' }, 'statefulset', 'shop');
  const config = manifests.find(m => m.kind === 'ConfigMap' && m.metadata.name === 'test-obs-prometheus')!;
  const dir = group.tempDir();
  for (const [file, content] of Object.entries<string>(config.data)) writeFileSync(join(dir, file), content);
  // The rule files live in /etc/prometheus in the pod; point them at the temp dir.
  const prometheusYml = parse(config.data['prometheus.yml']);
  prometheusYml.rule_files = prometheusYml.rule_files.map((f: string) => join(dir, f.replace('/etc/prometheus/', '')));
  // Debian builds promtool without the Kubernetes service discovery: check everything else with a static
  // target in its place, and the discovery block itself below.
  const discovery = prometheusYml.scrape_configs.map((c: Manifest) => c.kubernetes_sd_configs);
  for (const scrape of prometheusYml.scrape_configs) {
    delete scrape.kubernetes_sd_configs;
    scrape.static_configs = [{ targets: ['127.0.0.1:9'] }];
  }
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(prometheusYml));
  const output = await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
  expect(output).toContain('SUCCESS');
  expect(output).toContain('6 rules found');
  expect(discovery).toEqual(Array(5).fill([{ role: 'pod', namespaces: { names: ['shop'] } }]));
  expect(prometheusYml.scrape_configs.map((c: Manifest) => c.job_name).sort())
    .toEqual(['shop/test-api/http', 'shop/test-cache/metrics', 'shop/test-db/metrics', 'shop/test-jobs/metrics', 'shop/test-lb/metrics']);
});

test.each<[string, Partial<ObservabilityProps>, string]>([
  ['the SLO is 0', { latencySlo: Duration.millis(0) }, 'test/obs: \'latencySlo\' ("0ms") must be a whole number of milliseconds from 1ms to 60000ms'],
  ['the selector label key is invalid', { selectorLabels: { 'not a key': 'x' } }, 'test/obs: \'selectorLabels\' ("not a key") is not a valid label key'],
  ['the selector label value is invalid', { selectorLabels: { release: 'has spaces' } },
    'test/obs: \'selectorLabels.release\' ("has spaces") is not a valid label value'],
  ['the mode is unknown', { mode: 'agent' as never }, 'test/obs: \'mode\' ("agent") must be one of \'operator\', \'standalone\''],
  ['a ratio is out of range', { errorRatio: 5 }, 'test/obs: \'errorRatio\' (5) must be a ratio between 0 and 1 (exclusive)'],
  ['the worker failure ratio is out of range', { workerFailureRatio: 0 }, 'test/obs: \'workerFailureRatio\' (0) must be a ratio between 0 and 1 (exclusive)'],
  ['the standby WAL bound is not whole MiB', { standbyWalLagBound: Size.kibibytes(1536) },
    'test/obs: \'standbyWalLagBound\' ("1.5 MiB") must be a whole number of MiB from 1 MiB to 1 TiB'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => topology(props)).toThrow(message);
});

test('throws error, when a target has no metrics endpoint', () => {
  const chart = Testing.chart();
  const bare = Object.assign(new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' }), { metricsEndpoints: [] });
  expect(() => new Observability(chart, 'obs', { targets: [bare] }))
    .toThrow('test/obs: \'targets\' ("test/api") has no metrics endpoint: give it a metrics port or an exporter');
});

test('throws error, when the guide\'s cache is not a Redis among the targets', () => {
  const chart = Testing.chart();
  const cache = new RedisCluster(chart, 'cache', {});
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', cache });
  const message = (path: string) => `test/obs-${path}: 'guideMetrics.cache' ("test/${path === 'a' ? 'cache' : 'api'}") must be a RedisCluster among 'targets'`;
  expect(() => new Observability(chart, 'obs-a', { targets: [api], guideMetrics: { guide: 'bet-intel', cache } })).toThrow(message('a'));
  expect(() => new Observability(chart, 'obs-b', { targets: [api, cache], guideMetrics: { guide: 'bet-intel', cache: api } })).toThrow(message('b'));
});

test('without a chart namespace, monitors and rules follow the namespace the chart is applied to', () => {
  const { manifests, obs } = topology();
  for (const m of manifests.filter(x => x.apiVersion === 'monitoring.coreos.com/v1')) expect(m.metadata.namespace).toBeUndefined();
  const exprs = obs.ruleGroups.flatMap(g => g.rules).map(r => r.expr);
  expect(exprs.filter(expr => expr.includes('namespace="'))).toEqual([]);
  const { obs: namespaced } = topology({}, 'statefulset', 'shop');
  expect(namespaced.ruleGroups.flatMap(g => g.rules).filter(r => 'alert' in r).every(r => r.expr.includes('namespace="shop"'))).toBe(true);
});

test('throws error, when standalone mode has no chart namespace', () => {
  expect(() => topology({ mode: 'standalone' })).toThrow(
    'test/obs: \'mode\' ("standalone") needs a namespace on the chart: the RoleBinding must name the namespace of Prometheus\'s ServiceAccount');
});

test('resolveObservabilitySettings defaults the labels, folder and thresholds, and places endpoints in their chart\'s namespace', () => {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'shop' });
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const settings = resolveObservabilitySettings(new Construct(chart, 'obs'), { targets: [api], latencySlo: Duration.millis(250) });
  expect(settings).toMatchObject({
    mode: 'operator', name: 'test-obs', selectorLabels: { release: 'kube-prometheus-stack' }, dashboardLabel: { grafana_dashboard: '1' },
    dashboardFolder: 'hscale',
  });
  expect(settings.thresholds).toMatchObject({
    latencySloSeconds: 0.25, errorRatio: 0.05, replicationLagSeconds: 5, slotRetainedBytes: 2 ** 30, cacheHitRatio: 0.8, workerFailureRatio: 0.1,
  });
  expect(settings.endpoints.map(e => [e.workloadName, e.namespace])).toEqual([['test-api', 'shop']]);
});

test('resolveStandaloneSettings defaults the images, the retention and the Grafana admin Secret', () => {
  const scope = new Construct(new Chart(Testing.app(), 'test', { namespace: 'mon' }), 'obs');
  expect(resolveStandaloneSettings(scope, { targets: [], retention: Duration.days(3) })).toEqual({
    namespace: 'mon', prometheusImage: 'quay.io/prometheus/prometheus:v2.53.1', grafanaImage: 'grafana/grafana:11.1.3',
    retention: '3d', grafanaAdminSecret: { secretName: 'test-obs-grafana-admin', key: 'password' }, pod: { prometheus: {}, grafana: {} },
  });
});

test('throws error, when standalone mode gets a Grafana image on latest', () => {
  expect(() => topology({ mode: 'standalone', grafanaImage: 'grafana/grafana:latest' }, 'statefulset', 'shop')).toThrow(
    'test/obs: \'grafanaImage\' ("grafana/grafana:latest") must be an image reference pinned by a tag other than \'latest\'');
});

test('a Grafana admin Secret key of the user\'s reaches Grafana\'s env and the Secret to generate', () => {
  const { obs, manifests } = topology({ mode: 'standalone', grafanaAdminSecret: { secretName: 'grafana-auth', key: 'admin-password' } }, 'statefulset', 'shop');
  const grafana = findObject(manifests, 'Deployment', 'test-obs-grafana').spec.template.spec.containers[0];
  expect(grafana.env).toContainEqual({ name: 'GF_SECURITY_ADMIN_PASSWORD', valueFrom: { secretKeyRef: { name: 'grafana-auth', key: 'admin-password' } } });
  expect(obs.generatableSecrets).toEqual([{ name: 'grafana-auth', randomKeys: ['admin-password'] }]);
  expect(() => topology({ mode: 'standalone', grafanaAdminSecret: 'grafana-auth' as never }, 'statefulset', 'shop2'))
    .toThrow('test/obs: \'grafanaAdminSecret\' ("grafana-auth") must be an object with the keys secretName, key');
});

test('standalone retention is a Duration rendered in Prometheus\'s largest whole unit', () => {
  const { manifests } = topology({ mode: 'standalone', retention: Duration.minutes(150) }, 'statefulset', 'shop');
  const prometheus = findObject(manifests, 'Deployment', 'test-obs-prometheus').spec.template.spec.containers[0];
  expect(prometheus.args).toContain('--storage.tsdb.retention.time=150m');
  const scope = (id: string) => new Construct(new Chart(Testing.app(), 'test', { namespace: 'mon' }), id);
  expect(resolveStandaloneSettings(scope('obs'), { targets: [], retention: Duration.hours(48) }).retention).toBe('2d');
  expect(resolveStandaloneSettings(scope('obs'), { targets: [], retention: Duration.seconds(7201) }).retention).toBe('7201s');
});

test.each<[string, Partial<ObservabilityProps>, string]>([
  ['retention is a string, as before 1.0', { retention: '15d' as never }, 'test/obs: \'retention\' ("15d") must be a Duration, e.g. Duration.days(15)'],
  ['retention is shorter than a TSDB block', { retention: Duration.hours(1) }, 'test/obs: \'retention\' ("3600s") must be a whole number of seconds from 7200s to 315360000s'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => topology({ mode: 'standalone', ...props }, 'statefulset', 'shop')).toThrow(message);
});
