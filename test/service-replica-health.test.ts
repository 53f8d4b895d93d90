import { ReplicaHealth } from '../service/src/db/replica-health';

test('a replica that replayed the newest primary LSN has lag 0 and takes reads', () => {
  const health = new ReplicaHealth(['r1'], 5000);
  health.recordPrimary(0x100n, 1000);
  health.replayed('r1', '0/100', 1000);
  expect(health.states()).toEqual([expect.objectContaining({ name: 'r1', healthy: true, lagMs: 0, lagBytes: 0, replayLsn: '0/100' })]);
});

test('lag is the age of the oldest primary sample not replayed; past the bound the replica takes no reads', () => {
  // GIVEN samples at 0 s, 3 s and 7 s, and a replica that replayed only the first
  const changes: Array<[string, boolean, string]> = [];
  const health = new ReplicaHealth(['r1'], 5000, (name, healthy, why) => changes.push([name, healthy, why]));
  health.recordPrimary(0x100n, 0);
  health.replayed('r1', '0/100', 0);
  health.recordPrimary(0x200n, 3000);
  health.recordPrimary(0x300n, 7000);

  // WHEN it is checked at 7 s, then at 9 s
  health.replayed('r1', '0/100', 7000);
  const at7 = health.states()[0];
  health.replayed('r1', '0/100', 9000);

  // THEN its lag is 4 s (healthy), then 6 s (ejected)
  expect(at7).toMatchObject({ healthy: true, lagMs: 4000, lagBytes: 0x200 });
  expect(health.states()[0]).toMatchObject({ healthy: false, lagMs: 6000 });
  expect(changes).toEqual([['r1', true, 'replaying'], ['r1', false, 'replay lag 6000 ms']]);
});

test('a primary that stops answering takes its samples along: a promoted replica that never gets its last WAL ejects no replica', () => {
  // GIVEN the old primary's last sample, past what the replica received before the primary died
  const health = new ReplicaHealth(['r1'], 5000);
  health.recordPrimary(0x100n, 0);
  health.replayed('r1', '0/100', 0);
  health.recordPrimary(0x180n, 1000);
  // WHEN the next sample fails (the primary is gone) and the replica is checked 6 s later, then the new primary is sampled
  health.primaryUnanswered();
  health.replayed('r1', '0/100', 7000);
  const duringFailover = health.states()[0];
  health.recordPrimary(0x140n, 8000);
  health.replayed('r1', '0/140', 8000);
  // THEN it took reads throughout, and its lag is judged against the new primary's samples
  expect(duringFailover).toMatchObject({ healthy: true, lagMs: 0 });
  expect(health.states()[0]).toMatchObject({ healthy: true, lagMs: 0, lagBytes: 0 });
});

test('an idle primary gives lag 0 however old its last sample', () => {
  const health = new ReplicaHealth(['r1'], 1000);
  health.recordPrimary(0x100n, 0);
  health.recordPrimary(0x100n, 60_000);
  health.replayed('r1', '0/100', 60_000);
  expect(health.states()[0]).toMatchObject({ healthy: true, lagMs: 0 });
});

test('a replica that has not replayed the floor (the primary at start) takes no reads', () => {
  const health = new ReplicaHealth(['r1'], 5000);
  health.setFloor(0x500n);
  health.replayed('r1', '0/400', 0);
  expect(health.states()[0].healthy).toBe(false);
  health.replayed('r1', '0/500', 0);
  expect(health.states()[0].healthy).toBe(true);
});

test('a failed check or a server that is no replica marks it down with the error', () => {
  const health = new ReplicaHealth(['r1', 'r2'], 5000);
  health.replayed('r1', '0/1', 0);
  health.down('r1', new Error('connect ECONNREFUSED'));
  health.replayed('r2', null, 0);
  expect(health.states()).toEqual([
    expect.objectContaining({ name: 'r1', healthy: false, lagMs: null, lastError: 'connect ECONNREFUSED' }),
    expect.objectContaining({ name: 'r2', healthy: false, leading: true, lastError: 'not in recovery: a primary, read through the primary\'s address only' }),
  ]);
});

test('a member found leading (promoted) takes no reads however small its lag, and found in recovery again (rejoined) takes them again', () => {
  // GIVEN a healthy replica
  const health = new ReplicaHealth(['r1'], 5000);
  health.recordPrimary(0x100n, 0);
  health.replayed('r1', '0/100', 0);
  expect(health.states()[0]).toMatchObject({ healthy: true, leading: false });
  // WHEN a check finds it out of recovery (its replay LSN alone would still say 0/100, lag 0)
  health.replayed('r1', null, 1000);
  // THEN it leads and takes no reads
  expect(health.states()[0]).toMatchObject({ healthy: false, leading: true });
  // WHEN it rejoins as a replica and has replayed the primary's position, THEN it takes reads again
  health.replayed('r1', '0/100', 2000);
  expect(health.states()[0]).toMatchObject({ healthy: true, leading: false });
});

test('a live replay LSN is kept only when newer, and leaves health alone', () => {
  const health = new ReplicaHealth(['r1'], 5000);
  health.noteReplay('r1', '0/20');
  health.noteReplay('r1', '0/10');
  expect(health.states()[0]).toMatchObject({ replayLsn: '0/20', healthy: false });
});

test('old samples are dropped once past twice the bound plus 10 s', () => {
  const health = new ReplicaHealth(['r1'], 1000);
  health.recordPrimary(1n, 0);
  health.recordPrimary(2n, 1000);
  health.recordPrimary(3n, 20_000);
  // The sample at 0 is gone: a replica at LSN 1 is now judged against the sample at 1 s.
  health.replayed('r1', '0/1', 20_000);
  expect(health.states()[0].lagMs).toBe(19_000);
  expect(health.latestPrimary).toBe(3n);
});
