import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { request as httpsRequest } from 'https';
import { tmpdir } from 'os';
import { join } from 'path';
import { LocalProcess } from '../local/containers';
import { LocalStack } from '../local/stack';
import { failureSummary, LoadReport } from './support/load';
import { StackUnderTest } from './support/local-stack';
import { sleep, waitFor } from './support/processes';

/*
 * The production chart's topology on loopback (npm run local), under a steady mixed load through
 * nginx, with one fault at a time. The tests run in order on one stack: each leaves it whole
 * again, except the last two, which fail the primary over. Measured figures go to
 * .local/failure-figures.json for docs/local-stack.md.
 */

jest.setTimeout(240_000);

let stack: LocalStack;
let t: StackUnderTest;
let stateFile: string;

beforeAll(async () => {
  stateFile = join(mkdtempSync(join(tmpdir(), 'hscale-state-')), 'state.json');
  stack = await LocalStack.start({ apiInstances: 3, stateFile });
  t = new StackUnderTest(stack, 'failure-figures.json');
});

afterAll(async () => {
  await stack?.stop();
  rmSync(join(stateFile, '..'), { recursive: true, force: true });
  t?.writeFigures();
});

const failed = (report: LoadReport, kinds: string[] = ['write', 'read', 'read-with-token']) =>
  report.failures.filter(f => kinds.includes(f.kind));

test('npm run local wrote a state file with every process, its pid, ports and data dir', () => {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { processes: Array<{ role: string; pid: number; dataDir?: string }> };
  const roles = state.processes.map(p => p.role).sort();
  expect(roles.filter(r => r === 'api')).toHaveLength(3);
  expect(roles).toEqual(expect.arrayContaining(['db-primary', 'db-replica', 'cache', 'jobs', 'lb', 'lb/exporter', 'prometheus', 'service']));
  expect(roles.filter(r => r === 'cache')).toHaveLength(6);
  for (const p of state.processes.filter(p => p.role !== 'service')) {
    expect(() => process.kill(p.pid, 0)).not.toThrow();
    expect(existsSync(p.dataDir!)).toBe(true);
  }
});

