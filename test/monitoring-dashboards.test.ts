/* eslint-disable @typescript-eslint/no-explicit-any */
import { Testing } from 'cdk8s';
import { LoadBalancer, MonitoredEndpoint, Observability, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { ALL_KNOWN_METRICS } from '../lib/core/known-metrics';
import { renderDashboards } from '../lib/observability/dashboards';
import { ProcessGroup } from './support/processes';
import { asGrafanaSends, metricNames } from './support/promql';
import { checkRules, testRules } from './support/promtool';

const chart = Testing.chart();
const db = new PgReplicaSet(chart, 'db', { engine: 'patroni' });
const cache = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' });
const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', database: db, cache });
const lb = new LoadBalancer(chart, 'lb', { backend: api });
const jobs = new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker: cache });
const endpoints: MonitoredEndpoint[] = [api, db, cache, lb, jobs].flatMap(t => t.metricsEndpoints.map(e => ({ ...e, namespace: 'default' })));
const dashboards = renderDashboards(endpoints) as Record<string, any>;
const expressions: string[] = Object.values(dashboards).flatMap(d => d.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr)));

const group = new ProcessGroup();
afterAll(() => group.cleanup());

test('there is a dashboard for the API, the workers, PostgreSQL, Redis and nginx', () => {
  expect(Object.keys(dashboards).sort()).toEqual(['hscale-api.json', 'hscale-nginx.json', 'hscale-postgresql.json', 'hscale-redis.json', 'hscale-worker.json']);
  expect(dashboards['hscale-worker.json'].panels.map((p: any) => p.title)).toEqual([
    'Queue emails: waiting jobs', 'Replicas and autoscaler bounds', 'Jobs per second by outcome', 'Job duration p95 by queue',
    'Jobs waiting and active by queue', 'Restarts (15 min)', 'CPU per container', 'Memory per container (working set)', 'Disk I/O per container',
    'Network per pod',
  ]);
  const workerExprs = dashboards['hscale-worker.json'].panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
  expect(workerExprs).toEqual(expect.arrayContaining([
    'histogram_quantile(0.95, sum by (queue, le) (rate(worker_job_duration_seconds_bucket{namespace="default", pod=~"test-jobs-.+"}[$__rate_interval])))',
    // Each worker pod reports the same counts from Redis: one line per queue and state, not their sum.
    'max by (queue, state) (worker_queue_jobs{namespace="default", pod=~"test-jobs-.+", state=~"waiting|active"})',
  ]));
  const apiTitles = dashboards['hscale-api.json'].panels.map((p: any) => p.title);
  expect(apiTitles).toEqual(expect.arrayContaining(['Requests per second', 'Error ratio (5xx)', 'Latency', 'Replicas and autoscaler bounds']));
});

test('the API dashboard shows latency by route, errors by pod, query duration by operation and target, and each container\'s resources', () => {
  const exprs = dashboards['hscale-api.json'].panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
  const job = 'namespace="default", job="test-api"';
  const pods = 'namespace="default", pod=~"test-api-.+"';
  expect(exprs).toEqual(expect.arrayContaining([
    `histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{${job}}[$__rate_interval])))`,
    `sum by (pod) (rate(http_requests_total{${job}, status=~"4.."}[$__rate_interval]))`,
    `sum by (pod) (rate(http_requests_total{${job}, status=~"5.."}[$__rate_interval]))`,
    `histogram_quantile(0.95, sum by (operation, target, le) (rate(db_query_duration_seconds_bucket{${job}}[$__rate_interval])))`,
    `sum by (pod, container) (rate(container_cpu_usage_seconds_total{${pods}, container!=""}[$__rate_interval]))`,
    `sum by (pod, container) (container_memory_working_set_bytes{${pods}, container!=""})`,
    `sum by (pod, container) (rate(container_fs_writes_bytes_total{${pods}, container!=""}[$__rate_interval]))`,
    `sum by (pod) (rate(container_network_receive_bytes_total{${pods}}[$__rate_interval]))`,
  ]));
});

