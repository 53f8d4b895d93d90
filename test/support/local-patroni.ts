import { App, Chart } from 'cdk8s';
import { referenceSecretEnv, REFERENCE_IMAGE } from '../../charts/reference-service';
import { HorizontalScalingTopology, PodSecurityNamespace } from '../../lib';
import { DEFAULT_PATRONI_TIMING, worstCasePromotionSeconds } from '../../lib/postgres/patroni-conf';
import { LocalProcess } from '../../local/containers';
import { restStatus } from '../../local/patroni';
import { LocalStack } from '../../local/stack';
import { CauseCount, failureCauses, leaderMilestones } from './failover-log';
import { LoadReport, MixedLoad } from './load';
import { patroniMembers, StackUnderTest } from './local-stack';
import { sleep, waitFor } from './processes';

/** The member that answers 200 on Patroni's GET /primary, if exactly one does. */
async function patroniLeader(stack: LocalStack): Promise<LocalProcess | undefined> {
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

/** Patches the cluster's dynamic configuration through `member`'s REST API, as `patronictl edit-config`, `pause` and `resume` do (PATCH /config). */
async function patchClusterConfig(member: LocalProcess, patch: Record<string, unknown>): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${member.pod.namedPort('patroni')}/config`, {
    method: 'PATCH', body: JSON.stringify(patch), headers: { 'content-type': 'application/json', 'connection': 'close', ...restAuthorization(member) },
  });
  if (!response.ok) throw new Error(`PATCH /config ${JSON.stringify(patch)} on ${member.pod.name}: ${response.status} ${await response.text()}`);
}

/** Turns Patroni's synchronous_mode on or off for the cluster, as `patronictl edit-config` does; resolves with the leader once healthy in that mode. */
export async function setSynchronousMode(stack: LocalStack, on: boolean): Promise<LocalProcess> {
  await patchClusterConfig(await waitHealthy(stack, false), { synchronous_mode: on });
  return waitHealthy(stack, on);
}

/** What a kill -9 of the leader under load did, in seconds from the kill. */
export interface LeaderKill {
  readonly synchronous: boolean;
  /** Until another member answered 200 on GET /primary. */
  readonly newLeaderSeconds: number;
  /** Until the first write sent after the kill was acknowledged through nginx; null when none was while the load ran. */
  readonly firstAcknowledgedWriteSeconds: number | null;
  /** How long the load ran after the kill: the window a write had to be acknowledged in. */
  readonly loadAfterKillSeconds: number;
  /** The writes sent after the kill that failed, by HTTP status or error code. */
  readonly failedWritesAfterKill: Record<string, number>;
  /** Why the API instances answered 5xx while the load ran after the kill, by the error they logged (its cause). */
  readonly failureCauses: Record<string, CauseCount>;
  /** The new leader's log lines on its way to leading (lock, promotion, end of recovery, synchronous standby), in seconds from the kill. */
  readonly newLeaderLog: string[];
  /** The role label changes the -rw and -ro forwarders followed while the load ran, in seconds from the kill (`+5.31 s patroni-app-db-1 master`). */
  readonly roleChanges: string[];
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
  /** Until every API instance read from it again (its replica check found it in recovery, caught up). */
  readonly servingReadsSeconds: number;
  /** The service processes' replica-pool connections on the new leader once they found it leading, and how many processes hold a pool. */
  readonly replicaPoolConnections: { readonly onNewLeader: number; readonly serviceProcesses: number };
}

/** The latest first acknowledged write after a kill that {@link expectSurvived} accepts, in seconds from the kill. */
const FIRST_WRITE_BOUND_SECONDS = worstCasePromotionSeconds(DEFAULT_PATRONI_TIMING) + 3;

/** The checks of a leader's kill -9 at Patroni's default timing: promoted in time, writes failed only until the first acknowledged one, no read failed, no API exited. */
export function expectSurvived(kill: LeaderKill): void {
  expect(kill.newLeaderSeconds).toBeLessThan(worstCasePromotionSeconds(DEFAULT_PATRONI_TIMING));
  if (kill.firstAcknowledgedWriteSeconds === null) throw new Error(noWriteAcknowledged(kill));
  if (kill.firstAcknowledgedWriteSeconds >= FIRST_WRITE_BOUND_SECONDS) {
    throw new Error(`the first write sent after the kill was acknowledged ${kill.firstAcknowledgedWriteSeconds.toFixed(1)} s after it, not within ${FIRST_WRITE_BOUND_SECONDS} s `
      + `(a new leader answered GET /primary after ${kill.newLeaderSeconds.toFixed(1)} s): ${whyWritesFailed(kill)}`);
  }
  expect(kill.failedWritesOutsideWindow).toBe(0);
  expect(kill.failedReads).toBe(0);
  expect(kill.duplicated).toBe(0);
  expect(kill.exited).toEqual([]);
  expect(kill.replicaPoolConnections.onNewLeader).toBeLessThanOrEqual(kill.replicaPoolConnections.serviceProcesses);
}

/** Why a kill fails when no write sent after it was acknowledged, with the counts that say what happened instead. */
export function noWriteAcknowledged(kill: LeaderKill): string {
  const failed = Object.entries(kill.failedWritesAfterKill).sort(([, a], [, b]) => b - a).map(([status, n]) => `${n} × ${status}`).join(', ') || 'none';
  return `no write sent after the kill of the ${kill.synchronous ? 'synchronous' : 'asynchronous'} leader was acknowledged in the `
    + `${kill.loadAfterKillSeconds.toFixed(1)} s the load ran after it (a new leader answered GET /primary after ${kill.newLeaderSeconds.toFixed(1)} s): `
    + `writes failed after the kill: ${failed}; the ${kill.acknowledgedWrites} acknowledged writes were all sent before it; ${kill.failedReads} reads failed; `
    + whyWritesFailed(kill);
}

/** What the API instances and the new leader logged after the kill: why writes failed, and when the leader promoted and named a synchronous standby. */
function whyWritesFailed(kill: LeaderKill): string {
  const causes = Object.entries(kill.failureCauses).sort(([, a], [, b]) => b.count - a.count)
    .map(([cause, c]) => `${c.count} × ${cause} (+${c.firstSeconds.toFixed(1)} to +${c.lastSeconds.toFixed(1)} s)`).join('; ') || 'none logged';
  return `the API instances' 5xx causes: ${causes}; the role labels -rw followed: ${kill.roleChanges.join(', ') || 'no change'}; `
    + `the new leader's log: ${kill.newLeaderLog.join(' | ') || 'nothing'}`;
}

