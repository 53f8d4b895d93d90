import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { worstCasePromotionSeconds } from '../../lib/postgres/patroni-conf';
import { LocalStack } from '../../local/stack';
import { killLeaderUnderLoad, LeaderKill, synthPatroniChart } from '../../test/support/local-patroni';
import { StackUnderTest } from '../../test/support/local-stack';
import { Scenario } from '../support/context';
import { Figure } from '../support/report';
import { median } from '../support/stats';

const REPEATS = Math.min(Number(process.env.BENCH_ROUNDS ?? 2), 3);
const CHART = 'patroni';
const DEFAULT_TIMING = { ttl: 5, loopWait: 1, retryTimeout: 2 };

const progress = (what: string) => process.stderr.write(`bench:   patroni-failover: ${what}\n`);

/** The figures of one replication mode's kills. */
function modeFigures(mode: string, kills: LeaderKill[]): Figure[] {
  const sum = (pick: (k: LeaderKill) => number) => kills.reduce((n, k) => n + pick(k), 0);
  const seconds = (name: string, pick: (k: LeaderKill) => number | null, goal?: Figure['goal'], note?: string): Figure => {
    const runs = kills.map(pick).filter((s): s is number => s !== null);
    const none = kills.length - runs.length;
    const noneNote = none > 0 ? `${none} of ${kills.length} kills: none while the load ran` : undefined;
    return { name: `${mode}: ${name}`, value: runs.length > 0 ? median(runs) : null, unit: 's', runs, goal, note: [note, noneNote].filter(Boolean).join('; ') || undefined };
  };
  return [
    seconds('kill -9 of the leader to a new leader', k => k.newLeaderSeconds, { op: '<', target: worstCasePromotionSeconds(DEFAULT_TIMING) },
      'worstCasePromotionSeconds at the default ttl 5, loop_wait 1, retry_timeout 2; the guides promise < 30 s'),
    seconds('kill -9 to the first acknowledged write through nginx', k => k.firstAcknowledgedWriteSeconds),
    { name: `${mode}: failed writes (all inside that window)`, value: sum(k => k.failedWrites), unit: '' },
    { name: `${mode}: failed writes outside that window`, value: sum(k => k.failedWritesOutsideWindow), unit: '', goal: { op: '<=', target: 0 } },
    { name: `${mode}: failed reads`, value: sum(k => k.failedReads), unit: '', goal: { op: '<=', target: 0 } },
    {
      name: `${mode}: acknowledged writes lost`, value: sum(k => k.lost), unit: '', goal: mode === 'synchronous_mode' ? { op: '<=', target: 0 } : undefined,
      note: `of ${sum(k => k.acknowledgedWrites)} acknowledged`,
    },
    { name: `${mode}: API processes that exited`, value: kills.filter(k => k.exited.length > 0).length, unit: '', goal: { op: '<=', target: 0 }, note: kills.flatMap(k => k.exited)[0] },
    seconds('old leader restarted to serving as a replica', k => k.rejoinSeconds),
    seconds('old leader restarted to reads from it through every API instance', k => k.servingReadsSeconds),
  ];
}

/**
 * kill -9 of the Patroni leader's pod under the mixed load through nginx, on the local stack of a
 * patroni chart (what test/local-patroni.test.ts checks), with asynchronous replication and with
 * Patroni's synchronous_mode.
 */
export const patroniFailover: Scenario = {
  id: 'patroni-failover',
  title: '6c PostgreSQL failover with Patroni (kill -9 of the leader)',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'hscale-bench-patroni-'));
    let stack: LocalStack | undefined;
    try {
      synthPatroniChart(join(dir, 'dist'), CHART);
      const started = performance.now();
      stack = await LocalStack.start({ chart: CHART, distDir: join(dir, 'dist'), apiInstances: 2, stateFile: join(dir, 'state.json') });
      progress(`local stack up in ${((performance.now() - started) / 1000).toFixed(0)} s`);
      const t = new StackUnderTest(stack, 'bench-patroni-figures.json');
      const kills: Record<'async' | 'sync', LeaderKill[]> = { async: [], sync: [] };
      for (const synchronous of [false, true]) {
        for (let i = 0; i < REPEATS; i++) {
          const kill = await killLeaderUnderLoad(t, synchronous);
          progress(`${synchronous ? 'sync' : 'async'}: new leader after ${kill.newLeaderSeconds.toFixed(1)} s, first write ${kill.firstAcknowledgedWriteSeconds === null ? 'never acknowledged' : `${kill.firstAcknowledgedWriteSeconds.toFixed(1)} s`}, `
            + `${kill.failedWrites} writes and ${kill.failedReads} reads failed, ${kill.lost} lost`);
          kills[synchronous ? 'sync' : 'async'].push(kill);
        }
      }
      return {
        figures: [...modeFigures('asynchronous', kills.async), ...modeFigures('synchronous_mode', kills.sync)],
        method: [
          'The local stack (npm run local) of a chart synthesized like the production one with a PgReplicaSet of engine \'patroni\' and 2 replicas (3 members, Patroni\'s default timing: ttl 5 s, loop_wait 1 s, retry_timeout 2 s), its store the test control plane\'s Kubernetes API; 2 API instances behind nginx (TLS), a standalone Redis.',
          'A steady mixed load through nginx (4 loops, 80 ms apart: 40% writes, 40% reads by id with the consistency token, 20% list reads); 2 s into it the leader\'s pod (Patroni, PostgreSQL, exporter) gets SIGKILL; a new leader is the first other member answering 200 on GET /primary (polled every 100 ms); the first acknowledged write is the first write sent after the kill that got 201; the load runs 3 s past the new leader. Then the old leader\'s pod is started again and rejoins as a replica (pg_rewind if needed).',
          `Asynchronous replication first, then synchronous_mode switched on through Patroni's PATCH /config (patronictl edit-config); ${REPEATS} kills each. Lost writes: acknowledged ids missing on the new leader.`,
        ],
      };
    } finally {
      await stack?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
