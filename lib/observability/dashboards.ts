import { MetricsEndpoint } from '../core/endpoints';
import { PostgresSeries, POSTGRES_SERIES } from './postgres-series';
import { autoscalerMatcher, Concern, concernOf, jobMatcher, kedaQueueLength, MonitoredEndpoint, podMatcher } from './rules';

/** A Grafana panel query. */
interface Query {
  readonly expr: string;
  readonly legend: string;
}

/** A panel, before layout. */
interface PanelSpec {
  readonly title: string;
  readonly unit: string;
  readonly queries: Query[];
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/**
 * The window of every rate() on a dashboard: Grafana's `$__rate_interval`, at least four scrape
 * intervals and wider as the graph zooms out, so a panel neither goes blank under a slow scrape
 * nor averages a zoomed-in view over 5 minutes. Alert rules keep fixed windows: their thresholds
 * were set for them.
 */
const DASHBOARD_RATE_WINDOW = '$__rate_interval';

/** The panels of one endpoint of a concern. */
type PanelsOf = (e: MonitoredEndpoint) => PanelSpec[];

function replicasPanel(e: MonitoredEndpoint): PanelSpec {
  const hpa = autoscalerMatcher(e);
  return {
    title: 'Replicas and autoscaler bounds', unit: 'short', queries: [
      { expr: `kube_horizontalpodautoscaler_status_current_replicas{${hpa}}`, legend: 'replicas' },
      { expr: `kube_horizontalpodautoscaler_spec_min_replicas{${hpa}}`, legend: 'min' },
      { expr: `kube_horizontalpodautoscaler_spec_max_replicas{${hpa}}`, legend: 'max' },
    ],
  };
}

/**
 * CPU, memory, disk I/O and network of each container of one construct's pods, from the kubelet's
 * cAdvisor series (kube-prometheus-stack scrapes them); `container!=""` leaves out the pod-level sums.
 */
function containerResourcePanels(e: MonitoredEndpoint): PanelSpec[] {
  const containers = `${podMatcher(e)}, container!=""`;
  const perContainer = (metric: string) => `sum by (pod, container) (rate(${metric}{${containers}}[${DASHBOARD_RATE_WINDOW}]))`;
  return [
    { title: 'CPU per container', unit: 'short', queries: [{ expr: perContainer('container_cpu_usage_seconds_total'), legend: '{{pod}} {{container}}' }] },
    {
      title: 'Memory per container (working set)', unit: 'bytes',
      queries: [{ expr: `sum by (pod, container) (container_memory_working_set_bytes{${containers}})`, legend: '{{pod}} {{container}}' }],
    },
    {
      title: 'Disk I/O per container', unit: 'Bps', queries: [
        { expr: perContainer('container_fs_reads_bytes_total'), legend: '{{pod}} {{container}} read' },
        { expr: perContainer('container_fs_writes_bytes_total'), legend: '{{pod}} {{container}} write' },
      ],
    },
    // Network belongs to the pod (its containers share one interface).
    {
      title: 'Network per pod', unit: 'Bps', queries: [
        { expr: `sum by (pod) (rate(container_network_receive_bytes_total{${podMatcher(e)}}[${DASHBOARD_RATE_WINDOW}]))`, legend: '{{pod}} received' },
        { expr: `sum by (pod) (rate(container_network_transmit_bytes_total{${podMatcher(e)}}[${DASHBOARD_RATE_WINDOW}]))`, legend: '{{pod}} sent' },
      ],
    },
  ];
}

const apiPanels: PanelsOf = e => {
  const job = jobMatcher(e);
  return [
    { title: 'Requests per second', unit: 'reqps', queries: [{ expr: `hscale:http_requests:rate5m{${job}}`, legend: 'requests/s' }] },
    { title: 'Error ratio (5xx)', unit: 'percentunit', queries: [{ expr: `hscale:http_errors:ratio_rate5m{${job}}`, legend: '5xx ratio' }] },
    {
      title: 'Latency', unit: 's', queries: [50, 95, 99].map(q => ({ expr: `hscale:http_request_duration_seconds:p${q}{${job}}`, legend: `p${q}` })),
    },
    {
      title: 'Latency p95 / p99 by route', unit: 's', queries: [95, 99].map(q => ({
        expr: `histogram_quantile(0.${q}, sum by (route, le) (rate(http_request_duration_seconds_bucket{${job}}[${DASHBOARD_RATE_WINDOW}])))`, legend: `{{route}} p${q}`,
      })),
    },
    {
      title: '4xx / 5xx per second by pod', unit: 'reqps', queries: ['4', '5'].map(digit => ({
        expr: `sum by (pod) (rate(http_requests_total{${job}, status=~"${digit}.."}[${DASHBOARD_RATE_WINDOW}]))`, legend: `{{pod}} ${digit}xx`,
      })),
    },
    replicasPanel(e),
    {
      title: 'Query duration p95 by operation and target', unit: 's', queries: [{
        expr: `histogram_quantile(0.95, sum by (operation, target, le) (rate(db_query_duration_seconds_bucket{${job}}[${DASHBOARD_RATE_WINDOW}])))`, legend: '{{operation}} on {{target}}',
      }],
    },
    ...(e.withoutReplicas ? [] : [{
      title: 'Replica lag by replica', unit: 's', queries: [{ expr: `max by (replica) (db_replica_lag_seconds{${job}})`, legend: '{{replica}}' }],
    }]),
    {
      title: 'Reads by target', unit: 'reqps', queries: [{ expr: `sum by (target, reason) (rate(db_reads_total{${job}}[${DASHBOARD_RATE_WINDOW}]))`, legend: '{{target}} ({{reason}})' }],
    },
    {
      title: 'Database pool use', unit: 'short', queries: [{ expr: `sum by (pool, state) (db_pool_connections{${job}})`, legend: '{{pool}} {{state}}' }],
    },
    { title: 'Cache hit ratio', unit: 'percentunit', queries: [{ expr: `hscale:cache_hit:ratio_rate10m{${job}}`, legend: 'hit ratio' }] },
    ...containerResourcePanels(e),
  ];
};

const workerPanels: PanelsOf = e => {
  const pods = podMatcher(e);
  return [
    ...(e.queue ? [{ title: `Queue ${e.queue.name}: waiting jobs`, unit: 'short', queries: [{ expr: kedaQueueLength(e), legend: 'waiting' }] }] : []),
    replicasPanel(e),
    // The reference worker's counters; a worker of your own shows them when it exports the same names.
    { title: 'Jobs per second by outcome', unit: 'ops', queries: [{ expr: `sum by (outcome) (rate(worker_jobs_total{${pods}}[${DASHBOARD_RATE_WINDOW}]))`, legend: '{{outcome}}' }] },
    {
      title: 'Job duration p95 by queue', unit: 's', queries: [{
        expr: `histogram_quantile(0.95, sum by (queue, le) (rate(worker_job_duration_seconds_bucket{${pods}}[${DASHBOARD_RATE_WINDOW}])))`, legend: '{{queue}}',
      }],
    },
    // Every worker pod reads the same counts from Redis: max, not sum.
    {
      title: 'Jobs waiting and active by queue', unit: 'short', queries: [{
        expr: `max by (queue, state) (worker_queue_jobs{${pods}, state=~"waiting|active"})`, legend: '{{queue}} {{state}}',
      }],
    },
    { title: 'Restarts (15 min)', unit: 'short', queries: [{ expr: `sum by (pod) (increase(kube_pod_container_status_restarts_total{${pods}}[15m]))`, legend: '{{pod}}' }] },
    ...containerResourcePanels(e),
  ];
};

/** The PostgreSQL panels, on the series of the exporter that serves them (`pg`). */
const postgresqlPanels = (pg: PostgresSeries): PanelsOf => e => {
  const pods = podMatcher(e);
  return [
    ...(e.withoutReplicas ? [] : [
      { title: 'Replication lag', unit: 's', queries: [{ expr: pg.lagSeconds(pods), legend: '{{pod}}' }] },
      { title: 'Standby WAL behind', unit: 'bytes', queries: [{ expr: pg.standbyReplayBytes(pods), legend: '{{application_name}}' }] },
    ]),
    {
      title: 'Connections', unit: 'short', queries: [
        { expr: `sum by (pod) (${pg.backends(pods)})`, legend: '{{pod}}' },
        { expr: `max(${pg.maxConnections(pods)})`, legend: 'max_connections' },
      ],
    },
    { title: 'Instances up', unit: 'short', queries: [{ expr: `${pg.upMetric}{${pods}}`, legend: '{{pod}}' }] },
  ];
};

/** Patroni's view of each member (its REST `/metrics`): who leads, the roles, the timeline, and how far each replica is behind the leader. */
const patroniPanels: PanelsOf = e => {
  const pods = podMatcher(e);
  const behindLeader = (position: string) => `max by (namespace, scope) (patroni_xlog_location{${pods}}) - on (namespace, scope) group_right`
    + ` ${position}{${pods}} and on (namespace, pod) patroni_replica{${pods}} == 1`;
  return [
    { title: 'Leader (1 = holds the leader lock)', unit: 'short', queries: [{ expr: `max by (pod) (patroni_primary{${pods}})`, legend: '{{pod}}' }] },
    {
      title: 'Members by role', unit: 'short', queries: [
        { expr: `sum(patroni_primary{${pods}})`, legend: 'leader' },
        { expr: `sum(patroni_replica{${pods}})`, legend: 'replicas' },
        { expr: `sum(patroni_sync_standby{${pods}})`, legend: 'synchronous standbys' },
        { expr: `count(patroni_postgres_running{${pods}} == 0) or vector(0)`, legend: 'PostgreSQL not running' },
      ],
    },
    { title: 'Timeline (rises with each promotion)', unit: 'short', queries: [{ expr: `max by (pod) (patroni_postgres_timeline{${pods}})`, legend: '{{pod}}' }] },
    ...(e.withoutReplicas ? [] : [{
      title: 'Replicas behind the leader (WAL)', unit: 'bytes', queries: [
        { expr: behindLeader('patroni_xlog_received_location'), legend: '{{pod}} received' },
        { expr: behindLeader('patroni_xlog_replayed_location'), legend: '{{pod}} replayed' },
      ],
    }]),
  ];
};

const redisPanels: PanelsOf = e => {
  const pods = podMatcher(e);
  return [
    { title: 'Commands per second', unit: 'ops', queries: [{ expr: `sum by (pod) (rate(redis_commands_processed_total{${pods}}[${DASHBOARD_RATE_WINDOW}]))`, legend: '{{pod}}' }] },
    {
      title: 'Keyspace hit ratio', unit: 'percentunit', queries: [{
        expr: `sum(rate(redis_keyspace_hits_total{${pods}}[${DASHBOARD_RATE_WINDOW}])) / (sum(rate(redis_keyspace_hits_total{${pods}}[${DASHBOARD_RATE_WINDOW}])) + sum(rate(redis_keyspace_misses_total{${pods}}[${DASHBOARD_RATE_WINDOW}])))`,
        legend: 'hit ratio',
      }],
    },
    {
      title: 'Memory', unit: 'bytes', queries: [
        { expr: `redis_memory_used_bytes{${pods}}`, legend: '{{pod}} used' },
        { expr: `redis_memory_max_bytes{${pods}}`, legend: '{{pod}} max' },
      ],
    },
    // A panel over a series the exporter never serves would show no data for ever.
    ...(e.redisClusterEnabled ? [{ title: 'Cluster state (1 = ok)', unit: 'short', queries: [{ expr: `min(redis_cluster_state{${pods}})`, legend: 'cluster_state' }] }] : []),
    { title: 'Evictions per second', unit: 'ops', queries: [{ expr: `sum(rate(redis_evicted_keys_total{${pods}}[${DASHBOARD_RATE_WINDOW}]))`, legend: 'evicted' }] },
  ];
};

const nginxPanels: PanelsOf = e => {
  const pods = podMatcher(e);
  return [
    { title: 'Requests per second', unit: 'reqps', queries: [{ expr: `sum(rate(nginx_http_requests_total{${pods}}[${DASHBOARD_RATE_WINDOW}]))`, legend: 'requests/s' }] },
    {
      title: 'Connections', unit: 'short', queries: ['active', 'reading', 'writing', 'waiting'].map(state => ({
        expr: `sum(nginx_connections_${state}{${pods}})`, legend: state,
      })),
    },
    {
      title: 'Dropped connections per second', unit: 'ops', queries: [{
        expr: `sum(rate(nginx_connections_accepted{${pods}}[${DASHBOARD_RATE_WINDOW}])) - sum(rate(nginx_connections_handled{${pods}}[${DASHBOARD_RATE_WINDOW}]))`, legend: 'dropped',
      }],
    },
  ];
};

/** The panels of each kind of exporter; a new panel goes into its exporter's function, on its concern's dashboard. */
const PANELS_OF: Record<MetricsEndpoint['exporter'], PanelsOf> = {
  'hscale-service': apiPanels,
  'hscale-worker': workerPanels,
  'postgres-exporter': postgresqlPanels(POSTGRES_SERIES['postgres-exporter']),
  'cloudnative-pg': postgresqlPanels(POSTGRES_SERIES['cloudnative-pg']),
  'patroni': patroniPanels,
  'redis-exporter': redisPanels,
  'nginx-exporter': nginxPanels,
};

/** Exporters whose panels sit under a row of their own on their concern's dashboard. */
const ROW_OF: Partial<Record<MetricsEndpoint['exporter'], string>> = { patroni: 'Patroni' };

const TITLES: Record<Concern, string> = { api: 'API', worker: 'Workers', postgresql: 'PostgreSQL', redis: 'Redis', nginx: 'nginx' };

/** The panels of one endpoint, under a row of their own when their exporter has one. */
interface Section {
  readonly row?: string;
  readonly specs: PanelSpec[];
}

/**
 * Lays the sections out two panels to a line: sections without a row flow on from one another, then
 * each row (a Grafana `row` panel holds the panels below it up to the next row) starts a line of its own.
 */
function layoutPanels(sections: Section[]): object[] {
  const panels: object[] = [];
  let y = 0;
  let column = 0;
  for (const section of [...sections.filter(x => !x.row), ...sections.filter(x => x.row)]) {
    if (section.row) {
      if (column > 0) [y, column] = [y + 8, 0];
      panels.push({ id: panels.length + 1, type: 'row', title: section.row, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
      y += 1;
    }
    for (const spec of section.specs) {
      panels.push(timeseriesPanel(panels.length + 1, spec, { h: 8, w: 12, x: column * 12, y }));
      if (++column === 2) [y, column] = [y + 8, 0];
    }
  }
  return panels;
}

function timeseriesPanel(id: number, spec: PanelSpec, gridPos: { h: number; w: number; x: number; y: number }): object {
  return {
    id,
    type: 'timeseries',
    title: spec.title,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: { defaults: { unit: spec.unit }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
    targets: spec.queries.map((q, j) => ({
      refId: String.fromCharCode(65 + j), datasource: DATASOURCE, expr: q.expr, legendFormat: q.legend,
    })),
  };
}

/**
 * Renders one Grafana dashboard (JSON model, schemaVersion 39) per concern present among the
 * endpoints, keyed by file name. Every panel names the `datasource` variable and its queries; with
 * more than one construct on a dashboard, each title names its construct.
 */
export function renderDashboards(endpoints: MonitoredEndpoint[]): Record<string, object> {
  const byConcern = new Map<Concern, MonitoredEndpoint[]>();
  for (const e of endpoints) byConcern.set(concernOf(e), [...(byConcern.get(concernOf(e)) ?? []), e]);
  const dashboards: Record<string, object> = {};
  for (const [concern, members] of byConcern) {
    const named = new Set(members.map(e => e.workloadName)).size > 1;
    const title = (e: MonitoredEndpoint, text: string) => (named ? `${e.workloadName}: ${text}` : text);
    const sections = members.map(e => ({
      row: ROW_OF[e.exporter] && title(e, ROW_OF[e.exporter]!),
      specs: PANELS_OF[e.exporter](e).map(p => ({ ...p, title: title(e, p.title) })),
    }));
    dashboards[`hscale-${concern}.json`] = {
      uid: `hscale-${concern}`,
      title: `hscale / ${TITLES[concern]}`,
      tags: ['hscale'],
      timezone: 'browser',
      schemaVersion: 39,
      version: 1,
      refresh: '30s',
      time: { from: 'now-6h', to: 'now' },
      templating: {
        list: [{ name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }],
      },
      panels: layoutPanels(sections),
    };
  }
  return dashboards;
}
