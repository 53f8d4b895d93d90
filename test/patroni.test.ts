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
  cluster = await startPatroniCluster(group, plane, { replicas: 2, synchronousReplicas: 1 });
}, 240_000);

afterAll(async () => {
  await group.cleanup();
  await plane?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

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

interface WriteLog { acked: number[]; failures: number[] }

/**
 * Inserts ids 1, 2, ... every 50 ms into the member that answers 200 on GET /primary (as an HAProxy
 * or the local stack's -rw forwarder does), until `stop`; a write fails when it errors or takes over 2 s.
 */
async function writeUntil(stop: () => boolean): Promise<WriteLog> {
  const log: WriteLog = { acked: [], failures: [] };
  let client: { member: PatroniMember; sql: postgres.Sql } | undefined;
  for (let id = 1; !stop() && id < 5_000; id++) {
    try {
      if (!client) {
        const member = await cluster.leader();
        if (!member) throw new Error('no leader');
        client = { member, sql: postgres(cluster.databaseUrl(member), { max: 1, connect_timeout: 1, onnotice: () => undefined }) };
      }
      const sql = client.sql;
      await Promise.race([sql`INSERT INTO writes (id) VALUES (${id})`, sleep(2_000).then(() => { throw new Error('write took over 2 s'); })]);
      log.acked.push(id);
    } catch {
      log.failures.push(Date.now());
      void client?.sql.end({ timeout: 0 });
      client = undefined;
    }
    await sleep(50);
  }
  void client?.sql.end({ timeout: 0 });
  return log;
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
  const newLeader = await waitFor('a new leader', async () => {
    const leader = await cluster.leader();
    return leader && leader !== oldLeader ? leader : undefined;
  }, 30_000, 100);
  const promotedSeconds = (Date.now() - killedAt) / 1000;
  stopAt = Date.now() + 3_000;
  const log = await writes;
  // THEN the new leader came within the bound, every acknowledged write is on it, and writes failed only in between
  const firstAckAfter = log.acked.length;
  expect(promotedSeconds).toBeLessThan(worstCasePromotionSeconds({ ttl: 5, loopWait: 1, retryTimeout: 2 }));
  const onLeader = await ackedIdsOn(newLeader);
  expect(log.acked.filter(id => !onLeader.has(id))).toEqual([]);
  expect(log.failures.every(at => at >= killedAt)).toBe(true);
  const windowSeconds = log.failures.length ? (Math.max(...log.failures) - killedAt) / 1000 : 0;
  process.stdout.write(`patroni kill -9: new leader after ${promotedSeconds.toFixed(1)} s, writes failed for ${windowSeconds.toFixed(1)} s `
    + `(${log.failures.length} failed, ${firstAckAfter} acknowledged, 0 lost)\n`);
  expect(windowSeconds).toBeLessThan(worstCasePromotionSeconds({ ttl: 5, loopWait: 1, retryTimeout: 2 }) + 1);

  // WHEN the old leader's pod comes back, THEN it rejoins as a replica of the new timeline and has every write
  const restartedAt = Date.now();
  oldLeader.start();
  await waitFor('the old leader to stream as a replica', async () => await cluster.rest(oldLeader, '/replica') === 200
    && (await ackedIdsOn(oldLeader)).size === onLeader.size, 60_000, 250);
  expect(await memberSql(oldLeader, 'SELECT pg_is_in_recovery()')).toBe('t');
  process.stdout.write(`patroni: the old leader streamed again ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after its restart\n`);
}));
