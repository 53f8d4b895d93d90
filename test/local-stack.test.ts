import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { request as httpsRequest } from 'https';
import { tmpdir } from 'os';
import { join } from 'path';
import { LocalProcess } from '../local/containers';
import { REPO_ROOT } from '../local/images';
import { LocalStack } from '../local/stack';
import { failureSummary, LoadReport } from './support/load';
import { expectSurvived, killLeaderUnderLoad, waitHealthy } from './support/local-patroni';
import { patroniMembers, StackUnderTest } from './support/local-stack';
import { sleep, waitFor } from './support/processes';

/*
 * The production chart's topology on loopback (npm run local), under a steady mixed load through
 * nginx, with one fault at a time. Its PostgreSQL runs Patroni (the default engine), with the test
 * control plane's Kubernetes API as its store. The tests run in order on one stack: each leaves it
 * whole again, the last two with another member leading. Measured figures go to
 * .local/failure-figures.json for docs/local-stack.md.
 */

jest.setTimeout(240_000);

let stack: LocalStack;
let t: StackUnderTest;
let stateFile: string;
/** Every process's whole output, kept after the run (the last run's only) to tell a slow failover's cause. */
const LOG_DIR = join(REPO_ROOT, '.local', 'logs', 'local-stack');

beforeAll(async () => {
  stateFile = join(mkdtempSync(join(tmpdir(), 'hscale-state-')), 'state.json');
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true, mode: 0o755 });
  stack = await LocalStack.start({ apiInstances: 3, stateFile, logDir: LOG_DIR });
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
  expect(roles).toEqual(expect.arrayContaining(['db', 'db/exporter', 'cache', 'jobs', 'lb', 'lb/exporter', 'prometheus', 'service']));
  expect(roles.filter(r => r === 'cache')).toHaveLength(6);
  // The Patroni members: the leader and 2 replicas.
  expect(roles.filter(r => r === 'db')).toHaveLength(3);
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

test('one PostgreSQL replica\'s pod killed, then all of them: zero failed reads', async () => {
  // The members that are replicas now (Patroni would restart a PostgreSQL stopped alone, so the whole pod goes).
  const leader = await waitHealthy(stack, false);
  const replicas = patroniMembers(stack).filter(m => m !== leader);
  await waitFor('every API instance to read from the first replica', async () =>
    (await Promise.all(stack.ofRole('api').map(api => replicaHealthy(api, replicas[0])))).every(Boolean), 30_000, 250);
  const report = await t.underLoad('PostgreSQL replicas killed', async () => {
    const stoppedAt = await stack.killPod(replicas[0].pod);
    await waitFor('every API instance to eject the replica', async () => {
      const states = await Promise.all(stack.ofRole('api').map(api => replicaHealthy(api, replicas[0])));
      return states.every(healthy => !healthy);
    }, 30_000, 50);
    const ejectionSeconds = (Date.now() - stoppedAt) / 1000;
    await sleep(4_000);
    for (const replica of replicas.slice(1)) await stack.killPod(replica.pod);
    await sleep(4_000);
    return { ejectionSeconds };
  });
  expect(failed(report, ['read', 'read-with-token'])).toEqual([]);
  expect(failureSummary(report)).toEqual({});
  for (const replica of replicas) await stack.restartPod(replica.pod);
  expect(await waitHealthy(stack, false)).toBe(leader);
  await t.expectDatabaseAgrees();
});

test('Prometheus scrapes every pod, and every alert and dashboard query parses and selects series (or, for failures, its labels)', async () => {
  // A job for the worker, so its counters exist.
  await t.expectWorkerTakes('job-1');
  const targets = await t.expectEveryTargetUp('Prometheus on the stack');
  // Every pod but the Jobs' and the queue's Sentinels (which have no exporter; their Redis pods do) is scraped.
  const scraped = stack.cluster.pods.filter(p => p.workload.kind !== 'Job' && p.workload.labels['app.kubernetes.io/name'] !== 'redis-sentinel');
  // A Patroni member twice: postgres_exporter, and Patroni's REST /metrics.
  expect(targets).toBe(scraped.length + patroniMembers(stack).length);
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

test('kill -9 of the PostgreSQL leader\'s pod (asynchronous replication): Patroni promotes a replica with no human step, reads never fail, writes only until then; losses reported', async () => {
  const kill = await killLeaderUnderLoad(t, false);
  process.stdout.write(`local-stack patroni kill -9 (async): ${JSON.stringify(kill)}\n`);
  expectSurvived(kill);
});

test('with synchronous_mode, kill -9 of the leader\'s pod: the same, and zero acknowledged writes lost', async () => {
  const kill = await killLeaderUnderLoad(t, true);
  process.stdout.write(`local-stack patroni kill -9 (sync): ${JSON.stringify(kill)}\n`);
  expectSurvived(kill);
  expect(kill.lost).toBe(0);
});
