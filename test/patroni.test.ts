import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import postgres from 'postgres';
import { parse } from 'yaml';
import { worstCasePromotionSeconds } from '../lib/postgres/patroni-conf';
import { Manifest } from '../lib/testing/manifest-checks';
import { ControlPlane, DEFAULT_BIN_DIR, missingBinaries, startControlPlane } from '../scripts/control-plane/index';
import { memberSql, NAMESPACE, PatroniCluster, PatroniMember, patroniChart, REST_API_CREDENTIALS, restApiAuthorization, startPatroniCluster } from './support/patroni';
import { PG_BIN } from './support/postgres';
import { ProcessGroup, sleep, waitFor, withTimeout } from './support/processes';

jest.setTimeout(240_000);

const group = new ProcessGroup();
const CLUSTER = { replicas: 2, synchronousReplicas: 1 };
let plane: ControlPlane | undefined;
let workDir: string;
let cluster: PatroniCluster;

beforeAll(async () => {
  const missing = missingBinaries();
  if (missing.length) throw new Error(`${missing.join(', ')} not built in ${DEFAULT_BIN_DIR}: run \`npm run control-plane:build\``);
  workDir = mkdtempSync(join(tmpdir(), 'hscale-patroni-plane-'));
  plane = await startControlPlane({ dir: join(workDir, 'plane'), crds: false, nodes: 3 });
  const started = Date.now();
  cluster = await startPatroniCluster(group, plane, CLUSTER);
  // The table every test writes to, so that each test also runs alone (jest -t).
  await memberSql((await cluster.leader())!, 'CREATE TABLE writes (id int PRIMARY KEY); GRANT ALL ON writes TO app', 'app');
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

/**
 * A failed expectation with every member's processes and log, so a failure says what Patroni did;
 * the whole logs go to a file it names.
 */
async function withLogs<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const file = join(tmpdir(), `hscale-patroni-failure-${process.pid}-${Date.now()}.log`);
    const processes = await cluster.processes();
    writeFileSync(file, `${processes}${cluster.logs(true)}`);
    throw new Error(`${(error as Error).message}\n(every member's whole log: ${file})\n${processes}${cluster.logs()}`);
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

interface WriteLog { acked: number[]; ackedAt: number[]; ackedBy: string[]; failures: number[]; reasons: string[] }

// Ids are unique across the tests' writers; `stopped` ends every load loop, also those of a failed test.
let nextId = 1;
let stopped = false;

/**
 * Inserts ids 1, 2, ... every 50 ms into the member that answers 200 on GET /primary (as an HAProxy
 * or the local stack's -rw forwarder does), until `stop`; a write fails when it errors or takes over 2 s.
 */
async function writeUntil(stop: () => boolean): Promise<WriteLog> {
  const log: WriteLog = { acked: [], ackedAt: [], ackedBy: [], failures: [], reasons: [] };
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
      log.ackedBy.push(client.member.name);
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
  const body = await (await fetch(`${leader.restUrl}/cluster`, { headers: { connection: 'close' } })).json() as { members: Array<{ name: string; role: string }> };
  const name = body.members.find(m => m.role === 'sync_standby')?.name;
  return cluster.members.find(m => m.name === name);
}

async function ackedIdsOn(member: PatroniMember): Promise<Set<number>> {
  return new Set((await memberSql(member, 'SELECT id FROM writes', 'app')).split('\n').filter(Boolean).map(Number));
}

/**
 * What observing a promotion adds to Patroni's own worst case, on a shared 2-core machine with two
 * CPU-bound processes beside it: the test polls every 100 ms (each poll a REST round trip), and
 * every Patroni loop, each `loop_wait` sleep and the promotion run late by the scheduling delay of a
 * loaded machine (up to about 1 s measured; docs/postgres-failover.md).
 */
const OBSERVATION_SLACK_SECONDS = 1.5;

/**
 * The longest the tests allow from a leader's loss to another member's 200 on GET /primary, derived
 * from the chart's timing: worstCasePromotionSeconds (ttl + loop_wait + Patroni's 2 s status timeout
 * for a member that does not answer + 1.5 s for the promotion) plus OBSERVATION_SLACK_SECONDS.
 * 9.5 + 1.5 = 11 s at the defaults.
 */
function promotionBoundSeconds(): number {
  return worstCasePromotionSeconds(cluster.timing) + OBSERVATION_SLACK_SECONDS;
}

/**
 * The member other than `old` that answers 200 on GET /primary. `old` is not asked: frozen or cut
 * off, it would make each poll wait for its 1 s REST timeout, and the figure would measure the poll.
 */
function leaderOtherThan(old: PatroniMember): Promise<PatroniMember> {
  return waitFor('another member to lead', async () => {
    const others = cluster.members.filter(m => m !== old);
    const codes = await Promise.all(others.map(m => cluster.rest(m, '/primary')));
    return others.find((_, i) => codes[i] === 200);
  }, 30_000, 100);
}

test('kill -9 of the leader: a replica leads within the promotion bound, with no acknowledged write lost; the old leader rejoins as a replica', () => withLogs(async () => {
  // GIVEN writes through whichever member leads
  const oldLeader = (await cluster.leader())!;
  let killedAt = 0;
  let stopAt = Infinity;
  const writes = writeUntil(() => Date.now() > stopAt);
  await sleep(2_000);
  // WHEN the leader's pod dies
  killedAt = Date.now();
  await oldLeader.kill();
  // Writes in flight when the kill began may still have been acknowledged by the old leader.
  const deadAt = Date.now();
  const newLeader = await leaderOtherThan(oldLeader);
  const promotedSeconds = (Date.now() - killedAt) / 1000;
  stopAt = Date.now() + 3_000;
  const log = await writes;
  // THEN the new leader came within the bound, every acknowledged write is on it, and writes failed only in between
  const firstAckSeconds = (Math.min(...log.ackedAt.filter(at => at > deadAt)) - killedAt) / 1000;
  expect(promotedSeconds).toBeLessThan(promotionBoundSeconds());
  const onLeader = await ackedIdsOn(newLeader);
  expect(log.acked.filter(id => !onLeader.has(id))).toEqual([]);
  expect(log.failures.every(at => at >= killedAt)).toBe(true);
  const windowSeconds = log.failures.length ? (Math.max(...log.failures) - killedAt) / 1000 : 0;
  process.stdout.write(`patroni kill -9: new leader after ${promotedSeconds.toFixed(1)} s (bound ${promotionBoundSeconds()} s), first acknowledged write after ${firstAckSeconds.toFixed(1)} s, `
    + `last failed write after ${windowSeconds.toFixed(1)} s (${log.failures.length} failed: ${[...new Set(log.reasons)].join('; ')}; ${log.acked.length} acknowledged, 0 lost)\n`);
  expect(windowSeconds).toBeLessThan(promotionBoundSeconds() + 1);

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

test('a planned switchover under load, only with the REST API\'s credentials (401 without them): writes fail for at most 2 s, reads from a replica never, no acknowledged write is lost', () => withLogs(async () => {
  // GIVEN writes through the leader and reads from a replica that is not the candidate
  const leader = (await cluster.leader())!;
  // In synchronous_mode Patroni hands over only to the synchronous standby (any other answers 412).
  const candidate = await waitFor('a synchronous standby', () => syncStandby(leader), 20_000, 250);
  const reader = cluster.members.find(m => m !== leader && m !== candidate)!;
  let stopAt = Infinity;
  const writes = writeUntil(() => Date.now() > stopAt);
  const reads = readUntil(reader, () => Date.now() > stopAt);
  await sleep(1_500);
  // AND the REST API refuses a switchover without the chart's credentials, or with a wrong password, while its GETs stay open
  const switchover = (auth: Record<string, string>) => fetch(`${leader.restUrl}/switchover`, {
    method: 'POST', body: JSON.stringify({ leader: leader.name, candidate: candidate.name }), headers: { connection: 'close', ...auth },
  });
  const refused = [await switchover({}), await switchover(restApiAuthorization({ ...REST_API_CREDENTIALS, password: 'wrong' }))];
  expect(refused.map(r => [r.status, r.headers.get('www-authenticate')])).toEqual([[401, 'Basic realm="Patroni"'], [401, 'Basic realm="Patroni"']]);
  expect(await Promise.all(['/metrics', '/health', '/readiness', '/primary'].map(path => cluster.rest(leader, path)))).toEqual([200, 200, 200, 200]);
  expect(await cluster.leader()).toBe(leader);
  // WHEN the leader hands over to the candidate with them (what `patronictl switchover` asks of the REST API)
  const response = await switchover(restApiAuthorization());
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
  const next = await leaderOtherThan(frozen);
  const promotedSeconds = (Date.now() - frozenAt) / 1000;
  // THEN another member leads within the bound; once woken, the old leader follows it
  expect(promotedSeconds).toBeLessThan(promotionBoundSeconds());
  await frozen.freeze(false);
  // Demoting restarts its PostgreSQL as a replica: psql fails until that is done.
  await waitFor('the woken leader to run as a replica', async () => await cluster.rest(frozen, '/replica') === 200
    && await memberSql(frozen, 'SELECT pg_is_in_recovery()') === 't', 60_000, 250);
  stopAt = Date.now() + 1_000;
  const log = await writes;
  const rows = (await memberSql(next, 'SELECT id FROM writes', 'app')).split('\n').filter(Boolean).map(Number);
  expect(rows.length).toBe(new Set(rows).size);
  expect(log.acked.filter(id => !rows.includes(id))).toEqual([]);
  process.stdout.write(`patroni SIGSTOP: new leader after ${promotedSeconds.toFixed(1)} s (bound ${promotionBoundSeconds()} s), ${log.failures.length} writes failed, ${log.acked.length} acknowledged, 0 lost\n`);
}));

/**
 * A client beside `member`, in its network namespace (an application pod on the same side of a
 * partition): psql inserts ids from `firstId` every 50 ms straight into the member, each write
 * bounded at 2 s by killing psql (no cancel request, which would turn a commit waiting for its
 * standby into an acknowledged one), until `stop()`.
 */
function writeInPod(member: PatroniMember, firstId: number): { stop: () => Promise<WriteLog> } {
  const stopFile = join(group.tempDir('hscale-writer-'), 'stop');
  const script = `id=${firstId}; while [ $id -lt ${firstId + 1_000} ] && [ ! -e ${stopFile} ]; do
    if timeout -s KILL 2 ${join(PG_BIN, 'psql')} "$URL" -X -q -c "INSERT INTO writes (id) VALUES ($id)" >/dev/null 2>&1; then r=ack; else r=fail; fi
    echo "$r $id $(date +%s%3N)"; id=$((id + 1)); sleep 0.05; done`;
  const [command, ...args] = [...member.pod.exec, 'sh', '-c', script];
  const writer = group.spawn(command, args, { env: { ...process.env, URL: cluster.databaseUrl(member) } });
  return {
    stop: async () => {
      writeFileSync(stopFile, '');
      await waitFor('the writer beside the member to stop', async () => writer.child.exitCode !== null, 10_000, 50);
      const log: WriteLog = { acked: [], ackedAt: [], ackedBy: [], failures: [], reasons: [] };
      for (const [result, id, at] of writer.output().trim().split('\n').map(l => l.split(' '))) {
        if (result === 'ack') { log.acked.push(Number(id)); log.ackedAt.push(Number(at)); log.ackedBy.push(member.name); }
        if (result === 'fail') { log.failures.push(Number(at)); log.reasons.push('psql failed or took over 2 s'); }
      }
      return log;
    },
  };
}

/** When `member`'s PostgreSQL stopped being a primary (in recovery, or not answering on its socket). */
function demotion(member: PatroniMember): Promise<number> {
  return waitFor(`${member.name} to stop being a primary`, async () => {
    const primary = await memberSql(member, 'SELECT NOT pg_is_in_recovery()').then(r => r === 't', () => false);
    return !primary && Date.now();
  }, 30_000, 100);
}

test('a leader cut off from the store and its peers (its link down) demotes itself within ttl, another member leads, and no write was acknowledged by two leaders', () => withLogs(async () => {
  // GIVEN writes through whichever member leads, and a client beside the leader writing to it directly
  const cut = (await cluster.leader())!;
  let stopAt = Infinity;
  const writes = writeUntil(() => Date.now() > stopAt);
  const beside = writeInPod(cut, 1_000_000);
  await sleep(1_500);
  // WHEN the leader's link goes down: the API server, its peers and the clients outside lose it
  const cutAt = Date.now();
  const logAtCut = cut.output().length;
  await cut.pod.cut(true);
  const [demotedAt, next] = await Promise.all([demotion(cut), leaderOtherThan(cut)]);
  const promotedAt = Date.now();
  // THEN it stopped being a primary within ttl, and another member leads within the bound
  const demotedSeconds = (demotedAt - cutAt) / 1000;
  const promotedSeconds = (promotedAt - cutAt) / 1000;
  expect(demotedSeconds).toBeLessThan(cluster.timing.ttl);
  expect(promotedSeconds).toBeLessThan(promotionBoundSeconds());
  // WHEN the link is back, THEN the old leader follows the new one with every write
  const logAtHeal = cut.output().length;
  await cut.pod.cut(false);
  const healedAt = Date.now();
  await waitFor('the cut-off leader to stream from the new one', async () => await memberSql(next,
    `SELECT count(*) FROM pg_stat_replication WHERE application_name = '${cut.name}' AND state = 'streaming'`) === '1', 60_000, 250);
  const rejoinedSeconds = (Date.now() - healedAt) / 1000;
  // Its shutdown waited for the cut-off standbys (until the heal): it still demoted once while cut off,
  // started one PostgreSQL for it, and every PostgreSQL process of its pod is its data directory's
  // postmaster's (Patroni 3.0.2 demoted twice and started two; renderPatroniLauncher).
  expect(cut.output().slice(logAtCut, logAtHeal).split('Demoting self (offline)').length - 1).toBe(1);
  expect(cut.output().slice(logAtCut)).not.toContain('lock file "postmaster.pid" already exists');
  expect(await cut.lostPostgres()).toEqual([]);
  stopAt = Date.now() + 1_000;
  const [log, besideLog] = await Promise.all([writes, beside.stop()]);
  const rows = (await memberSql(next, 'SELECT id FROM writes', 'app')).split('\n').filter(Boolean).map(Number);
  expect(rows.length).toBe(new Set(rows).size);
  expect([...log.acked, ...besideLog.acked].filter(id => !rows.includes(id))).toEqual([]);
  // No overlap: the old leader's last acknowledgement came before the new leader's first.
  const ackedByOld = [...log.ackedAt.filter((_, i) => log.ackedBy[i] === cut.name), ...besideLog.ackedAt];
  const ackedByNew = log.ackedAt.filter((_, i) => log.ackedBy[i] === next.name && log.ackedAt[i] > cutAt);
  expect(Math.max(...ackedByOld)).toBeLessThan(Math.min(...ackedByNew));
  expect(Math.max(...ackedByOld)).toBeLessThan(promotedAt);
  process.stdout.write(`patroni partition: the cut-off leader stopped being a primary after ${demotedSeconds.toFixed(1)} s (ttl ${cluster.timing.ttl} s), `
    + `new leader after ${promotedSeconds.toFixed(1)} s (bound ${promotionBoundSeconds()} s), the old one streamed again ${rejoinedSeconds.toFixed(1)} s after the heal; `
    + `${log.acked.length} + ${besideLog.acked.length} (beside it) acknowledged, ${besideLog.ackedAt.filter(at => at > cutAt).length} of them by the old leader after the cut, 0 lost\n`);
}));

/** Sets `synchronous_mode_strict` on the running cluster, as `patronictl edit-config` does (PATCH /config). */
async function setStrict(leader: PatroniMember, strict: boolean): Promise<void> {
  const response = await fetch(`${leader.restUrl}/config`, {
    method: 'PATCH', body: JSON.stringify({ synchronous_mode_strict: strict }), headers: { connection: 'close', ...restApiAuthorization() },
  });
  expect(response.status).toBe(200);
}

test('every replica lost under synchronousModeStrict: a write waits, unacknowledged and invisible, and commits once a replica is back; a cancelled wait is acknowledged unreplicated', () => withLogs(async () => {
  // GIVEN the chart's synchronous_mode_strict (the prop's value, set on the running cluster as a changed bootstrap.dcs is)
  const dcs = parse(patroniChart({ ...CLUSTER, patroni: { synchronousModeStrict: true } }).patroniYml).bootstrap.dcs;
  expect(dcs).toMatchObject({ synchronous_mode: true, synchronous_mode_strict: true });
  const leader = (await cluster.leader())!;
  const replicas = cluster.members.filter(m => m !== leader);
  await setStrict(leader, dcs.synchronous_mode_strict);
  const clients: postgres.Sql[] = [];
  try {
    // WHEN every replica is lost, and Patroni has seen it (synchronous_standby_names '*': any standby, none there)
    await Promise.all(replicas.map(r => r.kill()));
    await waitFor('synchronous_standby_names \'*\'', async () => await memberSql(leader, 'SHOW synchronous_standby_names') === '*', 20_000, 100);
    const client = (onnotice: (notice: postgres.Notice) => void = () => undefined) => {
      // statement_timeout as the reference service sets it: PostgreSQL does not end a wait for a standby on it.
      const sql = postgres(cluster.databaseUrl(leader), { max: 1, onnotice, connection: { statement_timeout: 1_000 } });
      clients.push(sql);
      return sql;
    };
    const id = nextId++;
    let committedAt = 0;
    let failure: unknown;
    const write = client()`INSERT INTO writes (id) VALUES (${id})`.then(() => { committedAt = Date.now(); }, error => { failure = error; });
    // THEN the write is not acknowledged within a client's bound (past statement_timeout), and no other session sees it
    await sleep(3_000);
    expect(committedAt).toBe(0);
    expect(await memberSql(leader, `SELECT count(*) FROM writes WHERE id = ${id}`, 'app')).toBe('0');
    expect(await memberSql(leader, 'SELECT count(*) FROM pg_stat_activity WHERE wait_event = \'SyncRep\'')).toBe('1');
    // A wait cancelled (a cancel request: postgres.js query.cancel(), pg_cancel_backend) ends in a WARNING and an acknowledged, unreplicated commit.
    const notices: string[] = [];
    const cancelled = nextId++;
    const query = client(n => notices.push(n.message))`INSERT INTO writes (id) VALUES (${cancelled})`.execute();
    await waitFor('the second write to wait for a standby', async () => await memberSql(leader, 'SELECT count(*) FROM pg_stat_activity WHERE wait_event = \'SyncRep\'') === '2', 5_000, 50);
    query.cancel();
    await withTimeout(query, 5_000);
    expect(notices).toEqual(['canceling wait for synchronous replication due to user request']);
    expect(await memberSql(leader, `SELECT count(*) FROM writes WHERE id = ${cancelled}`, 'app')).toBe('1');
    // WHEN a replica is back, THEN the waiting write commits, and it is on the replica
    const restartedAt = Date.now();
    replicas[0].start();
    await withTimeout(write, 60_000);
    expect(failure).toBeUndefined();
    await waitFor('the write on the replica', async () => await memberSql(replicas[0], `SELECT count(*) FROM writes WHERE id IN (${id}, ${cancelled})`, 'app') === '2', 10_000, 100);
    process.stdout.write(`patroni strict, every replica lost: the write waited ${((committedAt - restartedAt) / 1000).toFixed(1)} s after a replica's restart, then committed and was on it\n`);
  } finally {
    await Promise.all(clients.map(sql => sql.end({ timeout: 0 })));
    replicas.filter(r => !r.running()).forEach(r => r.start());
    await setStrict(leader, false);
  }
}));
