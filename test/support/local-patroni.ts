import { App, Chart } from 'cdk8s';
import { referenceSecretEnv, REFERENCE_IMAGE } from '../../charts/reference-service';
import { HorizontalScalingTopology, PodSecurityNamespace } from '../../lib';
import { worstCasePromotionSeconds } from '../../lib/postgres/patroni-conf';
import { LocalProcess } from '../../local/containers';
import { restStatus } from '../../local/patroni';
import { LocalStack } from '../../local/stack';
import { LoadReport } from './load';
import { patroniMembers, StackUnderTest } from './local-stack';
import { waitFor } from './processes';

/** The member that answers 200 on Patroni's GET /primary, if exactly one does. */
export async function patroniLeader(stack: LocalStack): Promise<LocalProcess | undefined> {
  const members = patroniMembers(stack);
  const codes = await Promise.all(members.map(m => restStatus(m.pod, '/primary')));
  const leaders = members.filter((_, i) => codes[i] === 200);
  return leaders.length === 1 ? leaders[0] : undefined;
}

/** GET /cluster of a member: each member's name and role (`leader`, `sync_standby`, `replica`). */
async function clusterRoles(member: LocalProcess): Promise<Array<{ name: string; role: string; state: string }>> {
  const response = await fetch(`http://127.0.0.1:${member.pod.namedPort('patroni')}/cluster`, { signal: AbortSignal.timeout(2_000), headers: { connection: 'close' } });
  return ((await response.json()) as { members: Array<{ name: string; role: string; state: string }> }).members;
}

/**
 * The sample lines of a member's GET /metrics whose value is not a number (Prometheus refuses the
 * whole scrape for one): Patroni 3.0.2 writes `None` for a replica's timeline when it cannot ask its
 * own PostgreSQL for it over a replication connection.
 */
export async function unparsableMetrics(member: LocalProcess): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${member.pod.namedPort('patroni')}/metrics`, { signal: AbortSignal.timeout(2_000), headers: { connection: 'close' } });
  const samples = (await response.text()).split('\n').filter(line => line && !line.startsWith('#'));
  return samples.filter(line => !/\s[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|NaN|[-+]?Inf)$/.test(line));
}

/** A leader, every other member streaming from it, and in synchronous mode a synchronous standby. */
export async function waitHealthy(stack: LocalStack, synchronous: boolean): Promise<LocalProcess> {
  return waitFor(`a leader with every other member a ${synchronous ? 'replica and one a synchronous standby' : 'replica'}`, async () => {
    const leader = await patroniLeader(stack);
    if (!leader) return undefined;
    const replicaCodes = await Promise.all(patroniMembers(stack).filter(m => m !== leader).map(m => restStatus(m.pod, '/replica')));
    const roles = await clusterRoles(leader);
    const healthy = replicaCodes.every(code => code === 200) && (!synchronous || roles.some(r => r.role === 'sync_standby'));
    return healthy ? leader : undefined;
  }, 120_000, 250);
}

/** The basic auth of the REST API's unsafe endpoints, from the member's env (the credentials Secret's `restapi-*` keys, as patronictl in the pod reads them). */
function restAuthorization(member: LocalProcess): Record<string, string> {
  const { PATRONI_RESTAPI_USERNAME: user, PATRONI_RESTAPI_PASSWORD: password } = member.env;
  if (!user || !password) throw new Error(`${member.pod.name} has no PATRONI_RESTAPI_USERNAME/PASSWORD: the chart gives its REST API no credentials`);
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** Turns Patroni's synchronous_mode on or off for the cluster, as `patronictl edit-config` does (PATCH /config). */
export async function setSynchronousMode(stack: LocalStack, on: boolean): Promise<void> {
  const leader = await waitHealthy(stack, false);
  const response = await fetch(`http://127.0.0.1:${leader.pod.namedPort('patroni')}/config`, {
    method: 'PATCH', body: JSON.stringify({ synchronous_mode: on }), headers: { 'content-type': 'application/json', 'connection': 'close', ...restAuthorization(leader) },
  });
  if (!response.ok) throw new Error(`PATCH /config synchronous_mode=${on}: ${response.status} ${await response.text()}`);
  await waitHealthy(stack, on);
}

/** What a kill -9 of the leader under load did, in seconds from the kill. */
export interface LeaderKill {
  readonly synchronous: boolean;
  /** Until another member answered 200 on GET /primary. */
  readonly newLeaderSeconds: number;
  /** Until the first write sent after the kill was acknowledged through nginx. */
  readonly firstAcknowledgedWriteSeconds: number;
  readonly failedWrites: number;
  /** Failed writes sent after the first acknowledged write, or answered before the kill: none is allowed. */
  readonly failedWritesOutsideWindow: number;
  readonly failedReads: number;
  readonly acknowledgedWrites: number;
  /** Acknowledged writes not on the new leader. */
  readonly lost: number;
  readonly duplicated: number;
  /** API instances and workers that exited. */
  readonly exited: string[];
  /** Until the old leader, started again, answered /readiness as a replica. */
  readonly rejoinSeconds: number;
}

