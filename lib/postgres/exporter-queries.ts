import { stringify } from 'yaml';
import { SLOT_RETAINED_WAL_METRIC } from '../core/known-metrics';

/** The ConfigMap key of the exporter's custom queries. */
export const EXPORTER_QUERIES_FILE = 'exporter-queries.yaml';
// postgres_exporter names a custom query's gauge `<query>_<column>`.
const SLOT_RETAINED_WAL_COLUMN = 'retained_wal_bytes';
const SLOT_QUERY = SLOT_RETAINED_WAL_METRIC.slice(0, -SLOT_RETAINED_WAL_COLUMN.length - 1);

/**
 * The WAL each replication slot keeps on this server's disk: from the slot's `restart_lsn` to the
 * server's current position (on a standby, the last WAL it received). A slot whose standby is
 * disconnected still retains WAL, and is exactly the one `pg_stat_replication` no longer lists.
 * Invalidated slots (`restart_lsn` null) retain nothing and are left out.
 */
const SLOT_RETAINED_WAL_SQL = [
  'SELECT slot_name, pg_wal_lsn_diff(',
  'CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) ELSE pg_current_wal_lsn() END,',
  `restart_lsn) AS ${SLOT_RETAINED_WAL_COLUMN}`,
  'FROM pg_replication_slots WHERE restart_lsn IS NOT NULL',
].join(' ');

/**
 * postgres_exporter's custom queries (`PG_EXPORTER_EXTEND_QUERY_PATH`): each key names a query, each
 * column a label or a gauge `<key>_<column>`. The built-in replication_slot collector exports no
 * retained WAL, and its stat_replication collector sees connected standbys only.
 */
export function renderExporterQueries(): string {
  return stringify({
    [SLOT_QUERY]: {
      query: SLOT_RETAINED_WAL_SQL,
      master: true,
      metrics: [
        { slot_name: { usage: 'LABEL', description: 'Name of the replication slot' } },
        { [SLOT_RETAINED_WAL_COLUMN]: { usage: 'GAUGE', description: 'WAL kept on disk for the slot, from its restart_lsn to the current WAL position' } },
      ],
    },
  });
}
