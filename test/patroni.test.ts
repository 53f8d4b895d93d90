import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import postgres from 'postgres';
import { worstCasePromotionSeconds } from '../lib/postgres/patroni-conf';
import { Manifest } from '../lib/testing/manifest-checks';
import { ControlPlane, DEFAULT_BIN_DIR, missingBinaries, startControlPlane } from '../scripts/control-plane/index';
import { memberSql, NAMESPACE, PatroniCluster, PatroniMember, startPatroniCluster } from './support/patroni';
import { ProcessGroup, sleep, waitFor } from './support/processes';

jest.setTimeout(240_000);

const group = new ProcessGroup();
let plane: ControlPlane | undefined;
let workDir: string;
let cluster: PatroniCluster;

beforeAll(async () => {
  const missing = missingBinaries();
  if (missing.length) throw new Error(`${missing.join(', ')} not built in ${DEFAULT_BIN_DIR}: run \`npm run control-plane:build\``);
  workDir = mkdtempSync(join(tmpdir(), 'hscale-patroni-plane-'));
  plane = await startControlPlane({ dir: join(workDir, 'plane'), crds: false, nodes: 3 });
  const started = Date.now();
  cluster = await startPatroniCluster(group, plane, { replicas: 2, synchronousReplicas: 1 });
  process.stdout.write(`patroni: control plane and 3 members up in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}, 240_000);

afterAll(async () => {
  stopped = true;
  await group.cleanup();
  await plane?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/**
 * Each failure starts from a healthy cluster, as a failover needs one: a leader, every other member
 * streaming from it, and (synchronous mode) a synchronous standby. A member that rejoined in the last
 * test may still be catching up.
 */
beforeEach(() => withLogs(() => waitFor('a leader with every other member streaming and a synchronous standby', async () => {
  const leader = await cluster.leader();
  if (!leader) return false;
  const streaming = await memberSql(leader, 'SELECT count(*) FROM pg_stat_replication WHERE state = \'streaming\'');
  return streaming === String(cluster.members.length - 1) && await syncStandby(leader) !== undefined;
}, 60_000, 250)));

/** A failed expectation with every member's log, so a failure says what Patroni did. */
async function withLogs<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${cluster.logs()}`);
  }
}

test('one member leads, the others stream from it, and the -rw Service selects the leader\'s pod by Patroni\'s label', () => withLogs(async () => {
  const leader = (await cluster.leader())!;
  const pods = JSON.parse(await plane!.kubectlOk(['get', 'pods', '-n', NAMESPACE, '-o', 'json'])).items;
  const roles = Object.fromEntries(pods.map((p: Manifest) => [p.metadata.name, p.metadata.labels.role]));
  expect(roles[leader.name]).toBe('master');
  expect(Object.values(roles).filter(r => r === 'replica')).toHaveLength(2);
  await waitFor('the -rw endpoints', async () => {
    const endpoints = JSON.parse(await plane!.kubectlOk(['get', 'endpoints', 'test-db-rw', '-n', NAMESPACE, '-o', 'json']));
    const targets = (endpoints.subsets ?? []).flatMap((s: Manifest) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])]).map((a: Manifest) => a.targetRef?.name);
    return targets.length === 1 && targets[0] === leader.name;
  }, 30_000, 500);
  expect(await memberSql(leader, 'SELECT count(*) FROM pg_stat_replication WHERE state = \'streaming\'')).toBe('2');
}));

interface WriteLog { acked: number[]; ackedAt: number[]; failures: number[]; reasons: string[] }

// Ids are unique across the tests' writers; `stopped` ends every load loop, also those of a failed test.
let nextId = 1;
let stopped = false;

/**
 * Inserts ids 1, 2, ... every 50 ms into the member that answers 200 on GET /primary (as an HAProxy
 * or the local stack's -rw forwarder does), until `stop`; a write fails when it errors or takes over 2 s.
 */
