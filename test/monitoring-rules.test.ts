import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Chart, Duration, Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { AlertRule, LoadBalancer, Observability, PgReplicaSet, RedisCluster, RuleGroup, ScaledApi, WorkerPool } from '../lib';
import { ALL_KNOWN_METRICS, KNOWN_METRICS, SLOT_RETAINED_WAL_METRIC } from '../lib/core/known-metrics';
import { Manifest } from './support/manifest-checks';
import { ProcessGroup, run } from './support/processes';
import { metricNames } from './support/promql';
import { checkRules, testRules } from './support/promtool';

// The whole topology in one chart, as the production chart has it.
const chart = Testing.chart();
const db = new PgReplicaSet(chart, 'db', { engine: 'patroni' });
const cache = new RedisCluster(chart, 'cache', { maxmemoryPolicy: 'noeviction' });
const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', database: db, cache });
const lb = new LoadBalancer(chart, 'lb', { backend: api });
const jobs = new WorkerPool(chart, 'jobs', {
  image: 'example/worker:1.0.0', queues: ['emails'], broker: cache, database: db, schedules: { nightly: { cron: '0 3 * * *', name: 'digest' } },
});
// The mean-duration alerts exist only when asked for: at bet-intel's bounds.
const { ruleGroups } = new Observability(chart, 'obs', {
  targets: [api, db, cache, lb, jobs], averageLatencyBound: Duration.millis(200), readQueryLatencyBound: Duration.millis(50),
});
const alertNames = ruleGroups.flatMap(g => g.rules).flatMap(r => ('alert' in r ? [r.alert] : []));

const group = new ProcessGroup();
afterAll(() => group.cleanup());

const ns = 'namespace="default"';
const apiJob = `${ns}, job="test-api"`;
const series = (metric: string, labels: string, values: string) => ({ series: `${metric}{${labels}}`, values });
const kedaScaler = `${ns}, scaledObject="test-jobs", scaler="redisClusterScaler", metric="s0-redis-emails", triggerIndex="0", type="scaledobject"`;
const cronJob = `${ns}, cronjob="test-jobs-nightly"`;
/** A StatefulSet's or Deployment's wanted replicas, as kube-state-metrics reports them. */
const wanted = (kind: 'statefulset' | 'deployment', name: string, values: string) =>
  series(kind === 'statefulset' ? 'kube_statefulset_replicas' : 'kube_deployment_spec_replicas', `${ns}, ${kind}="${name}"`, values);

/** A Patroni cluster of a leader (test-db-0, writing) and a replica (test-db-1) whose received WAL position is `received`. */
function patroniPositions(received: string): object[] {
  const member = (pod: string) => `${ns}, pod="${pod}", scope="test-db"`;
  return [
    series('patroni_replica', member('test-db-0'), '0x59'), series('patroni_xlog_location', member('test-db-0'), '0+1000x59'),
    // The leader reports no received position (0): it is no replica, and must not fire.
    series('patroni_xlog_received_location', member('test-db-0'), '0x59'),
    series('patroni_replica', member('test-db-1'), '1x59'), series('patroni_xlog_location', member('test-db-1'), '0x59'),
    series('patroni_xlog_received_location', member('test-db-1'), received),
  ];
}