/** A POST of an item through nginx (TLS, self-signed), with `token` as the bearer token when given; resolves with the status. */
function postThroughLoadBalancer(token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ name: `token-check-${Date.now()}` });
    const req = httpsRequest({
      host: '127.0.0.1', port: t.lbPort(), method: 'POST', path: '/api/v1/items', rejectUnauthorized: false, servername: 'localhost', timeout: 10_000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, res => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

test('the state file holds a write token the API takes through nginx; without it a write is refused', async () => {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { tokens: { write?: string } };
  expect(state.tokens.write).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  expect(await postThroughLoadBalancer(state.tokens.write)).toBe(201);
  expect(await postThroughLoadBalancer()).toBe(401);
});

/** Requests the instance has served on the items routes (its own counter, which starts at 0 when it starts). */
async function itemRequestsServed(instance: LocalProcess): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${instance.pod.namedPort('http')}/metrics`).then(r => r.text());
  return [...text.matchAll(/^http_requests_total\{[^}]*route="\/api\/v1\/items[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * Restarts a stopped instance and waits until nginx sends it requests again; returns the seconds
 * to ready and to back in rotation. nginx keeps an address it saw fail out for `fail_timeout`
 * (10 s), even once the process is back: on Kubernetes a new pod has a new address, here it has
 * the same one.
 */
async function restartIntoRotation(instance: LocalProcess): Promise<{ readySeconds: number; inRotationSeconds: number }> {
  const started = Date.now();
  await stack.restart(instance);
  const readySeconds = (Date.now() - started) / 1000;
  await waitFor(`${instance.pod.name} back in rotation`, async () => (await itemRequestsServed(instance)) > 0, 30_000, 250);
  return { readySeconds, inRotationSeconds: (Date.now() - started) / 1000 };
}

test('kill -9 of one API instance, then its restart: zero failed requests, every write stored once, and it serves again', async () => {
  const victim = stack.ofRole('api')[0];
  const report = await t.underLoad('kill -9 one API instance', async () => {
    await stack.kill(victim, 'SIGKILL');
    await sleep(3_000);
    return restartIntoRotation(victim);
  });
  // nginx resends even a write in flight on the killed instance: its Idempotency-Key lets the API store it once.
  expect(failed(report)).toEqual([]);
  expect(await itemRequestsServed(victim)).toBeGreaterThan(0);
  await t.expectDatabaseAgrees();
});

test('rolling SIGTERM restart of every API instance, each back in rotation before the next: zero failed requests', async () => {
  const report = await t.underLoad('rolling SIGTERM restart', async () => {
    const instances: object[] = [];
    for (const instance of stack.ofRole('api')) {
      await stack.kill(instance, 'SIGTERM');
      instances.push(await restartIntoRotation(instance));
    }
    return { instances };
  });
  expect(failureSummary(report)).toEqual({});
  await t.expectDatabaseAgrees();
});

/** The API instance's `db_replica_healthy` gauge for a replica: false once its router has ejected it. */
async function replicaHealthy(api: LocalProcess, replica: LocalProcess): Promise<boolean> {
  const text = await fetch(`http://127.0.0.1:${api.pod.namedPort('http')}/metrics`).then(r => r.text());
  return text.split('\n').includes(`db_replica_healthy{replica="${replica.pod.peerAddress('postgres')}"} 1`);
}

test('one PostgreSQL replica stopped, then all of them: zero failed reads', async () => {
  const replicas = stack.ofRole('db-replica');
  expect(await Promise.all(stack.ofRole('api').map(api => replicaHealthy(api, replicas[0])))).toEqual(stack.ofRole('api').map(() => true));
  const report = await t.underLoad('PostgreSQL replicas stopped', async () => {
    const stoppedAt = Date.now();
    await stack.stopPostgres(replicas[0]);
    await waitFor('every API instance to eject the replica', async () => {
      const states = await Promise.all(stack.ofRole('api').map(api => replicaHealthy(api, replicas[0])));
      return states.every(healthy => !healthy);
    }, 30_000, 50);
    const ejectionSeconds = (Date.now() - stoppedAt) / 1000;
    await sleep(4_000);
    for (const replica of replicas.slice(1)) await stack.stopPostgres(replica);
    await sleep(4_000);
    return { ejectionSeconds };
  });
  expect(failed(report, ['read', 'read-with-token'])).toEqual([]);
  expect(failureSummary(report)).toEqual({});
  for (const replica of replicas) await stack.restart(replica);
  await t.expectDatabaseAgrees();
});

test('Prometheus scrapes every pod, and every alert and dashboard query parses and selects series (or, for failures, its labels)', async () => {
  // A job for the worker, so its counters exist.
  await t.expectWorkerTakes('job-1');
  const targets = await t.expectEveryTargetUp('Prometheus on the stack');
  // Every pod but the Jobs' and the queue's Sentinels (which have no exporter; their Redis pods do) is scraped.
  const scraped = stack.cluster.pods.filter(p => p.workload.kind !== 'Job' && p.workload.labels['app.kubernetes.io/name'] !== 'redis-sentinel');
  expect(targets).toBe(scraped.length);
  const { unparsed, empty, quiet } = await t.chartQueries();
  t.figures['Prometheus on the stack'] = { ...t.figures['Prometheus on the stack'], quietSelectors: quiet };
  expect(unparsed).toEqual([]);
  expect(empty).toEqual([]);
});

test('a Redis Cluster master killed: zero 5xx, and the worker still takes jobs', async () => {
  const cache = stack.ofRole('cache');
  const roles = await Promise.all(cache.map(node => t.redisCli(node, ['role'])));
  const victim = cache[roles.findIndex(role => role.startsWith('master'))];
  const witness = cache.find(n => n !== victim)!;
  const victimId = (await t.redisCli(victim, ['cluster', 'myid'])).trim();
  const report = await t.underLoad('Redis master killed', async () => {
    const killedAt = Date.now();
    await stack.kill(victim, 'SIGKILL');
    await waitFor('the cluster to fail the master over', async () => {
      const line = (await t.redisCli(witness, ['cluster', 'nodes'])).split('\n').find(l => l.startsWith(victimId)) ?? '';
      return /\bfail\b/.test(line) && (await t.redisCli(witness, ['cluster', 'info'])).includes('cluster_state:ok');
    }, 30_000, 100);
    return { failoverSeconds: (Date.now() - killedAt) / 1000 };
  });
  expect(report.failures.filter(f => typeof f.status !== 'number' || f.status >= 500)).toEqual([]);
  await stack.restart(victim);
  await t.expectWorkerTakes('job-2');
  await t.expectDatabaseAgrees();
});

/** The runbook (docs/runbooks/pg-failover.md), steps 1-5, on loopback; returns the promoted replica. */
async function promoteByRunbook(): Promise<{ promoted: LocalProcess; seconds: number }> {
  const started = Date.now();
  const old = t.primary();
  // 1. The old primary is down and stays down (the test crashed it already; make sure).
  await stack.stopPostgres(old, 'immediate').catch(() => undefined);
  // 2. The replica that has replayed the most WAL.
  const candidates = stack.ofRole('db-replica').filter(r => r !== old && r.child.exitCode === null);
  const lsns = await Promise.all(candidates.map(async r => ({ r, lsn: await stack.psql(r, "select pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')") })));
  const promoted = lsns.sort((a, b) => Number(b.lsn) - Number(a.lsn))[0].r;
  // 3. Promote it and clear synchronous_standby_names.
  await stack.psql(promoted, 'select pg_promote(wait => true)');
  await stack.psql(promoted, "alter system set synchronous_standby_names = ''");
  await stack.psql(promoted, 'select pg_reload_conf()');
  // 4. Repoint -rw at it.
  const rw = [...stack.cluster.forwarders.values()].find(f => f.service.startsWith(`${stack.chart.name}-db-rw.`))!;
  stack.cluster.repoint(rw.service, promoted.pod.name);
  const seconds = (Date.now() - started) / 1000;
  // 5. A slot for each other replica on the new primary, then restart them to follow it.
  for (const other of candidates.filter(r => r !== promoted)) {
    await stack.psql(promoted, `select pg_create_physical_replication_slot('${other.pod.name.replace(/-/g, '_')}')`);
    await stack.stopPostgres(other);
    await stack.restart(other);
  }
  t.primary = () => promoted;
  return { promoted, seconds };
}

/** Crashes the primary under load and promotes by the runbook; checks reads never fail and writes fail only in between. */
async function failOverUnderLoad(name: string): Promise<{ lost: number; duplicated: number; unacknowledged: number }> {
  let crashedAt = 0;
  let promotedAt = 0;
  const report = await t.underLoad(name, async () => {
    crashedAt = Date.now();
    await stack.stopPostgres(t.primary(), 'immediate');
    await sleep(2_000);
    const { seconds } = await promoteByRunbook();
    promotedAt = Date.now();
    return { promotionSeconds: seconds };
  });
  const writeFailures = failed(report, ['write']).map(f => (f.at - crashedAt) / 1000);
  const outcome = await t.databaseAgainstAcknowledged();
  t.figures[name] = { ...t.figures[name], ...outcome, writeFailuresFromSecond: Math.min(...writeFailures), writeFailuresToSecond: Math.max(...writeFailures) };
  expect(failed(report, ['read', 'read-with-token'])).toEqual([]);
  // A write in flight at the crash fails as it comes back; none fails once the pools have reconnected to the promoted one.
  const secondsAfterCrash = (at: number) => (at - crashedAt) / 1000;
  const late = report.failures.filter(f => f.at < crashedAt || f.at > promotedAt + 3_000).map(f => ({
    kind: f.kind, status: f.status, sent: secondsAfterCrash(f.sentAt), failed: secondsAfterCrash(f.at), promoted: secondsAfterCrash(promotedAt),
  }));
  expect(late).toEqual([]);
  t.expectServicesRunning();
  return outcome;
}

test('the primary crashes and a replica is promoted by the runbook (asynchronous replication): reads never fail, writes only until the promotion; losses reported', async () => {
  const outcome = await failOverUnderLoad('primary failover, asynchronous replication');
  expect(outcome.duplicated).toBe(0);
});

test('with synchronous replication, the primary crashes and the sync replica is promoted: zero acknowledged writes lost', async () => {
  // What PgReplicaSet renders with synchronousReplicas: 1, set on the running primary.
  const standbys = stack.ofRole('db-replica').filter(r => r !== t.primary() && r.child.exitCode === null);
  await stack.psql(t.primary(), `alter system set synchronous_standby_names = 'ANY 1 (${standbys.map(r => r.pod.name.replace(/-/g, '_')).join(', ')})'`);
  await stack.psql(t.primary(), 'select pg_reload_conf()');
  await waitFor('a synchronous standby', async () => (await stack.psql(t.primary(), "select count(*) from pg_stat_replication where sync_state in ('sync', 'quorum')")) === '1');
  const outcome = await failOverUnderLoad('primary failover, synchronous replication');
  expect(outcome).toEqual(expect.objectContaining({ lost: 0, duplicated: 0 }));
});