async function writeUntil(stop: () => boolean): Promise<WriteLog> {
  const log: WriteLog = { acked: [], ackedAt: [], failures: [], reasons: [] };
  let client: { member: PatroniMember; sql: postgres.Sql } | undefined;
  for (let i = 0; !stop() && !stopped && i < 5_000; i++) {
    const id = nextId++;
    try {
      if (!client) {
        const member = await cluster.leader();
        if (!member) throw new Error('no leader');
        client = { member, sql: postgres(cluster.databaseUrl(member), { max: 1, connect_timeout: 1, onnotice: () => undefined }) };
      }
      const sql = client.sql;
      await Promise.race([sql`INSERT INTO writes (id) VALUES (${id})`, sleep(2_000).then(() => { throw new Error('write took over 2 s'); })]);
      log.acked.push(id);
      log.ackedAt.push(Date.now());
    } catch (error) {
      log.failures.push(Date.now());
      log.reasons.push((error as Error).message);
      void client?.sql.end({ timeout: 0 });
      client = undefined;
    }
    await sleep(50);
  }
  void client?.sql.end({ timeout: 0 });
  return log;
}

/** The member Patroni lists as `sync_standby` in the leader's GET /cluster. */
async function syncStandby(leader: PatroniMember): Promise<PatroniMember | undefined> {
  const body = await (await fetch(`http://127.0.0.1:${leader.restPort}/cluster`, { headers: { connection: 'close' } })).json() as { members: Array<{ name: string; role: string }> };
  const name = body.members.find(m => m.role === 'sync_standby')?.name;
  return cluster.members.find(m => m.name === name);
}

async function ackedIdsOn(member: PatroniMember): Promise<Set<number>> {
  return new Set((await memberSql(member, 'SELECT id FROM writes', 'app')).split('\n').filter(Boolean).map(Number));
}

test('kill -9 of the leader: a replica leads within worstCasePromotionSeconds, with no acknowledged write lost; the old leader rejoins as a replica', () => withLogs(async () => {
  // GIVEN a table and writes through whichever member leads
  const oldLeader = (await cluster.leader())!;
  await memberSql(oldLeader, 'CREATE TABLE IF NOT EXISTS writes (id int PRIMARY KEY); GRANT ALL ON writes TO app', 'app');
  let killedAt = 0;
  let stopAt = Infinity;
  const writes = writeUntil(() => Date.now() > stopAt);
  await sleep(2_000);
  // WHEN the leader's pod dies
  killedAt = Date.now();
  await oldLeader.kill();
  // Writes in flight when the kill began may still have been acknowledged by the old leader.
  const deadAt = Date.now();
  const newLeader = await waitFor('a new leader', async () => {
    const leader = await cluster.leader();
    return leader && leader !== oldLeader ? leader : undefined;
  }, 30_000, 100);
  const promotedSeconds = (Date.now() - killedAt) / 1000;
  stopAt = Date.now() + 3_000;
  const log = await writes;
  // THEN the new leader came within the bound, every acknowledged write is on it, and writes failed only in between
  const firstAckSeconds = (Math.min(...log.ackedAt.filter(at => at > deadAt)) - killedAt) / 1000;
  expect(promotedSeconds).toBeLessThan(worstCasePromotionSeconds({ ttl: 5, loopWait: 1, retryTimeout: 2 }));
  const onLeader = await ackedIdsOn(newLeader);
  expect(log.acked.filter(id => !onLeader.has(id))).toEqual([]);
  expect(log.failures.every(at => at >= killedAt)).toBe(true);
  const windowSeconds = log.failures.length ? (Math.max(...log.failures) - killedAt) / 1000 : 0;
  process.stdout.write(`patroni kill -9: new leader after ${promotedSeconds.toFixed(1)} s, first acknowledged write after ${firstAckSeconds.toFixed(1)} s, `
    + `last failed write after ${windowSeconds.toFixed(1)} s (${log.failures.length} failed: ${[...new Set(log.reasons)].join('; ')}; ${log.acked.length} acknowledged, 0 lost)\n`);
  expect(windowSeconds).toBeLessThan(worstCasePromotionSeconds({ ttl: 5, loopWait: 1, retryTimeout: 2 }) + 1);

  // WHEN the old leader's pod comes back, THEN it rejoins as a replica of the new timeline and has every write
  const restartedAt = Date.now();
  oldLeader.start();
  await waitFor('the old leader to stream as a replica', async () => await cluster.rest(oldLeader, '/replica') === 200
    && (await ackedIdsOn(oldLeader)).size === onLeader.size, 60_000, 250);
  expect(await memberSql(oldLeader, 'SELECT pg_is_in_recovery()')).toBe('t');
  process.stdout.write(`patroni: the old leader streamed again ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after its restart\n`);
}));