/** The read target naming `member` in the services' POSTGRES_READ_REPLICAS, which lists every member in pod order. */
function readTargetOf(t: StackUnderTest, member: LocalProcess): string {
  return t.stack.apiProcesses()[0].env.POSTGRES_READ_REPLICAS.split(',')[Number(member.pod.name.split('-').pop())];
}

/** Waits until every API instance's replication status has `member` as `wanted` says; resolves with when. */
async function untilEveryApi(t: StackUnderTest, member: LocalProcess, what: string, wanted: (s: { healthy: boolean; leading: boolean }) => boolean, timeoutMs: number): Promise<number> {
  const target = readTargetOf(t, member);
  await waitFor(`every API instance to find ${member.pod.name} ${what}`, async () => {
    const states = await Promise.all(t.stack.apiProcesses().map(async api => {
      const response = await fetch(`http://127.0.0.1:${api.pod.namedPort('http')}/api/v1/scaling/replication/status`, { signal: AbortSignal.timeout(2_000), headers: { connection: 'close' } });
      return ((await response.json()) as { replicas: Array<{ name: string; healthy: boolean; leading: boolean }> }).replicas.find(r => r.name === target);
    }));
    return states.every(state => state !== undefined && wanted(state));
  }, timeoutMs, 100);
  return Date.now();
}

/** The connections the service processes' replica pools hold on `member` (by their application_name), and how many such processes run. */
async function readTargetConnections(t: StackUnderTest, member: LocalProcess): Promise<LeaderKill['replicaPoolConnections']> {
  const name = `hscale-service/${readTargetOf(t, member)}`;
  const onNewLeader = Number(await t.stack.psql(member, `select count(*) from pg_stat_activity where application_name = '${name}'`));
  return { onNewLeader, serviceProcesses: t.stack.processes.filter(p => p.env.POSTGRES_READ_REPLICAS !== undefined).length };
}

