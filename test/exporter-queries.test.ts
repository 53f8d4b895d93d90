import { writeFileSync } from 'fs';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { PgReplicaSet } from '../lib';
import { SLOT_RETAINED_WAL_METRIC } from '../lib/core/known-metrics';
import { EXPORTER_QUERIES_FILE } from '../lib/postgres/exporter-queries';
import { startReplicatedPostgres, TEST_MONITOR } from './support/postgres';
import { freePort, ProcessGroup, waitFor } from './support/processes';

jest.setTimeout(120_000);

const group = new ProcessGroup();
afterAll(() => group.cleanup());

/** The value of the first sample of `metric` whose labels contain `labels`, or undefined. */
function sample(metrics: string, metric: string, labels: string): number | undefined {
  const line = metrics.split('\n').find(l => l.startsWith(`${metric}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('the exporter\'s custom query reports the WAL a disconnected standby\'s slot retains, which pg_stat_replication no longer shows', async () => {
  // GIVEN a primary with a streaming replica, and the real exporter running the chart's own custom queries as the monitoring role
  const cluster = await startReplicatedPostgres(group, 1);
  const [slot] = cluster.slots;
  const queries = join(group.tempDir(), EXPORTER_QUERIES_FILE);
  const configMap = new PgReplicaSet(Testing.chart(), 'db').configMap!;
  writeFileSync(queries, configMap.toJson().data[EXPORTER_QUERIES_FILE]);
  const metricsPort = await freePort();
  const exporter = group.spawn('prometheus-postgres-exporter', [`--web.listen-address=127.0.0.1:${metricsPort}`], {
    env: {
      ...process.env, DATA_SOURCE_URI: `127.0.0.1:${cluster.primary.port}/postgres?sslmode=disable`,
      DATA_SOURCE_USER: TEST_MONITOR.MONITOR_USER, DATA_SOURCE_PASS: TEST_MONITOR.MONITOR_PASSWORD, PG_EXPORTER_EXTEND_QUERY_PATH: queries,
    },
  });
  const metrics = () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(r => r.text()).catch(() => '');
  await waitFor('the slot in the exporter', async () => sample(await metrics(), SLOT_RETAINED_WAL_METRIC, `slot_name="${slot}"`) !== undefined, 15_000, 500)
    .catch(error => { throw new Error(`${(error as Error).message}\n${exporter.output()}`); });
  // WHEN the standby is stopped and the primary writes about 30 MB of WAL
  await cluster.replicas[0].stop('fast');
  await waitFor('the standby gone from pg_stat_replication', async () => (await cluster.primary.sql('select count(*) from pg_stat_replication')) === '0');
  await cluster.primary.sql('create table filler as select g, repeat(\'x\', 200) as pad from generate_series(1, 100000) g', 'app');
  const retained = async () => Number(await cluster.primary.sql(`select pg_current_wal_lsn() - restart_lsn from pg_replication_slots where slot_name = '${slot}'`));
  const before = await retained();
  // THEN the exporter reports what the slot retains (read between two direct reads of it), and the query raised no error
  const scraped = await metrics();
  const after = await retained();
  const reported = sample(scraped, SLOT_RETAINED_WAL_METRIC, `slot_name="${slot}"`)!;
  expect(before).toBeGreaterThan(20 * 2 ** 20);
  expect(reported).toBeGreaterThanOrEqual(before);
  expect(reported).toBeLessThanOrEqual(after);
  expect(scraped).toMatch(/^pg_exporter_user_queries_load_error\{[^}]*\} 0$/m);
  // AND pg_stat_replication, which the alert read before, has no row for it
  expect(sample(scraped, 'pg_stat_replication_pg_wal_lsn_diff', `application_name="${slot}"`)).toBeUndefined();
});
