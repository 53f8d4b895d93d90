import { MetricsEndpoint, WantedPods } from '../core/endpoints';
import { PostgresSeries, POSTGRES_SERIES } from './postgres-series';

/** One Prometheus alerting rule. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'critical' | 'warning' };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

/** One Prometheus recording rule. */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

/** A rule group, as in a Prometheus rules file and a PrometheusRule's spec. */
export interface RuleGroup {
  readonly name: string;
  readonly rules: Array<AlertRule | RecordingRule>;
}

/** A metrics endpoint of one construct, where its pods run. */
export interface MonitoredEndpoint extends MetricsEndpoint {
  /** The namespace of the construct's chart; absent when the chart names none (`kubectl apply -n` decides). */
  readonly namespace?: string;
}

/** Thresholds and links of the alerts. */
export interface AlertThresholds {
  /** p95 latency objective of the API, in seconds. */
  readonly latencySloSeconds: number;
  /** Mean request duration above which the API warns, in seconds; absent, no such alert. */
  readonly averageLatencySeconds?: number;
  /** Mean duration of the API's reads above which it warns, in seconds; absent, no such alert. */
  readonly readQuerySeconds?: number;
  /** Ratio of 5xx responses that pages. */
  readonly errorRatio: number;
  /** Replication lag that warns, in seconds. */
  readonly replicationLagSeconds: number;
  /** Share of max_connections in use that warns. */
  readonly connectionsRatio: number;
  /** WAL a standby may be behind (replay) before its slot is said to retain too much, in bytes. */
  readonly slotRetainedBytes: number;
  /** Share of a volume left free below which it pages. */
  readonly volumeFreeRatio: number;
  /** Share of maxmemory in use that warns. */
  readonly redisMemoryRatio: number;
  /** Cache hit ratio below which the cache is said to be cold or too small. */
  readonly cacheHitRatio: number;
  /** Share of a worker pool's finished jobs that failed for good, above which it warns. */
  readonly workerFailureRatio: number;
  /** Base of the runbook links; the alert name is appended. */
  readonly runbookBaseUrl: string;
}

/** The concerns rules are grouped by; each becomes one PrometheusRule or one rules file. */
export type Concern = 'api' | 'worker' | 'postgresql' | 'redis' | 'nginx';

const CONCERN_OF: Record<MetricsEndpoint['exporter'], Concern> = {
  'hscale-service': 'api',
  'hscale-worker': 'worker',
  'postgres-exporter': 'postgresql',
  'cloudnative-pg': 'postgresql',
  // Patroni's alerts and panels join PostgreSQL's: one page about the database, with a row of its own.
  'patroni': 'postgresql',
  'redis-exporter': 'redis',
  'nginx-exporter': 'nginx',
};

export function concernOf(endpoint: MetricsEndpoint): Concern {
  return CONCERN_OF[endpoint.exporter];
}

/** `namespace="<ns>", ` when the chart names a namespace; without one the series of every namespace match. */
export function namespaceMatcher(e: MonitoredEndpoint): string {
  return e.namespace ? `namespace="${e.namespace}", ` : '';
}

/** Series of one construct's pods. */
export function podMatcher(e: MonitoredEndpoint): string {
  return `${namespaceMatcher(e)}pod=~"${e.workloadName}-.+"`;
}

/** kube-state-metrics' series of one construct's HorizontalPodAutoscaler. */
export function autoscalerMatcher(e: MonitoredEndpoint): string {
  return `${namespaceMatcher(e)}horizontalpodautoscaler="${e.autoscalerName ?? e.workloadName}"`;
}

/** Series of one API, as its PodMonitor or the standalone scrape config labels them (job = Service). */
export function jobMatcher(e: MonitoredEndpoint): string {
  return `${namespaceMatcher(e)}job="${e.serviceName ?? e.workloadName}"`;
}