/** For every alert: series that make it fire, series of a healthy system, and the labels it fires with. */
const FIXTURES: Record<string, { firing: object[]; healthy: object[]; labels: Record<string, string> }> = {
  HscaleApiHighErrorRatio: {
    firing: [series('http_requests_total', `${apiJob}, status="500"`, '0+60x60'), series('http_requests_total', `${apiJob}, status="200"`, '0+60x60')],
    healthy: [series('http_requests_total', `${apiJob}, status="500"`, '0x60'), series('http_requests_total', `${apiJob}, status="200"`, '0+600x60')],
    labels: { namespace: 'default', job: 'test-api' },
  },
  HscaleApiLatencyAboveSlo: {
    firing: [['0.05', '0x60'], ['0.1', '0x60'], ['0.5', '0+10x60'], ['+Inf', '0+10x60']]
      .map(([le, values]) => series('http_request_duration_seconds_bucket', `${apiJob}, le="${le}"`, values)),
    healthy: ['0.05', '0.1', '0.5', '+Inf'].map(le => series('http_request_duration_seconds_bucket', `${apiJob}, le="${le}"`, '0+10x60')),
    labels: { namespace: 'default', job: 'test-api' },
  },
  // At the threshold: a mean of 210 ms fires, 190 ms does not.
  HscaleApiAverageLatencyHigh: {
    firing: [series('http_request_duration_seconds_sum', apiJob, '0+21x60'), series('http_request_duration_seconds_count', apiJob, '0+100x60')],
    healthy: [series('http_request_duration_seconds_sum', apiJob, '0+19x60'), series('http_request_duration_seconds_count', apiJob, '0+100x60')],
    labels: { namespace: 'default', job: 'test-api' },
  },
  // At the threshold: reads of 51 ms on average fire, 49 ms do not, and slow writes are not reads.
  HscaleApiReadQueriesSlow: {
    firing: [series('db_query_duration_seconds_sum', `${apiJob}, operation="read", target="replica"`, '0+5.1x60'),
      series('db_query_duration_seconds_count', `${apiJob}, operation="read", target="replica"`, '0+100x60')],
    healthy: [series('db_query_duration_seconds_sum', `${apiJob}, operation="read", target="replica"`, '0+4.9x60'),
      series('db_query_duration_seconds_count', `${apiJob}, operation="read", target="replica"`, '0+100x60'),
      series('db_query_duration_seconds_sum', `${apiJob}, operation="write", target="primary"`, '0+100x60'),
      series('db_query_duration_seconds_count', `${apiJob}, operation="write", target="primary"`, '0+100x60')],
    labels: { namespace: 'default', job: 'test-api' },
  },
  HscaleApiAutoscalerAtMax: {
    firing: [series('kube_horizontalpodautoscaler_status_current_replicas', `${ns}, horizontalpodautoscaler="test-api"`, '20x60'),
      series('kube_horizontalpodautoscaler_spec_max_replicas', `${ns}, horizontalpodautoscaler="test-api"`, '20x60')],
    healthy: [series('kube_horizontalpodautoscaler_status_current_replicas', `${ns}, horizontalpodautoscaler="test-api"`, '5x60'),
      series('kube_horizontalpodautoscaler_spec_max_replicas', `${ns}, horizontalpodautoscaler="test-api"`, '20x60')],
    labels: { namespace: 'default', horizontalpodautoscaler: 'test-api' },
  },
  HscaleApiDisruptionBudgetExhausted: {
    firing: [series('kube_poddisruptionbudget_status_pod_disruptions_allowed', `${ns}, poddisruptionbudget="test-api"`, '0x60')],
    healthy: [series('kube_poddisruptionbudget_status_pod_disruptions_allowed', `${ns}, poddisruptionbudget="test-api"`, '1x60')],
    labels: { namespace: 'default', poddisruptionbudget: 'test-api' },
  },
  HscaleApiPodCrashLooping: {
    firing: [series('kube_pod_container_status_restarts_total', `${ns}, pod="test-api-7d9f-x2x", container="api"`, '0+1x60')],
    healthy: [series('kube_pod_container_status_restarts_total', `${ns}, pod="test-api-7d9f-x2x", container="api"`, '0x60')],
    labels: { namespace: 'default', pod: 'test-api-7d9f-x2x', container: 'api' },
  },
  HscaleCacheHitRatioLow: {
    firing: [series('cache_hits_total', apiJob, '0+10x60'), series('cache_misses_total', apiJob, '0+90x60')],
    healthy: [series('cache_hits_total', apiJob, '0+95x60'), series('cache_misses_total', apiJob, '0+5x60')],
    labels: { namespace: 'default', job: 'test-api' },
  },
  HscaleWorkerAutoscalerAtMax: {
    firing: [series('kube_horizontalpodautoscaler_status_current_replicas', `${ns}, horizontalpodautoscaler="test-jobs"`, '10x60'),
      series('kube_horizontalpodautoscaler_spec_max_replicas', `${ns}, horizontalpodautoscaler="test-jobs"`, '10x60')],
    healthy: [series('kube_horizontalpodautoscaler_status_current_replicas', `${ns}, horizontalpodautoscaler="test-jobs"`, '3x60'),
      series('kube_horizontalpodautoscaler_spec_max_replicas', `${ns}, horizontalpodautoscaler="test-jobs"`, '10x60')],
    labels: { namespace: 'default', horizontalpodautoscaler: 'test-jobs' },
  },
  HscaleWorkerPodCrashLooping: {
    firing: [series('kube_pod_container_status_restarts_total', `${ns}, pod="test-jobs-6b4f-q7w", container="worker"`, '0+1x60')],
    healthy: [series('kube_pod_container_status_restarts_total', `${ns}, pod="test-jobs-6b4f-q7w", container="worker"`, '0x60')],
    labels: { namespace: 'default', pod: 'test-jobs-6b4f-q7w', container: 'worker' },
  },
  HscaleWorkerJobsFailing: {
    // A third of the jobs end in the failed set.
    firing: ['completed', 'failed'].map((outcome, i) => series('worker_jobs_total', `${ns}, pod="test-jobs-6b4f-q7w", queue="emails", name="send", outcome="${outcome}"`, i === 0 ? '0+60x60' : '0+30x60')),
    // 1% fail for good; many runs retried and then completed is a healthy pool riding out a flaky dependency.
    healthy: [['completed', '0+100x60'], ['failed', '0+1x60'], ['retried', '0+100x60']]
      .map(([outcome, values]) => series('worker_jobs_total', `${ns}, pod="test-jobs-6b4f-q7w", queue="emails", name="send", outcome="${outcome}"`, values)),
    labels: { namespace: 'default', queue: 'emails' },
  },
  // The limit is backlogPerReplica (20) x maxReplicas (10): 200 waiting jobs.
  HscaleWorkerQueueBacklogGrowing: {
    firing: [series('keda_scaler_metrics_value', `${ns}, scaledObject="test-jobs", scaler="redis-cluster", metric="s0-redis-emails"`, '0+20x60')],
    // Long but draining: the pool keeps up, so nobody is paged.
    healthy: [series('keda_scaler_metrics_value', `${ns}, scaledObject="test-jobs", scaler="redis-cluster", metric="s0-redis-emails"`, '1200-10x60')],
    labels: { namespace: 'default', scaledObject: 'test-jobs', scaler: 'redis-cluster', metric: 's0-redis-emails' },
  },
  // At the threshold (10 minutes): errors for the last 13 minutes fire, for the last 7 do not yet.
  HscaleWorkerScalerErrors: {
    firing: [series('keda_scaler_detail_errors_total', kedaScaler, '0x45 1+2x14')],
    healthy: [series('keda_scaler_detail_errors_total', kedaScaler, '0x51 1+2x8')],
    labels: { namespace: 'default', scaledObject: 'test-jobs' },
  },
  // At the threshold (10 minutes): the run scheduled at 48 min has not succeeded 11 minutes later; one scheduled at 51 min is still within its time.
  HscaleWorkerScheduledRunNotSucceeded: {
    firing: [series('kube_cronjob_status_last_schedule_time', cronJob, '1800x47 2880x12'), series('kube_cronjob_status_last_successful_time', cronJob, '1860x60')],
    healthy: [series('kube_cronjob_status_last_schedule_time', cronJob, '1800x50 3060x9'), series('kube_cronjob_status_last_successful_time', cronJob, '1860x60')],
    labels: { namespace: 'default', cronjob: 'test-jobs-nightly' },
  },
  // At the threshold (1 minute): failed for the last 2 minutes fires, for the last minute not yet. The Job is named by a hash of its
  // spec: an earlier version's failed Job pages too; another construct's Jobs (another cluster's, or one of id 'cache-create') do not.
  RedisJobFailed: {
    firing: [series('kube_job_failed', `${ns}, job_name="${cache.createJob!.name}", condition="true"`, '0x60'),
      series('kube_job_failed', `${ns}, job_name="test-cache-create-0123456789", condition="true"`, '0x57 1x2')],
    healthy: [series('kube_job_failed', `${ns}, job_name="${cache.createJob!.name}", condition="true"`, '0x58 1'),
      ...['other-cache-create-0123456789', 'test-cache-create-create-0123456789', 'test-cache-create-01234567']
        .map(name => series('kube_job_failed', `${ns}, job_name="${name}", condition="true"`, '1x60'))],
    labels: { namespace: 'default', job_name: 'test-cache-create-0123456789', condition: 'true' },
  },
  PostgresInstanceDown: {
    firing: [series('pg_up', `${ns}, pod="test-db-replica-0"`, '0x60')],
    healthy: [series('pg_up', `${ns}, pod="test-db-replica-0"`, '1x60')],
    labels: { namespace: 'default', pod: 'test-db-replica-0' },
  },
  PostgresReplicationLagHigh: {
    firing: [series('pg_replication_lag_seconds', `${ns}, pod="test-db-replica-0"`, '30x60')],
    healthy: [series('pg_replication_lag_seconds', `${ns}, pod="test-db-replica-0"`, '0x60')],
    labels: { namespace: 'default', pod: 'test-db-replica-0' },
  },
  PostgresConnectionsNearMax: {
    firing: [series('pg_stat_activity_count', `${ns}, pod="test-db-primary-0", state="active"`, '190x60'),
      series('pg_settings_max_connections', `${ns}, pod="test-db-primary-0"`, '200x60')],
    healthy: [series('pg_stat_activity_count', `${ns}, pod="test-db-primary-0", state="active"`, '10x60'),
      series('pg_settings_max_connections', `${ns}, pod="test-db-primary-0"`, '200x60')],
    labels: { namespace: 'default', pod: 'test-db-primary-0' },
  },
  PostgresVolumeFillingUp: {
    firing: [series('kubelet_volume_stats_available_bytes', `${ns}, persistentvolumeclaim="data-test-db-primary-0"`, '50000000x60'),
      series('kubelet_volume_stats_capacity_bytes', `${ns}, persistentvolumeclaim="data-test-db-primary-0"`, '1000000000x60')],
    healthy: [series('kubelet_volume_stats_available_bytes', `${ns}, persistentvolumeclaim="data-test-db-primary-0"`, '900000000x60'),
      series('kubelet_volume_stats_capacity_bytes', `${ns}, persistentvolumeclaim="data-test-db-primary-0"`, '1000000000x60')],
    labels: { namespace: 'default', persistentvolumeclaim: 'data-test-db-primary-0' },
  },
  RedisVolumeFillingUp: {
    firing: [series('kubelet_volume_stats_available_bytes', `${ns}, persistentvolumeclaim="data-test-cache-0"`, '50000000x60'),
      series('kubelet_volume_stats_capacity_bytes', `${ns}, persistentvolumeclaim="data-test-cache-0"`, '1000000000x60')],
    // Another construct's claim in the same namespace is not this one's.
    healthy: [series('kubelet_volume_stats_available_bytes', `${ns}, persistentvolumeclaim="data-other-cache-0"`, '50000000x60'),
      series('kubelet_volume_stats_capacity_bytes', `${ns}, persistentvolumeclaim="data-other-cache-0"`, '1000000000x60')],
    labels: { namespace: 'default', persistentvolumeclaim: 'data-test-cache-0' },
  },
  PostgresReplicationSlotInactive: {
    firing: [series('pg_replication_slot_slot_is_active', `${ns}, pod="test-db-primary-0", slot_name="test_db_replica_1"`, '0x60')],
    healthy: [series('pg_replication_slot_slot_is_active', `${ns}, pod="test-db-primary-0", slot_name="test_db_replica_1"`, '1x60')],
    labels: { namespace: 'default', pod: 'test-db-primary-0', slot_name: 'test_db_replica_1' },
  },
  // At the threshold (standbyWalLagBound, 1 GiB): a byte more fires, exactly 1 GiB does not.
  PostgresStandbyRetainsTooMuchWal: {
    firing: [series(SLOT_RETAINED_WAL_METRIC, `${ns}, pod="test-db-primary-0", slot_name="test_db_replica_0"`, `${2 ** 30 + 1}x60`)],
    healthy: [series(SLOT_RETAINED_WAL_METRIC, `${ns}, pod="test-db-primary-0", slot_name="test_db_replica_0"`, `${2 ** 30}x60`)],
    labels: { namespace: 'default', pod: 'test-db-primary-0', slot_name: 'test_db_replica_0' },
  },
  RedisClusterStateNotOk: {
    firing: [series('redis_cluster_state', `${ns}, pod="test-cache-0"`, '0x60')],
    healthy: [series('redis_cluster_state', `${ns}, pod="test-cache-0"`, '1x60')],
    labels: { namespace: 'default', pod: 'test-cache-0' },
  },
  RedisClusterSlotsFailed: {
    firing: [series('redis_cluster_slots_fail', `${ns}, pod="test-cache-0"`, '5461x60'), series('redis_cluster_state', `${ns}, pod="test-cache-0"`, '1x60')],
    healthy: [series('redis_cluster_slots_fail', `${ns}, pod="test-cache-0"`, '0x60')],
    labels: { namespace: 'default', pod: 'test-cache-0' },
  },
  RedisMasterWithoutReplica: {
    firing: [series('redis_connected_slaves', `${ns}, pod="test-cache-0"`, '0x60'), series('redis_instance_info', `${ns}, pod="test-cache-0", role="master"`, '1x60')],
    healthy: [series('redis_connected_slaves', `${ns}, pod="test-cache-0"`, '1x60'), series('redis_instance_info', `${ns}, pod="test-cache-0", role="master"`, '1x60')],
    labels: { namespace: 'default', pod: 'test-cache-0' },
  },
  RedisMemoryHigh: {
    firing: [series('redis_memory_used_bytes', `${ns}, pod="test-cache-0"`, '900x60'), series('redis_memory_max_bytes', `${ns}, pod="test-cache-0"`, '1000x60')],
    healthy: [series('redis_memory_used_bytes', `${ns}, pod="test-cache-0"`, '100x60'), series('redis_memory_max_bytes', `${ns}, pod="test-cache-0"`, '1000x60')],
    labels: { namespace: 'default', pod: 'test-cache-0' },
  },
  RedisEvictionsRising: {
    firing: [series('redis_evicted_keys_total', `${ns}, pod="test-cache-0"`, '0+100x60')],
    healthy: [series('redis_evicted_keys_total', `${ns}, pod="test-cache-0"`, '0x60')],
    labels: { namespace: 'default', pod: 'test-cache-0' },
  },
  // One minute without a leader pages; a failover takes seconds, so less does not.
  PatroniNoLeader: {
    firing: ['0', '1', '2'].map(i => series('patroni_primary', `${ns}, pod="test-db-${i}", scope="test-db"`, i === '0' ? '1x57 0x2' : '0x59')),
    healthy: ['0', '1', '2'].map(i => series('patroni_primary', `${ns}, pod="test-db-${i}", scope="test-db"`, i === '0' ? '1x58 0' : '0x59')),
    labels: { namespace: 'default', scope: 'test-db' },
  },
  // The leader test-db-0 is gone and test-db-1 was promoted (timeline 1 -> 2) 9 minutes ago; 11 minutes ago is quiet again.
  PatroniFailover: {
    firing: [series('patroni_postgres_timeline', `${ns}, pod="test-db-0", scope="test-db"`, '1x49 _x10'),
      ...['1', '2'].map(i => series('patroni_postgres_timeline', `${ns}, pod="test-db-${i}", scope="test-db"`, '1x49 2x10'))],
    healthy: [series('patroni_postgres_timeline', `${ns}, pod="test-db-0", scope="test-db"`, '1x47 _x12'),
      ...['1', '2'].map(i => series('patroni_postgres_timeline', `${ns}, pod="test-db-${i}", scope="test-db"`, '1x47 2x12'))],
    labels: { namespace: 'default', scope: 'test-db' },
  },
  // The leader writes 1000 bytes of WAL a minute; test-db-1 received none for 5 minutes (fires), or for 2 (not yet).
  PatroniMemberNotStreaming: {
    firing: patroniPositions('0+1000x54 54000x5'),
    healthy: patroniPositions('0+1000x57 57000x2'),
    labels: { namespace: 'default', pod: 'test-db-1', scope: 'test-db' },
  },
  // No pod of the members' StatefulSet reports while it wants 3 (another cluster's does); the page names the namespace, though the
  // chart names none (absent() could not).
  PostgresAbsent: {
    firing: [series('pg_up', `${ns}, pod="other-db-0"`, '1x60'), wanted('statefulset', 'test-db', '3x60')],
    healthy: [series('pg_up', `${ns}, pod="test-db-0"`, '1x60'), wanted('statefulset', 'test-db', '3x60')],
    labels: { namespace: 'default' },
  },
  RedisDown: {
    firing: [series('redis_up', `${ns}, pod="test-cache-0"`, '0x60')],
    healthy: [series('redis_up', `${ns}, pod="test-cache-0"`, '1x60')],
    labels: { namespace: 'default', pod: 'test-cache-0' },
  },
  // Silent: the StatefulSet scaled to 0 on purpose, so no pod is missing.
  RedisAbsent: {
    firing: [series('redis_up', `${ns}, pod="other-cache-0"`, '1x60'), wanted('statefulset', 'test-cache', '6x60')],
    healthy: [wanted('statefulset', 'test-cache', '6x30 0x30')],
    labels: { namespace: 'default' },
  },
  NginxAbsent: {
    firing: [series('nginx_up', `${ns}, pod="other-lb-5c7-k8m"`, '1x60'), wanted('deployment', 'test-lb', '2x60')],
    healthy: [series('nginx_up', `${ns}, pod="test-lb-5c7-k8m"`, '1x60'), wanted('deployment', 'test-lb', '2x60')],
    labels: { namespace: 'default' },
  },
  NginxDown: {
    firing: [series('nginx_up', `${ns}, pod="test-lb-5c7-k8m"`, '0x60')],
    healthy: [series('nginx_up', `${ns}, pod="test-lb-5c7-k8m"`, '1x60')],
    labels: { namespace: 'default', pod: 'test-lb-5c7-k8m' },
  },
  NginxDroppingConnections: {
    firing: [series('nginx_connections_accepted', `${ns}, pod="test-lb-5c7-k8m"`, '0+100x60'), series('nginx_connections_handled', `${ns}, pod="test-lb-5c7-k8m"`, '0+90x60')],
    healthy: [series('nginx_connections_accepted', `${ns}, pod="test-lb-5c7-k8m"`, '0+100x60'), series('nginx_connections_handled', `${ns}, pod="test-lb-5c7-k8m"`, '0+100x60')],
    labels: { namespace: 'default', pod: 'test-lb-5c7-k8m' },
  },
};