test('without PostgreSQL replicas, no replica panel or alert of the API or PostgreSQL: none could ever show data', () => {
  // GIVEN a primary alone, as the CMS guide runs it, and an API on it
  const solo = Testing.chart();
  const soloDb = new PgReplicaSet(solo, 'db', { replicas: 0, engine: 'patroni' });
  const soloApi = new ScaledApi(solo, 'api', { image: 'example/api:1.0.0', database: soloDb });
  // WHEN
  const soloDashboards = renderDashboards([soloApi, soloDb].flatMap(t => t.metricsEndpoints)) as Record<string, any>;
  const alertsOf = (obs: Observability) => obs.ruleGroups.flatMap(g => g.rules).flatMap(r => ('alert' in r ? [r.alert] : []));
  const soloAlerts = alertsOf(new Observability(solo, 'obs', { targets: [soloApi, soloDb] }));
  const replicatedAlerts = alertsOf(new Observability(Testing.chart(), 'obs', { targets: [api, db] }));
  // THEN the replicated topology has them, the solo one none
  const titles = (all: Record<string, any>) => Object.values(all).flatMap(d => d.panels.map((p: any) => p.title));
  const replicaPanels = ['Replica lag by replica', 'Replication lag', 'Standby WAL behind', 'Replicas behind the leader (WAL)'];
  const replicaAlerts = ['PostgresReplicationLagHigh', 'PostgresReplicationSlotInactive', 'PostgresStandbyRetainsTooMuchWal', 'PatroniMemberNotStreaming'];
  expect(titles(dashboards)).toEqual(expect.arrayContaining(replicaPanels));
  expect(titles(soloDashboards).filter(title => replicaPanels.includes(title))).toEqual([]);
  expect(replicatedAlerts).toEqual(expect.arrayContaining(replicaAlerts));
  expect(soloAlerts.filter(name => replicaAlerts.includes(name))).toEqual([]);
  expect(soloAlerts).toEqual(expect.arrayContaining(['PostgresInstanceDown', 'PostgresConnectionsNearMax']));
});

test('every dashboard is a valid Grafana JSON model: schemaVersion, unique panel ids, a datasource and a query per panel', () => {
  for (const dashboard of Object.values(dashboards)) {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(typeof dashboard.uid).toBe('string');
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v: any) => v.name)).toContain('datasource');
    for (const panel of dashboard.panels.filter((p: any) => p.type !== 'row')) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.expr).toMatch(/\S/);
      expect(panel.gridPos).toEqual({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
    }
  }
});

test('every dashboard expression parses (promtool checks it as a recording rule, $__rate_interval as Grafana fills it in)', async () => {
  const dir = group.tempDir();
  const rules = expressions.map((expr, i) => ({ record: `hscale:dashboard_query_${i}`, expr: asGrafanaSends(expr, 30) }));
  expect(await checkRules(dir, 'dashboard-queries.yml', [{ name: 'dashboard-queries', rules }])).toContain(`${rules.length} rules found`);
});