const DEFAULT_TIMING = { ttl: 5, loopWait: 1, retryTimeout: 2 };

/** The checks of a leader's kill -9 at Patroni's default timing: promoted in time, writes failed only until the first acknowledged one, no read failed, no API exited. */
export function expectSurvived(kill: LeaderKill): void {
  expect(kill.newLeaderSeconds).toBeLessThan(worstCasePromotionSeconds(DEFAULT_TIMING));
  expect(kill.firstAcknowledgedWriteSeconds).toBeLessThan(worstCasePromotionSeconds(DEFAULT_TIMING) + 3);
  expect(kill.failedWritesOutsideWindow).toBe(0);
  expect(kill.failedReads).toBe(0);
  expect(kill.duplicated).toBe(0);
  expect(kill.exited).toEqual([]);
}

/** The load's figures around a kill at `killedAt`. */
function windowOf(report: LoadReport, killedAt: number) {
  const firstAckAt = Math.min(...report.acknowledgedAt.filter(a => a.sentAt >= killedAt).map(a => a.at));
  const writes = report.failures.filter(f => f.kind === 'write');
  return {
    firstAcknowledgedWriteSeconds: (firstAckAt - killedAt) / 1000,
    failedWrites: writes.length,
    failedWritesOutsideWindow: writes.filter(f => f.at < killedAt || f.sentAt > firstAckAt).length,
    failedReads: report.failures.filter(f => f.kind !== 'write').length,
    acknowledgedWrites: report.acknowledged.size,
  };
}

/**
 * kill -9 of the leader's pod (Patroni, PostgreSQL and the exporter) under the mixed load through
 * nginx, with Patroni's synchronous_mode on or off; measures until a replica leads and a write is
 * acknowledged again, counts failed requests and lost writes, then starts the old leader's pod
 * again and times until it serves as a replica. Leaves the stack healthy, with `t.primary` the new leader.
 */
export async function killLeaderUnderLoad(t: StackUnderTest, synchronous: boolean): Promise<LeaderKill> {
  await setSynchronousMode(t.stack, synchronous);
  const old = await waitHealthy(t.stack, synchronous);
  let killedAt = 0;
  let newLeader: LocalProcess | undefined;
  const name = `kill -9 of the Patroni leader, ${synchronous ? 'synchronous' : 'asynchronous'} replication`;
  const report = await t.underLoad(name, async () => {
    killedAt = await t.stack.killPod(old.pod);
    newLeader = await waitFor('another member to lead', async () => {
      const leader = await patroniLeader(t.stack);
      return leader !== old ? leader : undefined;
    }, 60_000, 100);
    return { newLeaderSeconds: (Date.now() - killedAt) / 1000 };
  });
  t.primary = () => newLeader!;
  const outcome = await t.databaseAgainstAcknowledged(newLeader);
  const restartedAt = Date.now();
  await t.stack.restartPod(old.pod);
  const kill: LeaderKill = {
    synchronous, ...(report.measured as { newLeaderSeconds: number }), ...windowOf(report, killedAt),
    lost: outcome.lost, duplicated: outcome.duplicated, exited: t.exitedServices(), rejoinSeconds: (Date.now() - restartedAt) / 1000,
  };
  t.figures[name] = { ...t.figures[name], ...kill };
  return kill;
}

/**
 * Writes `<dir>/<name>.k8s.yaml`: the topology of the production chart (nginx, the reference
 * service on 3 to 20 pods behind TLS, a standalone Redis) on a PgReplicaSet of the patroni engine with 2
 * replicas, as `npm run synth` writes a chart to dist/.
 */
export function synthPatroniChart(dir: string, name = 'patroni'): void {
  const app = new App({ outdir: dir });
  const chart = new Chart(app, name, { namespace: name });
  new PodSecurityNamespace(chart, 'namespace');
  new HorizontalScalingTopology(chart, 'app', {
    image: REFERENCE_IMAGE,
    api: { secretEnv: referenceSecretEnv(chart) },
    database: { engine: 'patroni', replicas: 2 },
    cache: { mode: 'standalone', maxmemoryPolicy: 'allkeys-lru' },
    loadBalancer: { tls: { secretName: `${name}-tls` } },
    observability: false,
  });
  app.synth();
}