test('every rule file passes promtool check rules', async () => {
  const dir = group.tempDir();
  for (const ruleGroup of ruleGroups) {
    expect(await checkRules(dir, `${ruleGroup.name}.yml`, [ruleGroup])).toContain('SUCCESS');
  }
});

test('every alert has a firing and a silent promtool case', () => {
  expect(Object.keys(FIXTURES).sort()).toEqual([...alertNames].sort());
});

test('every alert links to a section of the runbook', () => {
  const sections = readFileSync(join(__dirname, '..', 'docs', 'runbooks', 'alerts.md'), 'utf8').split('\n')
    .filter(line => line.startsWith('## ')).map(line => line.slice(3).trim());
  expect(alertNames.filter(name => !sections.includes(name.toLowerCase()))).toEqual([]);
});

test('promtool test rules: each alert fires from its synthetic series and stays silent on healthy ones', async () => {
  // GIVEN the rules without annotations (their templates are checked above; promtool compares annotations verbatim)
  const dir = group.tempDir();
  const rules = ruleGroups.flatMap(g => g.rules);
  const recording = rules.filter(r => 'record' in r);
  const alertRule = (name: string) => rules.find(r => 'alert' in r && r.alert === name) as AlertRule;
  // WHEN promtool evaluates one case per alert and outcome, each alert with only its own rule and the recording rules it reads
  // (every case evaluates every rule of its file for an hour: one file of all rules took 35-60 s)
  const files = Object.entries(FIXTURES).map(([alert, f]) => {
    const own = { ...alertRule(alert), annotations: undefined };
    const reads = recording.filter(r => own.expr.includes((r as { record: string }).record));
    writeFileSync(join(dir, `${alert}.rules.yml`), stringify({ groups: [{ name: alert, rules: [...reads, own] }] }));
    writeFileSync(join(dir, `${alert}.test.yml`), stringify({
      rule_files: [`${alert}.rules.yml`],
      evaluation_interval: '1m',
      tests: [
        {
          name: `${alert} fires`, interval: '1m', input_series: f.firing,
          alert_rule_test: [{ eval_time: '59m', alertname: alert, exp_alerts: [{ exp_labels: { ...f.labels, severity: alertRule(alert).labels.severity } }] }],
        },
        { name: `${alert} stays silent`, interval: '1m', input_series: f.healthy, alert_rule_test: [{ eval_time: '59m', alertname: alert, exp_alerts: [] }] },
      ],
    }));
    return `${alert}.test.yml`;
  });
  const output = await run('promtool', ['test', 'rules', ...files], { cwd: dir });
  // THEN every case passes
  expect(output.match(/SUCCESS/g)).toHaveLength(files.length);
});

