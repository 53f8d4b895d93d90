import { SLOT_RETAINED_WAL_METRIC } from '../core/known-metrics';

/**
 * What the PostgreSQL alerts and panels read, as one exporter names it; each function takes the
 * matcher of the construct's pods (`namespace="…", pod=~"…"`).
 */
export interface PostgresSeries {
  /** The exporter's up metric: 1 while it reaches PostgreSQL. */
  readonly upMetric: string;
  /** Seconds each standby's replay is behind, per pod. */
  readonly lagSeconds: (pods: string) => string;
  /** Bytes each standby has yet to replay, per standby on the primary (label `application_name`). */
  readonly standbyReplayBytes: (pods: string) => string;
  /** Backends by state, per pod. */
  readonly backends: (pods: string) => string;
  /** `max_connections`, per pod. */
  readonly maxConnections: (pods: string) => string;
  /** The replication slots not in use that retain WAL for a standby, per pod and `slot_name`. */
  readonly inactiveSlots: (pods: string) => string;
  /** Bytes of WAL each replication slot retains, per pod and `slot_name`, connected or not. */
  readonly slotRetainedBytes: (pods: string) => string;
}

/**
 * prometheus-community/postgres_exporter (the statefulset and patroni engines' sidecars), with the
 * custom slot query of lib/postgres/exporter-queries.ts.
 */
const POSTGRES_EXPORTER: PostgresSeries = {
  upMetric: 'pg_up',
  lagSeconds: pods => `pg_replication_lag_seconds{${pods}}`,
  standbyReplayBytes: pods => `pg_stat_replication_pg_wal_lsn_diff{${pods}}`,
  backends: pods => `pg_stat_activity_count{${pods}}`,
  maxConnections: pods => `pg_settings_max_connections{${pods}}`,
  inactiveSlots: pods => `pg_replication_slot_slot_is_active{${pods}} == 0`,
  slotRetainedBytes: pods => `${SLOT_RETAINED_WAL_METRIC}{${pods}}`,
};

/**
 * CloudNativePG's instance manager (port 9187): `cnpg_collector_*` and its default queries
 * (config/manager/default-monitoring.yaml), named `cnpg_<query>_<column>`. Its high-availability
 * slots are copied to the standbys, where they are never active: only the primary's count.
 */
const CLOUDNATIVE_PG: PostgresSeries = {
  upMetric: 'cnpg_collector_up',
  lagSeconds: pods => `cnpg_pg_replication_lag{${pods}}`,
  standbyReplayBytes: pods => `cnpg_pg_stat_replication_replay_diff_bytes{${pods}}`,
  backends: pods => `cnpg_backends_total{${pods}}`,
  maxConnections: pods => `cnpg_pg_settings_setting{${pods}, name="max_connections"}`,
  inactiveSlots: pods => `cnpg_pg_replication_slots_active{${pods}} == 0 and on (namespace, pod) cnpg_pg_replication_in_recovery{${pods}} == 0`,
  slotRetainedBytes: pods => `cnpg_pg_replication_slots_pg_wal_lsn_diff{${pods}}`,
};

/** The series of each PostgreSQL exporter. */
export const POSTGRES_SERIES: Record<'postgres-exporter' | 'cloudnative-pg', PostgresSeries> = {
  'postgres-exporter': POSTGRES_EXPORTER,
  'cloudnative-pg': CLOUDNATIVE_PG,
};
