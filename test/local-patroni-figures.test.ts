import { LocalProcess } from '../local/containers';
import { failureCauses, leaderMilestones } from './support/failover-log';
import { LoadReport } from './support/load';
import { expectSurvived, killWindow, LeaderKill } from './support/local-patroni';

// The figures of a leader's kill under load (test/support/local-patroni), from a load report made up here.

const KILLED_AT = 10_000;

/** A load of 12 s, killed at 10 s: `acknowledged` writes sent at the given times, `failed` writes with their status. */
function report(acknowledgedSentAt: number[], failed: Array<[number, number | string]>): LoadReport {
  return {
    acknowledged: new Map(acknowledgedSentAt.map((_, i) => [`id-${i}`, `item-${i}`])),
    acknowledgedAt: acknowledgedSentAt.map(sentAt => ({ sentAt, at: sentAt + 50 })),
    ok: { 'write': acknowledgedSentAt.length, 'read-with-token': 0, 'read': 0 },
    failures: failed.map(([sentAt, status]) => ({ kind: 'write', sentAt, at: sentAt + 20, status })),
    startedAt: 8_000,
    stoppedAt: 20_000,
  };
}

function kill(load: LoadReport, logged: Pick<LeaderKill, 'failureCauses' | 'newLeaderLog' | 'roleChanges'> = { failureCauses: {}, newLeaderLog: [], roleChanges: [] }): LeaderKill {
  return {
    synchronous: true, newLeaderSeconds: 5.2, ...killWindow(load, KILLED_AT), lost: 0, duplicated: 0, exited: [], rejoinSeconds: 4, servingReadsSeconds: 5,
    replicaPoolConnections: { onNewLeader: 2, serviceProcesses: 2 }, ...logged,
  };
}

test('the first acknowledged write is timed from the kill, and writes failed before it are inside the window', () => {
  const figures = kill(report([9_000, 15_500, 16_000], [[11_000, 503], [15_000, 503]]));
  expect(figures).toMatchObject({ firstAcknowledgedWriteSeconds: 5.55, failedWrites: 2, failedWritesOutsideWindow: 0, failedWritesAfterKill: { 503: 2 } });
  expect(() => expectSurvived(figures)).not.toThrow();
});

test('throws error, when no write sent after the kill is acknowledged: it says so, with the counts', () => {
  const figures = kill(report([8_500, 9_500], [...Array.from({ length: 40 }, (_, i): [number, number] => [10_100 + i * 200, 503]), [18_000, 502], [18_200, 'ECONNRESET']]));
  expect(figures.firstAcknowledgedWriteSeconds).toBeNull();
  expect(() => expectSurvived(figures)).toThrow('no write sent after the kill of the synchronous leader was acknowledged in the 10.0 s the load ran after it '
    + '(a new leader answered GET /primary after 5.2 s): writes failed after the kill: 40 × 503, 1 × 502, 1 × ECONNRESET; '
    + 'the 2 acknowledged writes were all sent before it; 0 reads failed; the API instances\' 5xx causes: none logged; the role labels -rw followed: no change; the new leader\'s log: nothing');
});

test('throws error, when the first write after the kill is acknowledged past the bound: it names what the API instances and the new leader logged', () => {
  const logged = {
    failureCauses: { 'the database cannot answer now: read ECONNRESET': { count: 3, firstSeconds: 0.2, lastSeconds: 9.96 } },
    newLeaderLog: ['+5.10 s INFO: promoted self to leader by acquiring session lock'], roleChanges: ['+1.50 s db-0 none', '+10.02 s db-1 master'],
  };
  const figures = kill(report([23_000], [[11_000, 503], [15_000, 503]]), logged);
  expect(figures.firstAcknowledgedWriteSeconds).toBe(13.05);
  expect(() => expectSurvived(figures)).toThrow('the first write sent after the kill was acknowledged 13.1 s after it, not within 12.5 s (a new leader answered GET /primary after 5.2 s): '
    + 'the API instances\' 5xx causes: 3 × the database cannot answer now: read ECONNRESET (+0.2 to +10.0 s); the role labels -rw followed: +1.50 s db-0 none, +10.02 s db-1 master; '
    + 'the new leader\'s log: +5.10 s INFO: promoted self to leader by acquiring session lock');
});

/** A process whose output is `lines`, as the stack keeps the last 64 kB of each. */
function processWithOutput(lines: string[]): LocalProcess {
  return { output: () => `${lines.join('\n')}\n` } as unknown as LocalProcess;
}

test('failureCauses counts the API instances\' `request failed` errors inside the window, one cause whatever the address', () => {
  const at = (ms: number, message: string) => JSON.stringify({ level: 50, time: ms, msg: 'request failed', err: { message } });
  const api = processWithOutput([
    at(9_000, 'before the kill'), at(11_000, 'the database cannot answer now: connect ECONNRESET 127.0.0.1:12022'),
    at(11_500, 'the database cannot answer now: connect ECONNRESET 127.0.0.1:12023'), 'not json', JSON.stringify({ time: 12_000, msg: 'database client replaced' }),
    at(13_000, 'the primary is still in recovery (a failover in progress): cannot execute INSERT in a read-only transaction'), at(30_000, 'after the load'),
  ]);
  expect(failureCauses([api], KILLED_AT, 20_000)).toEqual({
    'the database cannot answer now: connect ECONNRESET <addr>': { count: 2, firstSeconds: 1, lastSeconds: 1.5 },
    'the primary is still in recovery (a failover in progress): cannot execute INSERT in a read-only transaction': { count: 1, firstSeconds: 3, lastSeconds: 3 },
  });
});

test('leaderMilestones picks Patroni\'s and PostgreSQL\'s lines of promotion and synchronous standby, timed from the kill', () => {
  const member = processWithOutput([
    '2026-12-07 06:08:31,800 INFO: no action. I am (patroni-app-db-2), a secondary, and following a leader (patroni-app-db-1)',
    '2026-12-07 06:08:35,875 INFO: promoted self to leader by acquiring session lock',
    '2026-12-07 06:08:35.950 UTC [16246] LOG:  database system is ready to accept connections',
    '2026-12-07 06:08:41,442 INFO: Assigning synchronous standby status to [\'patroni-app-db-0\']',
    '2026-12-07 06:09:41,442 INFO: Assigning synchronous standby status to [] (after the window)',
  ]);
  const killedAt = Date.parse('2026-12-07T06:08:31.077Z');
  expect(leaderMilestones(member, killedAt, killedAt + 20_000)).toEqual([
    '+4.80 s INFO: promoted self to leader by acquiring session lock',
    '+4.87 s LOG:  database system is ready to accept connections',
    '+10.37 s INFO: Assigning synchronous standby status to [\'patroni-app-db-0\']',
  ]);
});