test('the 5xx ratio is recorded as 0 while no request has failed, not left absent', async () => {
  const dir = group.tempDir();
  await checkRules(dir, 'rules.yml', ruleGroups.map(g => ({ ...g, rules: g.rules.filter(r => 'record' in r) })));
  const ratio = (status: string) => ({
    name: `only ${status} answers`, interval: '1m',
    input_series: [series('http_requests_total', `${apiJob}, status="${status}"`, '0+60x20')],
    promql_expr_test: [{ expr: 'hscale:http_errors:ratio_rate5m', eval_time: '15m', exp_samples: [{ labels: `hscale:http_errors:ratio_rate5m{${apiJob}}`, value: status === '200' ? 0 : 1 }] }],
  });
  const output = await testRules(dir, { rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [ratio('200'), ratio('503')] });
  expect(output).toContain('SUCCESS');
});

test('every rule reads only metrics some exporter really serves', () => {
  const names = ruleGroups.flatMap(g => g.rules).flatMap(r => metricNames(r.expr));
  expect(names.filter(name => !ALL_KNOWN_METRICS.has(name))).toEqual([]);
});

test('KEDA 2.10\'s per-scaler error counter pages too, and so does a CronJob that has never succeeded', async () => {
  // GIVEN the alerting rules
  const dir = group.tempDir();
  await checkRules(dir, 'rules.yml', ruleGroups.map(g => ({ ...g, rules: g.rules.map(r => ('alert' in r ? { ...r, annotations: undefined } : r)) as RuleGroup['rules'] })));
  const fires = (name: string, alertname: string, inputSeries: object[], labels: Record<string, string>) => ({
    name, interval: '1m', input_series: inputSeries,
    alert_rule_test: [{ eval_time: '59m', alertname, exp_alerts: [{ exp_labels: { ...labels, severity: alertname === 'HscaleWorkerScalerErrors' ? 'critical' : 'warning' } }] }],
  });
  // WHEN KEDA before 2.14 counts errors as keda_scaler_errors (label scalerIndex), and a CronJob's first run failed (no last successful time)
  const output = await testRules(dir, {
    rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [
      fires('keda_scaler_errors', 'HscaleWorkerScalerErrors',
        [series('keda_scaler_errors', `${ns}, scaledObject="test-jobs", scaler="redisClusterScaler", metric="s0-redis-emails", scalerIndex="0"`, '0x45 1+2x14')],
        { namespace: 'default', scaledObject: 'test-jobs' }),
      fires('never succeeded', 'HscaleWorkerScheduledRunNotSucceeded', [series('kube_cronjob_status_last_schedule_time', cronJob, '_x47 2880x12')],
        { namespace: 'default', cronjob: 'test-jobs-nightly' }),
    ],
  });
  // THEN both fire
  expect(output).toContain('SUCCESS');
});