/** Reads every 50 ms from `member` (a replica throughout), until `stop`: the number of failed reads. */
async function readUntil(member: PatroniMember, stop: () => boolean): Promise<{ reads: number; failed: number }> {
  const sql = postgres(cluster.databaseUrl(member), { max: 1, connect_timeout: 1, onnotice: () => undefined });
  const result = { reads: 0, failed: 0 };
  for (let i = 0; !stop() && !stopped && i < 2_000; i++) {
    try {
      await Promise.race([sql`SELECT count(*) FROM writes`, sleep(2_000).then(() => { throw new Error('read took over 2 s'); })]);
      result.reads++;
    } catch {
      result.failed++;
    }
    await sleep(50);
  }
  await sql.end({ timeout: 1 });
  return result;
}

test('a planned switchover under load: writes fail for at most 2 s, reads from a replica never, no acknowledged write is lost', () => withLogs(async () => {
  // GIVEN writes through the leader and reads from a replica that is not the candidate
  const leader = (await cluster.leader())!;
  // In synchronous_mode Patroni hands over only to the synchronous standby (any other answers 412).
  const candidate = await waitFor('a synchronous standby', () => syncStandby(leader), 20_000, 250);
  const reader = cluster.members.find(m => m !== leader && m !== candidate)!;
  let stopAt = Infinity;
  const writes = writeUntil(() => Date.now() > stopAt);
  const reads = readUntil(reader, () => Date.now() > stopAt);
  await sleep(1_500);
  // WHEN the leader hands over to the candidate (what `patronictl switchover` asks of the REST API)
  const response = await fetch(`http://127.0.0.1:${leader.restPort}/switchover`, {
    method: 'POST', body: JSON.stringify({ leader: leader.name, candidate: candidate.name }), headers: { connection: 'close' },
  });
  expect(response.status).toBe(200);
  await waitFor('the candidate to lead', async () => (await cluster.leader()) === candidate, 30_000, 100);
  stopAt = Date.now() + 2_000;
  const [log, read] = await Promise.all([writes, reads]);
  // THEN
  const windowSeconds = log.failures.length ? (Math.max(...log.failures) - Math.min(...log.failures)) / 1000 : 0;
  process.stdout.write(`patroni switchover: writes failed for ${windowSeconds.toFixed(1)} s (${log.failures.length} failed, ${log.acked.length} acknowledged), `
    + `${read.failed} of ${read.reads + read.failed} reads failed\n`);
  expect(windowSeconds).toBeLessThanOrEqual(2);
  expect(read).toMatchObject({ failed: 0 });
  const onLeader = await ackedIdsOn(candidate);
  expect(log.acked.filter(id => !onLeader.has(id))).toEqual([]);
  await waitFor('the old leader to stream from the candidate', async () => await cluster.rest(leader, '/replica') === 200, 30_000, 250);
}));

test('a leader frozen past ttl (SIGSTOP) is replaced; once woken it demotes itself, and every acknowledged write is on the final leader once', () => withLogs(async () => {
  // GIVEN writes through whichever member leads
  const frozen = (await cluster.leader())!;
  let stopAt = Infinity;
  const writes = writeUntil(() => Date.now() > stopAt);
  await sleep(1_500);
  // WHEN the leader freezes with its connections open
  const frozenAt = Date.now();
  await frozen.freeze(true);
  const next = await waitFor('another member to lead', async () => {
    const leader = await cluster.leader();
    return leader && leader !== frozen ? leader : undefined;
  }, 30_000, 100);
  const promotedSeconds = (Date.now() - frozenAt) / 1000;
  // THEN another member leads within the bound; once woken, the old leader follows it
  expect(promotedSeconds).toBeLessThan(worstCasePromotionSeconds({ ttl: 5, loopWait: 1, retryTimeout: 2 }));
  await frozen.freeze(false);
  // Demoting restarts its PostgreSQL as a replica: psql fails until that is done.
  await waitFor('the woken leader to run as a replica', async () => await cluster.rest(frozen, '/replica') === 200
    && await memberSql(frozen, 'SELECT pg_is_in_recovery()') === 't', 60_000, 250);
  stopAt = Date.now() + 1_000;
  const log = await writes;
  const rows = (await memberSql(next, 'SELECT id FROM writes', 'app')).split('\n').filter(Boolean).map(Number);
  expect(rows.length).toBe(new Set(rows).size);
  expect(log.acked.filter(id => !rows.includes(id))).toEqual([]);
  process.stdout.write(`patroni SIGSTOP: new leader after ${promotedSeconds.toFixed(1)} s, ${log.failures.length} writes failed, ${log.acked.length} acknowledged, 0 lost\n`);
}));
