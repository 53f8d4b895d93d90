import { waitFor } from '../../test/support/processes';
import { BenchContext, Scenario } from '../support/context';
import { Stack } from '../support/stack';
import { median } from '../support/stats';
import { LoadRun, wrk } from '../support/wrk';

const CONNECTIONS = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5) - 1;

type Mode = 'async' | 'sync';

/** Renders the primary's config for the mode (the library's synchronous settings), reloads, waits until the standby's state shows it. */
async function replicationMode(stack: Stack, mode: Mode): Promise<void> {
  stack.pg.rewritePrimaryConfig(mode === 'sync' ? { synchronousReplicas: 1, synchronousCommit: 'remote_apply' } : {});
  await stack.pg.primary.sql('select pg_reload_conf()');
  const wanted = mode === 'sync' ? ['sync', 'quorum'] : ['async'];
  await waitFor(`replication to be ${mode}`, async () =>
    wanted.includes(await stack.pg.primary.sql('select sync_state from pg_stat_replication limit 1')), 20_000, 100);
}

/** POST throughput and latency with asynchronous vs synchronous (remote_apply) replication, alternating. */
export const writes: Scenario = {
  id: 'writes',
  title: '5 writes: async vs remote_apply',
  async run(context: BenchContext) {
    const stack = await context.stack();
    const { balanced } = await context.backends();
    const load = () => wrk({
      url: balanced.replica, paths: ['/api/v1/items'], method: 'POST', body: JSON.stringify({ name: 'bench write', payload: { n: 1 } }),
      headers: { 'Content-Type': 'application/json', ...stack.writeHeaders }, connections: CONNECTIONS, seconds: SECONDS, dir: stack.dir,
    });
    const runs: Record<Mode, LoadRun[]> = { async: [], sync: [] };
    const rpsRatios: number[] = [];
    const p95Ratios: number[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const order: Mode[] = round % 2 === 0 ? ['async', 'sync'] : ['sync', 'async'];
        for (const mode of order) {
          await replicationMode(stack, mode);
          runs[mode].push(await load());
        }
        rpsRatios.push(runs.sync[round].rps / runs.async[round].rps);
        p95Ratios.push(runs.sync[round].p95 / runs.async[round].p95);
      }
    } finally {
      await replicationMode(stack, 'async');
    }
    const of = (mode: Mode, f: (r: LoadRun) => number) => ({ value: median(runs[mode].map(f)), runs: runs[mode].map(f) });
    return {
      figures: [
        { name: 'remote_apply / async requests/s', value: median(rpsRatios), unit: 'x', runs: rpsRatios },
        { name: 'remote_apply / async p95', value: median(p95Ratios), unit: 'x', runs: p95Ratios },
        { name: 'async: POST requests/s', unit: 'req/s', ...of('async', r => r.rps) },
        { name: 'async: POST p95', unit: 'ms', ...of('async', r => r.p95) },
        { name: 'remote_apply: POST requests/s', unit: 'req/s', ...of('sync', r => r.rps) },
        { name: 'remote_apply: POST p95', unit: 'ms', ...of('sync', r => r.p95) },
        { name: 'failed requests', value: [...runs.async, ...runs.sync].reduce((n, r) => n + r.errors, 0), unit: '', goal: { op: '<=', target: 0 } },
      ],
      method: [
        `POST /api/v1/items through nginx to the service (cache off), wrk ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} rounds alternating which mode goes first.`,
        'Synchronous: the primary\'s postgresql.conf rendered by renderPostgresConf with synchronousReplicas 1 and synchronousCommit remote_apply, reloaded; the standby shows as quorum before the run. Both modes run with fsync off (the test clusters\' setting), so the ratio is the replication round trip, not disk flushes.',
      ],
    };
  },
};