test('bet-intel\'s cache_memory_bytes and celery_queue_length are recorded: the cache\'s servers summed, each queue\'s waiting jobs once', async () => {
  // GIVEN bet-intel's shape: a cache, a queue Redis of its own, two pools on it, and the guide's names asked for
  const betIntel = new Chart(Testing.app(), 'bi', { namespace: 'bi' });
  const redisCache = new RedisCluster(betIntel, 'cache', { maxmemoryPolicy: 'allkeys-lru' });
  const queue = new RedisCluster(betIntel, 'queue', { mode: 'sentinel', replicas: 1, sentinels: 3, maxmemoryPolicy: 'noeviction' });
  const pools = ['ev', 'data'].map(id => new WorkerPool(betIntel, id, { image: 'example/worker:1.0.0', queues: [`${id}_queue`], broker: queue }));
  const observability = new Observability(betIntel, 'obs', { targets: [redisCache, queue, ...pools], guideMetrics: { guide: 'bet-intel', cache: redisCache } });
  const guideGroup = observability.ruleGroups.find(g => g.name === 'hscale-guide-metrics')!;
  const dir = group.tempDir();
  expect(await checkRules(dir, 'rules.yml', [guideGroup])).toContain('SUCCESS');
  const biNs = 'namespace="bi"';
  // WHEN the exporters report: 3 cache servers and the queue's (not a cache); two ev workers that read 5 waiting jobs (one not yet), one data worker 7
  const input = [
    ...[0, 1, 2].map(i => series('redis_memory_used_bytes', `${biNs}, pod="bi-cache-${i}"`, `${(i + 1) * 100}x20`)),
    series('redis_memory_used_bytes', `${biNs}, pod="bi-queue-0"`, '5000x20'),
    series('worker_queue_jobs', `${biNs}, pod="bi-ev-5d9-a1", queue="ev_queue", state="waiting"`, '5x20'),
    series('worker_queue_jobs', `${biNs}, pod="bi-ev-5d9-b2", queue="ev_queue", state="waiting"`, '0x20'),
    series('worker_queue_jobs', `${biNs}, pod="bi-ev-5d9-a1", queue="ev_queue", state="active"`, '4x20'),
    series('worker_queue_jobs', `${biNs}, pod="bi-data-7c8-c3", queue="data_queue", state="waiting"`, '7x20'),
  ];
  const output = await testRules(dir, {
    rule_files: ['rules.yml'],
    evaluation_interval: '1m',
    tests: [{
      name: 'bet-intel names', interval: '1m', input_series: input,
      // THEN the cache's memory is its three servers' and each queue has one length, its waiting jobs
      promql_expr_test: [
        { expr: 'cache_memory_bytes', eval_time: '10m', exp_samples: [{ labels: `cache_memory_bytes{${biNs}}`, value: 600 }] },
        {
          expr: 'celery_queue_length', eval_time: '10m',
          exp_samples: [{ labels: `celery_queue_length{${biNs}, queue_name="data_queue"}`, value: 7 }, { labels: `celery_queue_length{${biNs}, queue_name="ev_queue"}`, value: 5 }],
        },
      ],
    }],
  });
  expect(output).toContain('SUCCESS');
  expect(guideGroup.rules.flatMap(r => metricNames(r.expr)).filter(name => !ALL_KNOWN_METRICS.has(name))).toEqual([]);
});

