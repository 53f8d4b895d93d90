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

function kill(load: LoadReport): LeaderKill {
  return {
    synchronous: true, newLeaderSeconds: 5.2, ...killWindow(load, KILLED_AT), lost: 0, duplicated: 0, exited: [], rejoinSeconds: 4, servingReadsSeconds: 5,
    replicaPoolConnections: { onNewLeader: 2, serviceProcesses: 2 },
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
    + 'the 2 acknowledged writes were all sent before it; 0 reads failed');
});