/** The queue length KEDA last read for a worker pool's ScaledObject. */
export function kedaQueueLength(e: MonitoredEndpoint): string {
  return `keda_scaler_metrics_value{${namespaceMatcher(e)}scaledObject="${e.queue!.scaledObject}"}`;
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** The recording rules the dashboards and the API alerts share. */
export function renderRecordingRules(): RuleGroup {
  const by = 'namespace, job';
  return {
    name: 'hscale-recording',
    rules: [
      { record: 'hscale:http_requests:rate5m', expr: `sum by (${by}) (rate(http_requests_total[5m]))` },
      {
        record: 'hscale:http_errors:ratio_rate5m',
        // `or ... * 0`: without a single 5xx the ratio is 0, not absent, so the panel shows a healthy API as 0.
        expr: `(sum by (${by}) (rate(http_requests_total{status=~"5.."}[5m])) or sum by (${by}) (rate(http_requests_total[5m])) * 0)`
          + ` / sum by (${by}) (rate(http_requests_total[5m]))`,
      },
      ...[50, 95, 99].map(q => ({
        record: `hscale:http_request_duration_seconds:p${q}`,
        expr: `histogram_quantile(0.${q}, sum by (${by}, le) (rate(http_request_duration_seconds_bucket[5m])))`,
      })),
      {
        record: 'hscale:cache_hit:ratio_rate10m',
        expr: `sum by (${by}) (rate(cache_hits_total[10m])) / (sum by (${by}) (rate(cache_hits_total[10m])) + sum by (${by}) (rate(cache_misses_total[10m])))`,
      },
    ],
  };
}

/**
 * Recording rules under bet-intel's names (its l.407-422) for what no one process serves as one
 * figure: `cache_memory_bytes`, the memory the cache's Redis servers use, and
 * `celery_queue_length{queue_name}`, each queue's waiting jobs, which every worker of its pool
 * reports (the largest report is taken, so a worker that has not read the queue yet counts for nothing).
 */
export function renderGuideRecordingRules(cache: MonitoredEndpoint, workers: MonitoredEndpoint[]): RuleGroup {
  const poolsByNamespace = new Map<string | undefined, MonitoredEndpoint[]>();
  for (const pool of workers) poolsByNamespace.set(pool.namespace, [...(poolsByNamespace.get(pool.namespace) ?? []), pool]);
  return {
    name: 'hscale-guide-metrics',
    rules: [
      { record: 'cache_memory_bytes', expr: `sum by (namespace) (redis_memory_used_bytes{${podMatcher(cache)}})` },
      ...[...poolsByNamespace.values()].map(pools => {
        const selector = `${namespaceMatcher(pools[0])}pod=~"${pools.map(pool => `${pool.workloadName}-.+`).join('|')}", state="waiting"`;
        return {
          record: 'celery_queue_length',
          expr: `max by (namespace, queue_name) (label_replace(worker_queue_jobs{${selector}}, "queue_name", "$1", "queue", "(.+)"))`,
        };
      }),
    ],
  };
}

/** Makes an alert whose runbook link is the alert's anchor in the runbooks. */
type MakeAlert = (name: string, severity: 'critical' | 'warning', forDuration: string, expr: string, summary: string, description: string) => AlertRule;

/** The alerts of one endpoint of a concern. */
type AlertsOf = (e: MonitoredEndpoint, t: AlertThresholds, alert: MakeAlert) => AlertRule[];

/** What every autoscaled Deployment can suffer, named after its tier. */
function workloadAlerts(prefix: string, e: MonitoredEndpoint, alert: MakeAlert): AlertRule[] {
  return [
    alert(`${prefix}AutoscalerAtMax`, 'warning', '15m',
      `kube_horizontalpodautoscaler_status_current_replicas{${autoscalerMatcher(e)}}`
      + ` >= kube_horizontalpodautoscaler_spec_max_replicas{${autoscalerMatcher(e)}}`,
      `${e.workloadName}: the autoscaler has run at its maximum for 15 minutes`,
      'The HPA cannot add pods: raise maxReplicas or find what makes each pod slower.'),
    alert(`${prefix}PodCrashLooping`, 'warning', '5m',
      `increase(kube_pod_container_status_restarts_total{${podMatcher(e)}}[15m]) > 2`,
      `${e.workloadName}: a pod is restarting repeatedly`,
      'Pod {{ $labels.pod }} restarted {{ $value }} times in 15 minutes.'),
  ];
}

/** `label=~"a|b"` for exact names (DNS-1123 names need no escaping) or RE2 patterns, which PromQL anchors at both ends. */
function namesMatcher(label: string, names: string[]): string {
  return `${label}=~"${names.join('|')}"`;
}

/**
 * The construct's Jobs and CronJobs (kube-state-metrics). A Job is failed for good once its retries
 * or its deadline are spent (`kube_job_failed`; `kube_job_status_failed` also counts pods that a retry
 * made good). A CronJob's last scheduled run must have succeeded within 10 minutes (its runs have a
 * 5-minute deadline), whatever its schedule: a staleness bound from the schedule would wait a whole
 * period (a day, for a daily job) before paging.
 */
function batchAlerts(prefix: string, e: MonitoredEndpoint, alert: MakeAlert): AlertRule[] {
  const ns = namespaceMatcher(e);
  const jobs = e.jobs?.length ? [alert(`${prefix}JobFailed`, 'warning', '1m',
    `kube_job_failed{${ns}${namesMatcher('job_name', e.jobs)}, condition="true"} > 0`,
    `${e.workloadName}: Job {{ $labels.job_name }} failed`,
    'The Job spent its retries or its deadline: read its pods\' logs (kubectl logs job/{{ $labels.job_name }}).')] : [];
  const cron = `${ns}${namesMatcher('cronjob', e.cronJobs ?? [])}`;
  const cronJobs = e.cronJobs?.length ? [alert(`${prefix}ScheduledRunNotSucceeded`, 'warning', '10m',
    `kube_cronjob_status_last_schedule_time{${cron}} > (kube_cronjob_status_last_successful_time{${cron}} or kube_cronjob_status_last_schedule_time{${cron}} * 0)`,
    `${e.workloadName}: the last run of CronJob {{ $labels.cronjob }} has not succeeded`,
    'Its last scheduled run failed or is stuck, so the job it enqueues was not added: read the Job\'s pods\' logs.')] : [];
  return [...jobs, ...cronJobs];
}

/** A server whose pods keep data on volumes: paged before one fills, since a full volume stops writes. */
function volumeAlerts(prefix: string, e: MonitoredEndpoint, t: AlertThresholds, alert: MakeAlert): AlertRule[] {
  if (!e.volumeClaims) return [];
  const claims = `${namespaceMatcher(e)}persistentvolumeclaim=~"${e.volumeClaims}.+"`;
  return [alert(`${prefix}VolumeFillingUp`, 'critical', '5m',
    `kubelet_volume_stats_available_bytes{${claims}} / kubelet_volume_stats_capacity_bytes{${claims}} < ${t.volumeFreeRatio}`,
    `${e.workloadName}: a volume has less than ${percent(t.volumeFreeRatio)} free`,
    '{{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free: writes stop when it is full.')];
}

const WANTED_SERIES: Record<WantedPods['kind'], { metric: string; label: string }> = {
  StatefulSet: { metric: 'kube_statefulset_replicas', label: 'statefulset' },
  Deployment: { metric: 'kube_deployment_spec_replicas', label: 'deployment' },
  PersistentVolumeClaim: { metric: 'kube_persistentvolumeclaim_info', label: 'persistentvolumeclaim' },
};

/** Per namespace, above 0 while kube-state-metrics says the endpoint's pods should run (a controller wants replicas, an instance's claim exists). */
function podsWanted(e: MonitoredEndpoint, wanted: WantedPods): string {
  const { metric, label } = WANTED_SERIES[wanted.kind];
  return `max by (namespace) (${metric}{${namespaceMatcher(e)}${namesMatcher(label, wanted.names)}}) > 0`;
}

/**
 * Paged when no pod of the server reports its exporter's up metric at all while its pods are wanted: the pods are gone (unschedulable,
 * deleted, crash-looping), which an `== 0` comparison never sees. The wanted objects give the page its namespace, which `absent()`
 * cannot when the chart names none; a server scaled to 0 on purpose does not page.
 */
function absentAlert(prefix: string, upMetric: string, e: MonitoredEndpoint, alert: MakeAlert): AlertRule {
  const up = `${upMetric}{${podMatcher(e)}}`;
  return alert(`${prefix}Absent`, 'critical', '5m', e.wantedPods ? `${podsWanted(e, e.wantedPods)} unless on (namespace) ${up}` : `absent(${up})`,
    `${e.workloadName}: no pod reports ${upMetric}`,
    `No pod of ${e.workloadName} has been scraped for 5 minutes: its pods are gone, or the exporters cannot be reached.`);
}

/** The mean of a histogram over 5 minutes, per API; `selector` narrows its series. */
function histogramMean(histogram: string, selector: string): string {
  const rate = (series: string) => `sum by (namespace, job) (rate(${histogram}_${series}{${selector}}[5m]))`;
  return `${rate('sum')} / ${rate('count')}`;
}

/** The alerts on mean durations that a chart asks for (bet-intel's "avg response time > 200ms", "read query time > 50ms"). */
const meanDurationAlerts: AlertsOf = (e, t, alert) => [
  ...(t.averageLatencySeconds === undefined ? [] : [alert('HscaleApiAverageLatencyHigh', 'warning', '10m',
    `${histogramMean('http_request_duration_seconds', jobMatcher(e))} > ${t.averageLatencySeconds}`,
    `${e.workloadName}: mean latency above ${t.averageLatencySeconds * 1000} ms`,
    'Mean request duration of {{ $labels.job }} is {{ $value | humanizeDuration }}.')]),
  ...(t.readQuerySeconds === undefined ? [] : [alert('HscaleApiReadQueriesSlow', 'warning', '10m',
    `${histogramMean('db_query_duration_seconds', `${jobMatcher(e)}, operation="read"`)} > ${t.readQuerySeconds}`,
    `${e.workloadName}: mean read query time above ${t.readQuerySeconds * 1000} ms`,
    'Reads of {{ $labels.job }} take {{ $value | humanizeDuration }} on average: add a replica, or find the slow queries.')]),
];

const apiAlerts: AlertsOf = (e, t, alert) => [
  alert('HscaleApiHighErrorRatio', 'critical', '5m',
    `hscale:http_errors:ratio_rate5m{${jobMatcher(e)}} > ${t.errorRatio}`,
    `${e.workloadName}: more than ${percent(t.errorRatio)} of requests fail`,
    '{{ $value | humanizePercentage }} of the requests of {{ $labels.job }} answered 5xx over 5 minutes.'),
  alert('HscaleApiLatencyAboveSlo', 'warning', '10m',
    `hscale:http_request_duration_seconds:p95{${jobMatcher(e)}} > ${t.latencySloSeconds}`,
    `${e.workloadName}: p95 latency above ${t.latencySloSeconds * 1000} ms`,
    'p95 latency of {{ $labels.job }} is {{ $value | humanizeDuration }}.'),
  ...meanDurationAlerts(e, t, alert),
  ...workloadAlerts('HscaleApi', e, alert),
  alert('HscaleApiDisruptionBudgetExhausted', 'warning', '15m',
    `kube_poddisruptionbudget_status_pod_disruptions_allowed{${namespaceMatcher(e)}poddisruptionbudget="${e.disruptionBudgetName ?? e.workloadName}"} == 0`,
    `${e.workloadName}: no pod may be evicted`,
    'The PodDisruptionBudget has no healthy pod to spare: node drains will stall.'),
  alert('HscaleCacheHitRatioLow', 'warning', '30m',
    `hscale:cache_hit:ratio_rate10m{${jobMatcher(e)}} < ${t.cacheHitRatio}`,
    `${e.workloadName}: cache hit ratio below ${percent(t.cacheHitRatio)}`,
    'Hit ratio {{ $value | humanizePercentage }}: the cache is cold, too small, or its TTLs too short.'),
];

// No PDB alert: a pool KEDA scaled to zero has no disruption to allow, and that is healthy.
const workerAlerts: AlertsOf = (e, t, alert) => [
  ...workloadAlerts('HscaleWorker', e, alert),
  // Failed means failed for good (attempts spent); retried runs are not counted, nor are they finished.
  alert('HscaleWorkerJobsFailing', 'warning', '10m',
    `sum by (namespace, queue) (rate(worker_jobs_total{${podMatcher(e)}, outcome="failed"}[10m]))`
    + ` / sum by (namespace, queue) (rate(worker_jobs_total{${podMatcher(e)}, outcome=~"completed|failed"}[10m])) > ${t.workerFailureRatio}`,
    `${e.workloadName}: more than ${percent(t.workerFailureRatio)} of jobs fail for good`,
    '{{ $value | humanizePercentage }} of the jobs of queue {{ $labels.queue }} ended in the failed set over 10 minutes.'),
  ...(e.queue ? [alert('HscaleWorkerQueueBacklogGrowing', 'warning', '15m',
    `${kedaQueueLength(e)} > ${e.queue.backlogLimit} and delta(${kedaQueueLength(e)}[15m]) > 0`,
    `${e.workloadName}: queue ${e.queue.name} keeps growing beyond what the pool can take`,
    '{{ $value }} jobs wait and the count still rises: raise maxReplicas, or find what makes each job slower.')] : []),
  ...(e.queue ? [scalerErrorsAlert(e, alert)] : []),
  ...batchAlerts('HscaleWorker', e, alert),
];

/**
 * KEDA cannot read the queue: the pool keeps its size, and a pool at zero never wakes. KEDA 2.14+
 * counts per scaler in `keda_scaler_detail_errors_total`, 2.10-2.13 in `keda_scaler_errors`;
 * `keda_scaler_errors_total` has no labels, so it cannot name the pool.
 */
function scalerErrorsAlert(e: MonitoredEndpoint, alert: MakeAlert): AlertRule {
  const selector = `${namespaceMatcher(e)}scaledObject="${e.queue!.scaledObject}"`;
  return alert('HscaleWorkerScalerErrors', 'critical', '10m',
    `sum by (namespace, scaledObject) (rate(keda_scaler_detail_errors_total{${selector}}[5m]) or rate(keda_scaler_errors{${selector}}[5m])) > 0`,
    `${e.workloadName}: KEDA cannot read the queue`,
    'ScaledObject {{ $labels.scaledObject }} fails to read its queue length: the pool is not scaled (a pool at zero takes no job). Read the keda-operator logs.');
}

const replicationAlerts = (pg: PostgresSeries): AlertsOf => (e, t, alert) => [
  alert('PostgresReplicationLagHigh', 'warning', '2m',
    `${pg.lagSeconds(podMatcher(e))} > ${t.replicationLagSeconds}`,
    `${e.workloadName}: a replica lags more than ${t.replicationLagSeconds} s`,
    '{{ $labels.pod }} replays {{ $value | humanizeDuration }} behind the primary; the service ejects it from reads.'),
  // Critical after 30 minutes: by then the slot may have reached max_slot_wal_keep_size, past which the replica must re-clone.
  alert('PostgresReplicationSlotInactive', 'critical', '30m',
    pg.inactiveSlots(podMatcher(e)),
    `${e.workloadName}: replication slot {{ $labels.slot_name }} has been inactive for 30 minutes and retains WAL`,
    'A slot without its replica keeps WAL up to max_slot_wal_keep_size, then is lost: bring the replica back or drop the slot.'),
  // Read from the slots (the exporter's custom query), not pg_stat_replication: a disconnected standby's slot retains the most.
  alert('PostgresStandbyRetainsTooMuchWal', 'warning', '10m',
    `${pg.slotRetainedBytes(podMatcher(e))} > ${t.slotRetainedBytes}`,
    `${e.workloadName}: a standby's slot holds more than ${Math.round(t.slotRetainedBytes / 2 ** 20)} MiB of WAL`,
    'Slot {{ $labels.slot_name }} on {{ $labels.pod }} retains {{ $value | humanize1024 }}B of WAL on disk, connected or not.'),
];

/** The PostgreSQL alerts, on the series of the exporter that serves them (`pg`). */
const postgresqlAlerts = (pg: PostgresSeries): AlertsOf => (e, t, alert) => [
  alert('PostgresInstanceDown', 'critical', '1m', `${pg.upMetric}{${podMatcher(e)}} == 0`,
    `${e.workloadName}: a PostgreSQL instance is down`, '{{ $labels.pod }} does not answer its exporter.'),
  absentAlert('Postgres', pg.upMetric, e, alert),
  alert('PostgresConnectionsNearMax', 'warning', '5m',
    `sum by (namespace, pod) (${pg.backends(podMatcher(e))}) / max by (namespace, pod) (${pg.maxConnections(podMatcher(e))}) > ${t.connectionsRatio}`,
    `${e.workloadName}: connections above ${percent(t.connectionsRatio)} of max_connections`,
    '{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its connections: size the pools or add a pooler.'),
  ...volumeAlerts('Postgres', e, t, alert),
  // Without standbys these series never exist: the alerts could never fire.
  ...(e.withoutReplicas ? [] : replicationAlerts(pg)(e, t, alert)),
];

/**
 * Patroni's own view (its REST `/metrics`, Patroni 3.0.2: no `patroni_postgres_streaming` yet, which
 * came with 3.0.3): per cluster (`scope`), whether a member leads, whether the leader changed, and
 * each replica's WAL position against the leader's.
 */
const patroniAlerts: AlertsOf = (e, _t, alert) => {
  const pods = podMatcher(e);
  const perCluster = (metric: string, suffix = '') => `max by (namespace, scope) (${metric}{${pods}}${suffix})`;
  // With every member gone no series is left to compare. The StatefulSet, still asking for members (kube-state-metrics), stands in
  // for them and gives the alert its namespace and scope, which absent() cannot when the chart names no namespace.
  const membersWanted = `label_replace(${podsWanted(e, { kind: 'StatefulSet', names: [e.workloadName] })}, "scope", "${e.workloadName}", "", "")`;
  return [
    alert('PatroniNoLeader', 'critical', '1m',
      `${perCluster('patroni_primary')} == 0 or (${membersWanted} unless on (namespace) ${perCluster('patroni_primary')})`,
      `${e.workloadName}: no member leads`,
      'No member of {{ $labels.scope }} holds the leader lock: writes fail until one is promoted (none can be, or the store is unreachable).'),
    // A promotion starts a new timeline, a switchover too; 10 minutes after it the alert clears by itself.
    alert('PatroniFailover', 'warning', '0m', `${perCluster('patroni_postgres_timeline')} > ${perCluster('patroni_postgres_timeline', ' offset 10m')}`,
      `${e.workloadName}: the leader changed`,
      '{{ $labels.scope }} is on timeline {{ $value }}: a member was promoted in the last 10 minutes. Find out why the old leader lost its lock.'),
    // A replica that received no WAL for 2 minutes while the leader is ahead of it is not streaming
    // (a stopped PostgreSQL reports position 0); an idle leader leaves a streaming replica level with it.
    ...(e.withoutReplicas ? [] : [alert('PatroniMemberNotStreaming', 'warning', '2m',
      `patroni_replica{${pods}} == 1 and on (namespace, pod) changes(patroni_xlog_received_location{${pods}}[2m]) == 0`
      + ` and on (namespace, pod) patroni_xlog_received_location{${pods}} < on (namespace, scope) group_left ${perCluster('patroni_xlog_location')}`,
      `${e.workloadName}: a replica does not stream from the leader`,
      '{{ $labels.pod }} received no WAL for 4 minutes while the leader wrote some: it serves stale reads and cannot be promoted past maximum_lag_on_failover.')]),
  ];
};

const redisAlerts: AlertsOf = (e, t, alert) => [
  alert('RedisDown', 'critical', '1m', `redis_up{${podMatcher(e)}} == 0`,
    `${e.workloadName}: a Redis server does not answer its exporter`, '{{ $labels.pod }}: redis_exporter cannot reach Redis.'),
  absentAlert('Redis', 'redis_up', e, alert),
  // redis_cluster_state exists only where cluster mode is on: elsewhere the alert could never match.
  ...(e.redisClusterEnabled ? [alert('RedisClusterStateNotOk', 'critical', '1m', `redis_cluster_state{${podMatcher(e)}} == 0`,
    `${e.workloadName}: cluster_state is not ok`, '{{ $labels.pod }} reports the cluster as failed: some slots are not served.')] : []),
  // With cluster-require-full-coverage no, cluster_state stays ok when a master without a replica is lost: its slots fail alone.
  ...(e.redisClusterEnabled ? [alert('RedisClusterSlotsFailed', 'critical', '1m', `redis_cluster_slots_fail{${podMatcher(e)}} > 0`,
    `${e.workloadName}: slots are not served`,
    '{{ $labels.pod }} sees {{ $value }} slots on a failed master with no replica to promote: their keys answer CLUSTERDOWN.')] : []),
  ...(e.withoutReplicas ? [] : [alert('RedisMasterWithoutReplica', 'warning', '5m',
    `redis_connected_slaves{${podMatcher(e)}} == 0 and on (namespace, pod) redis_instance_info{${podMatcher(e)}, role="master"}`,
    `${e.workloadName}: a master has no replica`, 'Master {{ $labels.pod }} has no replica: losing it loses its slots\' data.')]),
  alert('RedisMemoryHigh', 'warning', '10m',
    `redis_memory_used_bytes{${podMatcher(e)}} / (redis_memory_max_bytes{${podMatcher(e)}} > 0) > ${t.redisMemoryRatio}`,
    `${e.workloadName}: memory above ${percent(t.redisMemoryRatio)} of maxmemory`,
    '{{ $labels.pod }} uses {{ $value | humanizePercentage }} of maxmemory.'),
  alert('RedisEvictionsRising', 'warning', '15m', `rate(redis_evicted_keys_total{${podMatcher(e)}}[5m]) > 0`,
    `${e.workloadName}: keys are being evicted`, '{{ $labels.pod }} evicts {{ $value }} keys/s: the dataset outgrows maxmemory.'),
  ...volumeAlerts('Redis', e, t, alert),
  ...batchAlerts('Redis', e, alert),
];

const nginxAlerts: AlertsOf = (e, _t, alert) => [
  alert('NginxDown', 'critical', '2m', `nginx_up{${podMatcher(e)}} == 0`,
    `${e.workloadName}: nginx does not answer its exporter`, '{{ $labels.pod }}: stub_status is unreachable.'),
  absentAlert('Nginx', 'nginx_up', e, alert),
  // stub_status has no per-status or per-upstream counters (NGINX Plus has); dropped connections are what it shows.
  alert('NginxDroppingConnections', 'warning', '5m',
    `rate(nginx_connections_accepted{${podMatcher(e)}}[5m]) - rate(nginx_connections_handled{${podMatcher(e)}}[5m]) > 0`,
    `${e.workloadName}: nginx drops connections`, '{{ $labels.pod }} accepts connections it does not handle: worker_connections is exhausted.'),
];

/** The alerts of each kind of exporter; a new alert goes into its exporter's function, and lands in its concern's group. */
const ALERTS_OF: Record<MetricsEndpoint['exporter'], AlertsOf> = {
  'hscale-service': apiAlerts,
  'hscale-worker': workerAlerts,
  'postgres-exporter': postgresqlAlerts(POSTGRES_SERIES['postgres-exporter']),
  'cloudnative-pg': postgresqlAlerts(POSTGRES_SERIES['cloudnative-pg']),
  'patroni': patroniAlerts,
  'redis-exporter': redisAlerts,
  'nginx-exporter': nginxAlerts,
};

/** The alerting rules of every endpoint, grouped by concern (groups without endpoints are left out). */
export function renderAlertRules(endpoints: MonitoredEndpoint[], t: AlertThresholds): RuleGroup[] {
  const alert: MakeAlert = (name, severity, forDuration, expr, summary, description) => ({
    alert: name, expr, for: forDuration, labels: { severity },
    annotations: { summary, description, runbook_url: `${t.runbookBaseUrl}#${name.toLowerCase()}` },
  });
  const groups = new Map<Concern, AlertRule[]>();
  for (const endpoint of endpoints) {
    const concern = concernOf(endpoint);
    groups.set(concern, [...(groups.get(concern) ?? []), ...ALERTS_OF[endpoint.exporter](endpoint, t, alert)]);
  }
  return [...groups.entries()].map(([concern, rules]) => ({ name: `hscale-${concern}`, rules }));
}