test('promtool test rules: no Patroni member reporting at all pages as no leader, with the namespace and scope; an idle cluster\'s replicas are not said to stop streaming', async () => {
  // GIVEN the Patroni rules without annotations
  const dir = group.tempDir();
  const patroni = ruleGroups.map(g => ({ ...g, rules: g.rules.filter(r => 'alert' in r && r.alert.startsWith('Patroni')).map(r => ({ ...r, annotations: undefined })) }))
    .filter(g => g.rules.length > 0) as RuleGroup[];
  await checkRules(dir, 'rules.yml', patroni);
  const member = (pod: string) => `${ns}, pod="${pod}", scope="test-db"`;
  const statefulSet = (name: string, replicas: string) => series('kube_statefulset_replicas', `${ns}, statefulset="${name}"`, replicas);
  // WHEN every member's series stop (the pods are gone) while the StatefulSet asks for 3, or after it was scaled to 0,
  // and when the leader stops writing with its replica level with it
  const output = await testRules(dir, {
    rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [
      {
        name: 'members gone', interval: '1m',
        input_series: [series('patroni_primary', member('test-db-0'), '1x50 _x9'), series('patroni_primary', `${ns}, pod="other-db-0", scope="other-db"`, '1x59'),
          statefulSet('test-db', '3x59'), statefulSet('other-db', '3x59')],
        // The page names the cluster and its namespace, though the chart names none (the rule has no namespace matcher).
        alert_rule_test: [{ eval_time: '59m', alertname: 'PatroniNoLeader', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'default', scope: 'test-db' } }] }],
      },
      {
        name: 'scaled to zero', interval: '1m', input_series: [series('patroni_primary', member('test-db-0'), '1x50 _x9'), statefulSet('test-db', '3x50 0x9')],
        alert_rule_test: [{ eval_time: '59m', alertname: 'PatroniNoLeader', exp_alerts: [] }],
      },
      {
        name: 'idle cluster', interval: '1m', input_series: [
          series('patroni_replica', member('test-db-0'), '0x59'), series('patroni_xlog_location', member('test-db-0'), '0+1000x30 30000x29'),
          series('patroni_replica', member('test-db-1'), '1x59'), series('patroni_xlog_location', member('test-db-1'), '0x59'),
          series('patroni_xlog_received_location', member('test-db-1'), '0+1000x30 30000x29'),
        ],
        alert_rule_test: [{ eval_time: '59m', alertname: 'PatroniMemberNotStreaming', exp_alerts: [] }],
      },
    ],
  });
  // THEN both hold
  expect(output).toContain('SUCCESS');
});