/** The load's failed writes sent when `sent` says, counted by HTTP status or error code. */
function failedWritesByStatus(report: LoadReport, sent: (sentAt: number) => boolean): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of report.failures.filter(w => w.kind === 'write' && sent(w.sentAt))) counts[f.status] = (counts[f.status] ?? 0) + 1;
  return counts;
}

/** The load's figures around a kill at `killedAt`. */
export function killWindow(report: LoadReport, killedAt: number) {
  const acknowledgedAfter = report.acknowledgedAt.filter(a => a.sentAt >= killedAt).map(a => a.at);
  const firstAckAt = acknowledgedAfter.length > 0 ? Math.min(...acknowledgedAfter) : undefined;
  const writes = report.failures.filter(f => f.kind === 'write');
  return {
    firstAcknowledgedWriteSeconds: firstAckAt === undefined ? null : (firstAckAt - killedAt) / 1000,
    loadAfterKillSeconds: (report.stoppedAt - killedAt) / 1000,
    failedWritesAfterKill: failedWritesByStatus(report, sentAt => sentAt >= killedAt),
    failedWrites: writes.length,
    failedWritesOutsideWindow: writes.filter(f => f.at < killedAt || (firstAckAt !== undefined && f.sentAt > firstAckAt)).length,
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
  const old = await setSynchronousMode(t.stack, synchronous);
  let killedAt = 0;
  let newLeader: LocalProcess | undefined;
  const name = `kill -9 of the Patroni leader, ${synchronous ? 'synchronous' : 'asynchronous'} replication`;
  const report = await t.underLoad(name, async load => {
    killedAt = await t.stack.killPod(old.pod);
    newLeader = await waitFor('another member to lead', async () => {
      const leader = await patroniLeader(t.stack);
      return leader !== old ? leader : undefined;
    }, 60_000, 100);
    const newLeaderSeconds = (Date.now() - killedAt) / 1000;
    // The load runs on until a write sent after the kill is acknowledged, up to the bound the checks
    // allow: a fixed 3 s past the new leader cut off a slower first write (synchronous mode, a
    // fresh-clone CI on 2026-12-07: leader after 4.9 s, load stopped at 8.0 s, bound 12.5 s).
    await waitFor('a write sent after the kill to be acknowledged', async () => load.acknowledgedSince(killedAt),
      killedAt + FIRST_WRITE_BOUND_SECONDS * 1000 - Date.now(), 100).catch(() => undefined);
    return { newLeaderSeconds };
  });
  t.primary = () => newLeader!;
  const outcome = await t.databaseAgainstAcknowledged(newLeader);
  // Each service process found the new leader out of recovery and closed its replica pool to it: the check's one connection stays.
  await untilEveryApi(t, newLeader!, 'leading', s => s.leading, 10_000);
  const replicaPoolConnections = await readTargetConnections(t, newLeader!);
  const restartedAt = Date.now();
  await t.stack.restartPod(old.pod);
  const readyAt = Date.now();
  const servingAt = await untilEveryApi(t, old, 'a healthy replica again', s => s.healthy && !s.leading, 30_000);
  const kill: LeaderKill = {
    synchronous, ...(report.measured as { newLeaderSeconds: number }), ...killWindow(report, killedAt),
    failureCauses: failureCauses(t.stack.apiProcesses(), killedAt, report.stoppedAt), newLeaderLog: leaderMilestones(newLeader!, killedAt, report.stoppedAt + 5_000),
    roleChanges: (t.stack.patroniRoles?.changes ?? []).filter(c => c.at >= killedAt && c.at <= report.stoppedAt)
      .map(c => `+${((c.at - killedAt) / 1000).toFixed(2)} s ${c.pod} ${c.role || 'none'}`),
    lost: outcome.lost, duplicated: outcome.duplicated, exited: t.exitedServices(), replicaPoolConnections,
    rejoinSeconds: (readyAt - restartedAt) / 1000, servingReadsSeconds: (servingAt - restartedAt) / 1000,
  };
  t.figures[name] = { ...t.figures[name], ...kill };
  return kill;
}

/** What the leader's pod down under load with Patroni paused (maintenance mode: no member promotes) did, then resumed. */
export interface LeaderlessOutage {
  /** From the kill until the resume: how long no member led. */
  readonly seconds: number;
  /** Reads answered while no member led; reads failed over the whole load. */
  readonly readsDuringOutage: number;
  readonly failedReads: number;
  /** Writes sent while no member led, acknowledged (none may be) and failed by HTTP status or error code. */
  readonly writesAcknowledgedDuringOutage: number;
  readonly failedWritesDuringOutage: Record<string, number>;
  /** Every API instance's readiness status at the end of the outage. */
  readonly readiness: number[];
  /** From the resume until a member led, and until a write sent after the resume was acknowledged. */
  readonly newLeaderSeconds: number;
  readonly firstAcknowledgedWriteSeconds: number | null;
  readonly lost: number;
  readonly duplicated: number;
  readonly exited: string[];
}

/**
 * With Patroni paused (`patronictl pause`: nothing promotes), kill -9 of the leader's pod under the
 * mixed load through nginx, for `seconds`; then `patronictl resume`, which lets a replica lead,
 * and the old leader's pod started again. In synchronous_mode, so that no acknowledged write may be
 * lost by the promotion. Leaves the stack healthy, with `t.primary` the new leader.
 */
export async function leaderDownWhilePaused(t: StackUnderTest, seconds: number): Promise<LeaderlessOutage> {
  const old = await setSynchronousMode(t.stack, true);
  await patchClusterConfig(old, { pause: true });
  const survivor = patroniMembers(t.stack).find(m => m !== old)!;
  let killedAt = 0;
  let resumedAt = 0;
  let newLeader: LocalProcess | undefined;
  const name = `the Patroni leader's pod down ${seconds} s, paused`;
  const report = await t.underLoad(name, async load => {
    killedAt = await t.stack.killPod(old.pod);
    const readsBefore = answeredReads(load);
    await sleep(seconds * 1000);
    const readsDuringOutage = answeredReads(load) - readsBefore;
    const leaderDuringOutage = await patroniLeader(t.stack);
    if (leaderDuringOutage) throw new Error(`${leaderDuringOutage.pod.name} leads although Patroni is paused`);
    const readiness = await Promise.all(t.stack.apiProcesses().map(api => fetch(`http://127.0.0.1:${api.pod.namedPort('http')}/api/v1/scaling/health/readiness`,
      { signal: AbortSignal.timeout(2_000), headers: { connection: 'close' } }).then(r => r.status)));
    resumedAt = Date.now();
    await patchClusterConfig(survivor, { pause: false });
    newLeader = await waitFor('a member to lead after the resume', () => patroniLeader(t.stack), 60_000, 100);
    const newLeaderSeconds = (Date.now() - resumedAt) / 1000;
    await waitFor('a write sent after the resume to be acknowledged', async () => load.acknowledgedSince(resumedAt),
      FIRST_WRITE_BOUND_SECONDS * 1000, 100).catch(() => undefined);
    return { readsDuringOutage, readiness, newLeaderSeconds };
  });
  t.primary = () => newLeader!;
  const outcome = await t.databaseAgainstAcknowledged(newLeader);
  await t.stack.restartPod(old.pod);
  await waitHealthy(t.stack, true);
  const during = (at: number) => at >= killedAt && at < resumedAt;
  const firstAckAt = Math.min(...report.acknowledgedAt.filter(a => a.sentAt >= resumedAt).map(a => a.at));
  const outage: LeaderlessOutage = {
    seconds: (resumedAt - killedAt) / 1000, ...(report.measured as { readsDuringOutage: number; readiness: number[]; newLeaderSeconds: number }),
    failedReads: report.failures.filter(f => f.kind !== 'write').length,
    writesAcknowledgedDuringOutage: report.acknowledgedAt.filter(a => during(a.sentAt)).length, failedWritesDuringOutage: failedWritesByStatus(report, during),
    firstAcknowledgedWriteSeconds: Number.isFinite(firstAckAt) ? (firstAckAt - resumedAt) / 1000 : null,
    lost: outcome.lost, duplicated: outcome.duplicated, exited: t.exitedServices(),
  };
  t.figures[name] = { ...t.figures[name], ...outage };
  return outage;
}

/** The load's reads answered so far, with or without a consistency token. */
function answeredReads(load: MixedLoad): number {
  const answered = load.answered();
  return answered.read + answered['read-with-token'];
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
