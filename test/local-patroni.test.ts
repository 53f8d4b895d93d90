import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { DEFAULT_PATRONI_TIMING, worstCasePromotionSeconds } from '../lib/postgres/patroni-conf';
import { REPO_ROOT } from '../local/images';
import { LocalStack } from '../local/stack';
import { leaderDownWhilePaused, synthPatroniChart, unparsableMetrics, waitHealthy } from './support/local-patroni';
import { patroniMembers, StackUnderTest } from './support/local-stack';
import { waitFor } from './support/processes';

/*
 * A chart whose PgReplicaSet runs Patroni, on the local stack (npm run local): Patroni from the
 * chart's own patroni.yml with the test control plane's Kubernetes API as its store, the -rw
 * forwarder following the leader. With Patroni paused, its leader's pod stays down for 60 s under
 * the mixed load through nginx. (The kill -9 of the leader, asynchronous and synchronous, runs on
 * the production chart, whose engine is Patroni too: test/local-stack.test.ts.) Figures go to
 * .local/patroni-failover-figures.json for docs/postgres-failover.md.
 */

jest.setTimeout(300_000);

const CHART = 'patroni';
/** Every process's whole output, kept after the run (the last run's only) to tell a slow failover's cause. */
const LOG_DIR = join(REPO_ROOT, '.local', 'logs', 'local-patroni');
let dir: string;
let stack: LocalStack;
let t: StackUnderTest;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hscale-patroni-local-'));
  synthPatroniChart(join(dir, 'dist'), CHART);
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true, mode: 0o755 });
  stack = await LocalStack.start({ chart: CHART, distDir: join(dir, 'dist'), apiInstances: 2, stateFile: join(dir, 'state.json'), logDir: LOG_DIR });
  t = new StackUnderTest(stack, 'patroni-failover-figures.json');
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  t?.writeFigures();
});

test('every member runs Patroni from the chart\'s config, the state file names each member\'s REST port, and -rw forwards to the leader', async () => {
  const leader = await waitHealthy(stack, false);
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
    processes: Array<{ role: string; pod?: string; ports: Record<string, number>; service?: string; targets?: string[] }>;
  };
  const members = state.processes.filter(p => p.role === 'app-db');
  expect(members.map(m => [m.pod, m.ports.patroni])).toEqual(patroniMembers(stack).map(m => [m.pod.name, m.pod.namedPort('patroni')]));
  expect(members).toHaveLength(3);
  const rw = [...stack.cluster.forwarders.values()].find(f => f.service === `${CHART}-app-db-rw.${CHART}`)!;
  await waitFor('-rw to forward to the leader', async () => rw.targetPods.join() === leader.pod.name, 10_000, 100);
  // Every member's GET /metrics is all numbers, the replicas' timeline included (Prometheus refuses a scrape with one that is not).
  const unparsable = await Promise.all(patroniMembers(stack).map(async m => [m.pod.name, await unparsableMetrics(m)]));
  expect(unparsable).toEqual(patroniMembers(stack).map(m => [m.pod.name, []]));
});

test('with Patroni paused, the leader\'s pod down for 60 s under load: every read answered and every API instance ready throughout, every write refused; after the resume a replica leads and nothing acknowledged is lost', async () => {
  const outage = await leaderDownWhilePaused(t, 60);
  process.stdout.write(`local patroni leader down 60 s, paused: ${JSON.stringify(outage)}\n`);
  expect(outage.failedReads).toBe(0);
  expect(outage.readsDuringOutage).toBeGreaterThan(0);
  expect(outage.readiness).toEqual(stack.apiProcesses().map(() => 200));
  expect(outage.writesAcknowledgedDuringOutage).toBe(0);
  expect(Object.keys(outage.failedWritesDuringOutage)).toEqual(['503']);
  expect(outage.newLeaderSeconds).toBeLessThan(worstCasePromotionSeconds(DEFAULT_PATRONI_TIMING));
  expect(outage.firstAcknowledgedWriteSeconds).not.toBeNull();
  expect(outage).toMatchObject({ lost: 0, duplicated: 0, exited: [] });
});