test('the Patroni alerts exist only with the patroni engine, and they and the dashboards read only what the machine\'s Patroni serves', async () => {
  // GIVEN a statefulset topology beside this patroni one
  const other = Testing.chart();
  const statefulDb = new PgReplicaSet(other, 'db', { engine: 'statefulset' });
  const statefulAlerts = new Observability(other, 'obs', { targets: [statefulDb] }).ruleGroups.flatMap(g => g.rules).flatMap(r => ('alert' in r ? [r.alert] : []));
  // WHEN the metric names of the Patroni alerts are read, and those Patroni's REST API writes (patroni/api.py)
  const patroniNames = ruleGroups.flatMap(g => g.rules).filter(r => 'alert' in r && r.alert.startsWith('Patroni')).flatMap(r => metricNames(r.expr));
  // The Python that runs the machine's patroni (its #! line) finds its package.
  const python = readFileSync((await run('sh', ['-c', 'command -v patroni'])).trim(), 'utf8').split('\n')[0].slice(2).trim();
  const apiPy = join((await run(python, ['-c', 'import os, patroni; print(os.path.dirname(patroni.__file__))'])).trim(), 'api.py');
  const served = new Set([...readFileSync(apiPy, 'utf8').matchAll(/"(patroni_[a-z_]+)\{/g)].map(m => m[1]));
  // THEN
  expect(alertNames.filter(name => name.startsWith('Patroni')).sort()).toEqual(['PatroniFailover', 'PatroniMemberNotStreaming', 'PatroniNoLeader']);
  expect(statefulAlerts.filter(name => name.startsWith('Patroni'))).toEqual([]);
  expect(served.size).toBeGreaterThan(10);
  expect(KNOWN_METRICS.patroni.filter(name => !served.has(name))).toEqual([]);
  // Beside Patroni's own: the StatefulSet kube-state-metrics reports, standing in for members that are all gone.
  expect([...new Set(patroniNames)].filter(name => !KNOWN_METRICS.patroni.includes(name))).toEqual(['kube_statefulset_replicas']);
});

test('promtool test rules: with the cloudnative-pg engine every PostgreSQL alert reads CloudNativePG\'s cnpg_* series, fires on them and stays silent on a healthy cluster', async () => {
  // GIVEN a CloudNativePG cluster (instances test-db-1, the primary, and test-db-2) and its rules without annotations
  const cnpgChart = Testing.chart();
  const cnpgDb = new PgReplicaSet(cnpgChart, 'db', { engine: 'cloudnative-pg' });
  const groups = new Observability(cnpgChart, 'obs', { targets: [cnpgDb] }).ruleGroups;
  const rules = groups.flatMap(g => g.rules).filter((r): r is AlertRule => 'alert' in r);
  const dir = group.tempDir();
  await checkRules(dir, 'rules.yml', [{ name: 'cnpg', rules: rules.map(r => ({ ...r, annotations: undefined })) as unknown as RuleGroup['rules'] }]);
  const primary = `${ns}, pod="test-db-1"`;
  const standby = `${ns}, pod="test-db-2"`;
  // A physical slot has no database: CloudNativePG serves its label empty, which is no label.
  const slot = (pod: string) => `${pod}, slot_name="_cnpg_test_db_2", slot_type="physical"`;
  const recovery = [series('cnpg_pg_replication_in_recovery', primary, '0x60'), series('cnpg_pg_replication_in_recovery', standby, '1x60')];
  const cases: Record<string, { firing: object[]; healthy: object[]; labels: Record<string, string> }> = {
    PostgresInstanceDown: {
      firing: [series('cnpg_collector_up', `${standby}, cluster="test-db"`, '0x60')],
      healthy: [series('cnpg_collector_up', `${standby}, cluster="test-db"`, '1x60')],
      labels: { namespace: 'default', pod: 'test-db-2', cluster: 'test-db' },
    },
    // The operator makes the pods; the instance's claim says one is wanted, and gives the page its namespace.
    PostgresAbsent: {
      firing: [series('cnpg_collector_up', `${ns}, pod="other-db-1", cluster="other-db"`, '1x60'), series('kube_persistentvolumeclaim_info', `${ns}, persistentvolumeclaim="test-db-1"`, '1x60')],
      healthy: [series('cnpg_collector_up', `${primary}, cluster="test-db"`, '1x60'), series('kube_persistentvolumeclaim_info', `${ns}, persistentvolumeclaim="test-db-1"`, '1x60')],
      labels: { namespace: 'default' },
    },
    PostgresReplicationLagHigh: {
      firing: [series('cnpg_pg_replication_lag', standby, '30x60')],
      healthy: [series('cnpg_pg_replication_lag', standby, '0x60')],
      labels: { namespace: 'default', pod: 'test-db-2' },
    },
    PostgresConnectionsNearMax: {
      firing: [series('cnpg_backends_total', `${primary}, datname="app", usename="app", application_name="", state="active"`, '190x60'),
        series('cnpg_pg_settings_setting', `${primary}, name="max_connections"`, '200x60'), series('cnpg_pg_settings_setting', `${primary}, name="max_wal_senders"`, '10x60')],
      healthy: [series('cnpg_backends_total', `${primary}, datname="app", usename="app", application_name="", state="active"`, '10x60'),
        series('cnpg_pg_settings_setting', `${primary}, name="max_connections"`, '200x60'), series('cnpg_pg_settings_setting', `${primary}, name="max_wal_senders"`, '10x60')],
      labels: { namespace: 'default', pod: 'test-db-1' },
    },
    // The standby's copy of the high-availability slot is never active: only the primary's inactive slot pages.
    PostgresReplicationSlotInactive: {
      firing: [series('cnpg_pg_replication_slots_active', slot(primary), '0x60'), ...recovery],
      healthy: [series('cnpg_pg_replication_slots_active', slot(primary), '1x60'), series('cnpg_pg_replication_slots_active', slot(standby), '0x60'), ...recovery],
      labels: { namespace: 'default', pod: 'test-db-1', slot_name: '_cnpg_test_db_2', slot_type: 'physical' },
    },
    PostgresStandbyRetainsTooMuchWal: {
      firing: [series('cnpg_pg_replication_slots_pg_wal_lsn_diff', slot(primary), `${2 ** 30 + 1}x60`)],
      healthy: [series('cnpg_pg_replication_slots_pg_wal_lsn_diff', slot(primary), `${2 ** 30}x60`)],
      labels: { namespace: 'default', pod: 'test-db-1', slot_name: '_cnpg_test_db_2', slot_type: 'physical' },
    },
    PostgresVolumeFillingUp: {
      firing: [series('kubelet_volume_stats_available_bytes', `${ns}, persistentvolumeclaim="test-db-1"`, '50000000x60'),
        series('kubelet_volume_stats_capacity_bytes', `${ns}, persistentvolumeclaim="test-db-1"`, '1000000000x60')],
      healthy: [series('kubelet_volume_stats_available_bytes', `${ns}, persistentvolumeclaim="test-db-1"`, '900000000x60'),
        series('kubelet_volume_stats_capacity_bytes', `${ns}, persistentvolumeclaim="test-db-1"`, '1000000000x60')],
      labels: { namespace: 'default', persistentvolumeclaim: 'test-db-1' },
    },
  };
  const severity = (name: string) => rules.find(r => r.alert === name)!.labels.severity;
  // WHEN promtool evaluates each alert on CloudNativePG's series, firing and healthy
  const output = await testRules(dir, {
    rule_files: ['rules.yml'], evaluation_interval: '1m',
    tests: Object.entries(cases).flatMap(([alertname, c]) => [
      { name: `${alertname} fires`, interval: '1m', input_series: c.firing,
        alert_rule_test: [{ eval_time: '59m', alertname, exp_alerts: [{ exp_labels: { ...c.labels, severity: severity(alertname) } }] }] },
      { name: `${alertname} stays silent`, interval: '1m', input_series: c.healthy, alert_rule_test: [{ eval_time: '59m', alertname, exp_alerts: [] }] },
    ]),
  });
  // THEN every case passes, every alert has its case, and the rules and the dashboard read only CloudNativePG's and the kubelet's names,
  // and the instances' claims (kube-state-metrics) standing in for pods that are all gone
  expect(output).toContain('SUCCESS');
  expect(rules.map(r => r.alert).sort()).toEqual(Object.keys(cases).sort());
  const dashboard = Testing.synth(cnpgChart).filter(o => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1')
    .flatMap(o => Object.values(o.data as Record<string, string>)).flatMap(json => JSON.parse(json).panels.flatMap((p: Manifest) => (p.targets ?? []).map((t: Manifest) => t.expr)));
  const names = new Set([...rules.map(r => r.expr), ...dashboard].flatMap(metricNames));
  expect(dashboard.length).toBeGreaterThan(0);
  expect([...names].filter(name => !KNOWN_METRICS['cloudnative-pg'].includes(name) && !KNOWN_METRICS.kubelet.includes(name))).toEqual(['kube_persistentvolumeclaim_info']);
});
