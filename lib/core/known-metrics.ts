/** The WAL each replication slot retains, in bytes: the gauge of the PostgreSQL exporter sidecars' custom query (lib/postgres/exporter-queries.ts). */
export const SLOT_RETAINED_WAL_METRIC = 'hscale_pg_replication_slot_retained_wal_bytes';

/**
 * Every metric name the alert rules and dashboards may use, with the exporter that serves it.
 * A test extracts the metric names of every expression and fails on a name not listed here,
 * so a dashboard cannot silently chart a series that nothing exports.
 */
export const KNOWN_METRICS: Record<string, string[]> = {
  // service/src/metrics.ts of the reference service (prom-client; histograms add _bucket, _sum, _count).
  'hscale-service': [
    'http_requests_total', 'http_request_duration_seconds_bucket', 'http_request_duration_seconds_sum',
    'http_request_duration_seconds_count', 'db_pool_connections', 'db_replica_healthy', 'db_replica_lag_seconds',
    'db_replica_lag_bytes', 'db_reads_total', 'db_writes_total', 'cache_hits_total', 'cache_misses_total',
    'cache_errors_total', 'cache_invalidations_total', 'app_ready', 'process_cpu_seconds_total',
    'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'db_query_duration_seconds_bucket',
    'db_query_duration_seconds_sum', 'db_query_duration_seconds_count',
  ],
  // service/src/worker-app.ts, the reference queue worker (your own worker may export other names).
  'hscale-worker': ['worker_jobs_total', 'worker_job_duration_seconds_bucket', 'worker_active', 'worker_queue_jobs'],
  // kube-state-metrics (kube-prometheus-stack ships it), for the HPA, PDB and pod alerts.
  'kube-state-metrics': [
    'kube_horizontalpodautoscaler_status_current_replicas', 'kube_horizontalpodautoscaler_spec_max_replicas',
    'kube_horizontalpodautoscaler_spec_min_replicas', 'kube_poddisruptionbudget_status_pod_disruptions_allowed',
    'kube_pod_container_status_restarts_total', 'kube_pod_container_status_waiting_reason', 'kube_job_failed', 'kube_statefulset_replicas',
    'kube_deployment_spec_replicas', 'kube_persistentvolumeclaim_info',
    'kube_cronjob_status_last_schedule_time', 'kube_cronjob_status_last_successful_time',
  ],
  // the kubelet's volume statistics (kube-prometheus-stack scrapes them), for the volume alerts.
  'kubelet': ['kubelet_volume_stats_available_bytes', 'kubelet_volume_stats_capacity_bytes'],
  // the kubelet's cAdvisor endpoint (kube-prometheus-stack scrapes it), for the per-container resource panels.
  'cadvisor': [
    'container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_fs_reads_bytes_total',
    'container_fs_writes_bytes_total', 'container_network_receive_bytes_total', 'container_network_transmit_bytes_total',
  ],
  // prometheus-community/postgres_exporter v0.15 default collectors (database, replication, stat_activity,
  // settings, replication_slot, stat_replication).
  'postgres-exporter': [
    'pg_up', 'pg_replication_lag_seconds', 'pg_replication_is_replica', 'pg_stat_activity_count',
    'pg_settings_max_connections', 'pg_replication_slot_slot_is_active', 'pg_replication_slot_slot_current_wal_lsn',
    'pg_stat_replication_pg_wal_lsn_diff', 'pg_database_size_bytes',
    // the custom query of lib/postgres/exporter-queries.ts, which the chart's exporter sidecars run.
    SLOT_RETAINED_WAL_METRIC,
  ],
  // CloudNativePG's instance manager: its collector (pkg/management/postgres/webserver/metricserver/pg_collector.go) and
  // default queries (config/manager/default-monitoring.yaml), each column served as cnpg_<query>_<column>.
  'cloudnative-pg': [
    'cnpg_collector_up', 'cnpg_pg_replication_lag', 'cnpg_pg_replication_in_recovery', 'cnpg_pg_stat_replication_replay_diff_bytes',
    'cnpg_backends_total', 'cnpg_pg_settings_setting', 'cnpg_pg_replication_slots_active', 'cnpg_pg_replication_slots_pg_wal_lsn_diff',
  ],
  // Patroni 3.0.2's REST /metrics (patroni/api.py do_GET_metrics), labelled scope=<cluster>; the image's
  // and Debian bookworm's version. patroni_postgres_streaming came with 3.0.3: not served here.
  'patroni': [
    'patroni_primary', 'patroni_replica', 'patroni_sync_standby', 'patroni_postgres_running', 'patroni_postgres_timeline',
    'patroni_xlog_location', 'patroni_xlog_received_location', 'patroni_xlog_replayed_location',
  ],
  // oliver006/redis_exporter v1.62.
  'redis-exporter': [
    'redis_up', 'redis_cluster_state', 'redis_cluster_slots_fail', 'redis_connected_slaves', 'redis_instance_info', 'redis_memory_used_bytes',
    'redis_memory_max_bytes', 'redis_evicted_keys_total', 'redis_keyspace_hits_total', 'redis_keyspace_misses_total',
    'redis_commands_processed_total', 'redis_connected_clients',
  ],
  // nginx/nginx-prometheus-exporter v1.4 reading stub_status (no per-status counts: those need NGINX Plus).
  'nginx-exporter': [
    'nginx_up', 'nginx_connections_active', 'nginx_connections_accepted', 'nginx_connections_handled',
    'nginx_connections_reading', 'nginx_connections_writing', 'nginx_connections_waiting', 'nginx_http_requests_total',
  ],
  // The KEDA operator (kedacore/keda v2.x, scraped through its Helm chart's prometheus.operator settings):
  // the value each scaler last read, labelled namespace, scaledObject, scaler, metric.
  // Errors reading a scaler: keda_scaler_detail_errors_total since v2.14, keda_scaler_errors before.
  'keda-operator': ['keda_scaler_metrics_value', 'keda_scaler_detail_errors_total', 'keda_scaler_errors'],
  // Recording rules of renderRecordingRules.
  'recording-rules': [
    'hscale:http_requests:rate5m', 'hscale:http_errors:ratio_rate5m', 'hscale:http_request_duration_seconds:p50',
    'hscale:http_request_duration_seconds:p95', 'hscale:http_request_duration_seconds:p99', 'hscale:cache_hit:ratio_rate10m',
  ],
};

/** Every known name, flat. */
export const ALL_KNOWN_METRICS = new Set(Object.values(KNOWN_METRICS).flat());