test('every rate() on a dashboard reads Grafana\'s $__rate_interval, and the alert rules keep fixed windows', () => {
  const windows = (exprs: string[]) => [...new Set(exprs.flatMap(e => [...e.matchAll(/\brate\([^[]*\[([^\]]+)\]/g)].map(m => m[1])))];
  expect(expressions.filter(e => /\brate\(/.test(e)).length).toBeGreaterThan(10);
  expect(windows(expressions)).toEqual(['$__rate_interval']);
  new Observability(chart, 'obs', { targets: [api, db, cache, lb, jobs] });
  const alerts: string[] = Testing.synth(chart).filter(o => o.kind === 'PrometheusRule')
    .flatMap(o => o.spec.groups.flatMap((g: any) => g.rules.filter((r: any) => r.alert).map((r: any) => r.expr)));
  expect(alerts.join('\n')).not.toContain('$__');
  expect(windows(alerts)).toContain('5m');
});

test('every dashboard expression reads only metrics some target really exports', () => {
  const unknown = expressions.flatMap(metricNames).filter(name => !ALL_KNOWN_METRICS.has(name));
  expect(unknown).toEqual([]);
  expect(new Set(expressions.flatMap(metricNames)).size).toBeGreaterThan(20);
});

test('the metric name extraction finds names and skips functions, labels and keywords', () => {
  expect(metricNames('sum by (namespace, le) (rate(http_request_duration_seconds_bucket{job="a"}[5m])) / on (pod) group_left up'))
    .toEqual(['http_request_duration_seconds_bucket', 'up']);
});

test('the PostgreSQL dashboard of the patroni engine ends in a Patroni row: leader, roles, timeline and how far each replica is behind', () => {
  const panels = dashboards['hscale-postgresql.json'].panels;
  const row = panels.findIndex((p: any) => p.type === 'row');
  expect(panels[row]).toEqual({ id: row + 1, type: 'row', title: 'Patroni', collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: expect.any(Number) }, panels: [] });
  // Every PostgreSQL panel above it, the Patroni panels below it, laid out two to a line from the row down.
  expect(panels.slice(row + 1).map((p: any) => p.title)).toEqual([
    'Leader (1 = holds the leader lock)', 'Members by role', 'Timeline (rises with each promotion)', 'Replicas behind the leader (WAL)',
  ]);
  expect(panels.slice(0, row).every((p: any) => p.gridPos.y < panels[row].gridPos.y)).toBe(true);
  expect(panels.slice(row + 1).map((p: any) => [p.gridPos.x, p.gridPos.y - panels[row].gridPos.y])).toEqual([[0, 1], [12, 1], [0, 9], [12, 9]]);
  const pods = 'namespace="default", pod=~"test-db-.+"';
  expect(panels.slice(row + 1).flatMap((p: any) => p.targets.map((t: any) => t.expr))).toEqual(expect.arrayContaining([
    `max by (pod) (patroni_primary{${pods}})`,
    `max by (pod) (patroni_postgres_timeline{${pods}})`,
    `max by (namespace, scope) (patroni_xlog_location{${pods}}) - on (namespace, scope) group_right patroni_xlog_replayed_location{${pods}}`
      + ` and on (namespace, pod) patroni_replica{${pods}} == 1`,
  ]));
});

test('the Patroni lag panel gives each replica\'s distance to its leader, and none for the leader (promtool evaluates it)', async () => {
  // GIVEN the leader test-db-0 at 5000 and a replica test-db-1 that received 4000 and replayed 3000
  const dir = group.tempDir();
  const lag = dashboards['hscale-postgresql.json'].panels.find((p: any) => p.title === 'Replicas behind the leader (WAL)');
  const rules = lag.targets.map((t: any, i: number) => ({ record: `lag_${i}`, expr: t.expr }));
  await checkRules(dir, 'rules.yml', [{ name: 'lag', rules }]);
  const member = (pod: string) => `namespace="default", pod="${pod}", scope="test-db"`;
  const input = [['patroni_xlog_location', 'test-db-0', 5000], ['patroni_replica', 'test-db-0', 0], ['patroni_xlog_received_location', 'test-db-0', 0],
    ['patroni_xlog_replayed_location', 'test-db-0', 0], ['patroni_xlog_location', 'test-db-1', 0], ['patroni_replica', 'test-db-1', 1],
    ['patroni_xlog_received_location', 'test-db-1', 4000], ['patroni_xlog_replayed_location', 'test-db-1', 3000]]
    .map(([metric, pod, value]) => ({ series: `${metric}{${member(pod as string)}}`, values: `${value}x5` }));
  // WHEN promtool evaluates both queries
  const output = await testRules(dir, {
    rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [{
      interval: '1m', input_series: input,
      promql_expr_test: [1000, 2000].map((value, i) => ({ expr: `lag_${i}`, eval_time: '2m', exp_samples: [{ labels: `lag_${i}{${member('test-db-1')}}`, value }] })),
    }],
  });
  // THEN the replica is 1000 bytes behind in what it received and 2000 in what it replayed; the leader has no line
  expect(output).toContain('SUCCESS');
});

test('the statefulset engine\'s PostgreSQL dashboard has no Patroni row, and keeps its panels untitled by construct', () => {
  const other = Testing.chart();
  const statefulDb = new PgReplicaSet(other, 'db', { engine: 'statefulset' });
  const panels = (renderDashboards(statefulDb.metricsEndpoints) as Record<string, any>)['hscale-postgresql.json'].panels;
  expect(panels.map((p: any) => p.type)).not.toContain('row');
  expect(panels.map((p: any) => p.title)).toEqual(['Replication lag', 'Standby WAL behind', 'Connections', 'Instances up']);
});

test('two PgReplicaSets on one dashboard: every title and each Patroni row names its construct', () => {
  const other = Testing.chart();
  const both = ['a', 'b'].flatMap(id => new PgReplicaSet(other, id, { engine: 'patroni' }).metricsEndpoints);
  const panels = (renderDashboards(both) as Record<string, any>)['hscale-postgresql.json'].panels;
  expect(panels.filter((p: any) => p.type === 'row').map((p: any) => p.title)).toEqual(['test-a: Patroni', 'test-b: Patroni']);
  expect(panels.filter((p: any) => p.type !== 'row').every((p: any) => /^test-[ab]: /.test(p.title))).toBe(true);
});
