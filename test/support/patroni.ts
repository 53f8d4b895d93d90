import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { PgReplicaSet, PgReplicaSetProps } from '../../lib';
import { PatroniTiming } from '../../lib/postgres/patroni-conf';
import { PG_TLS_CHECK_SECONDS, PG_TLS_DIR } from '../../lib/postgres/shared';
import { Manifest } from '../../lib/testing/manifest-checks';
import { KUBECONFIG_CONTEXT, writeServiceAccountKubeconfig } from '../../local/patroni';
import { ControlPlane } from '../../scripts/control-plane/index';
import { forwardTcp, PodNetns, startPodNetwork } from './netns';
import { PG_BIN, pgEnv } from './postgres';
import { freePort, postmasterPid, ProcessGroup, run, sleep, treePids, waitFor } from './processes';

export const NAMESPACE = 'patroni-test';
const CREDENTIALS = {
  APP_USER: 'app', APP_PASSWORD: 'test-only-app', APP_DATABASE: 'app',
  REPLICATION_USER: 'replicator', REPLICATION_PASSWORD: 'test-only-replication',
  MONITOR_USER: 'monitor', MONITOR_PASSWORD: 'test-only-monitor',
};

/** The REST API's basic-auth credentials, as the credentials Secret holds them (keys `restapi-username`, `restapi-password`). */
export const REST_API_CREDENTIALS = { username: 'patroni', password: 'test-only-restapi' };
// What the credentials Secret holds for the keys the chart's env names, where the members read only the Secret (the REST API's auth).
const SECRET_KEYS: Record<string, string> = { 'restapi-username': REST_API_CREDENTIALS.username, 'restapi-password': REST_API_CREDENTIALS.password };

/** The Authorization header of a REST call to an unsafe endpoint (POST /switchover, PATCH /config, ...). */
export function restApiAuthorization(credentials = REST_API_CREDENTIALS): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` };
}

/** The env the chart's patroni container takes from those keys of the Secret, by the names the chart gives them. */
function secretEnvOf(statefulSet: Manifest): Record<string, string> {
  const env = statefulSet.spec.template.spec.containers[0].env as Manifest[];
  return Object.fromEntries(env.filter(e => e.valueFrom?.secretKeyRef?.key in SECRET_KEYS).map(e => [e.name, SECRET_KEYS[e.valueFrom.secretKeyRef.key]]));
}

// The chart's container ports: each member has a network namespace of its own, as a pod does.
const PG_PORT = 5432;
const REST_PORT = 8008;

/** One Patroni member in a network namespace of its own, started as the chart's pod starts it. */
export interface PatroniMember {
  readonly name: string;
  /** The member's pod network: its address (PostgreSQL on 5432, Patroni's REST API on 8008) and its link, which a test can cut. */
  readonly pod: PodNetns;
  /** `http://<address>:8008`, Patroni's REST API. */
  readonly restUrl: string;
  readonly socketDir: string;
  running(): boolean;
  /** Starts (again) Patroni as the chart's container does, with the chart's config; PostgreSQL's data stays. */
  start(): void;
  /** kill -9 of Patroni and every PostgreSQL process of the member, as when its pod is lost. */
  kill(): Promise<void>;
  /** SIGSTOP (or SIGCONT) of Patroni and PostgreSQL: a member frozen with its connections open. */
  freeze(frozen: boolean): Promise<void>;
  /** Everything Patroni and its PostgreSQL wrote since the first start (the last 8 MB). */
  output(): string;
  /** Every process of the member's "pod" (`ip netns pids`), as `ps` shows it: what is left when Patroni lost a postmaster. */
  processes(): Promise<string>;
  /** PostgreSQL processes of the member's "pod" outside the tree of its data directory's postmaster: postmasters Patroni lost. */
  lostPostgres(): Promise<number[]>;
}

export interface PatroniCluster {
  readonly members: PatroniMember[];
  readonly objects: Manifest[];
  readonly databaseUrl: (member: PatroniMember) => string;
  /** GET on a member's REST API: the status code, 0 when it does not answer within 1 s. */
  rest(member: PatroniMember, path: string): Promise<number>;
  /** The cluster's timing as the chart renders it (`bootstrap.dcs` of patroni.yml). */
  readonly timing: PatroniTiming;
  /** The member that answers 200 on GET /primary, if exactly one does. */
  leader(): Promise<PatroniMember | undefined>;
  /** Each member's log (its last 6,000 characters, or all that is kept), for a failure message. */
  logs(full?: boolean): string;
  /** Each member's processes ({@link PatroniMember.processes}), for a failure message. */
  processes(): Promise<string>;
}

/** The chart's objects for a PgReplicaSet on the patroni engine, in NAMESPACE, and what its member container runs. */
export function patroniChart(props: PgReplicaSetProps): { objects: Manifest[]; patroniYml: string; launcher: string; postBootstrap: string; command: string[] } {
  const chart = new Chart(Testing.app(), 'test', { namespace: NAMESPACE });
  new PgReplicaSet(chart, 'db', { engine: 'patroni', podNetworks: ['127.0.0.1/32'], ...props });
  const objects = Testing.synth(chart);
  const config = objects.find(o => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-config'));
  const command = objects.find(o => o.kind === 'StatefulSet').spec.template.spec.containers[0].command;
  return { objects, patroniYml: config.data['patroni.yml'], launcher: config.data['launch-patroni.py'], postBootstrap: config.data['post-bootstrap.sh'], command };
}

/**
 * The members' TLS (a chart with `tls`): the Secret's files, which `issue` writes into `dir` for the
 * members' addresses once they are known (`makeCertificates`), and how often the reload loop compares them.
 */
export interface MemberTls {
  readonly dir: string;
  readonly checkSeconds: number;
  issue(addresses: string[]): Promise<void>;
}

/** The chart's TLS mount and reload interval rewritten to the test's directory and interval (paths and timing only). */
function withTestTls(text: string, tls: MemberTls | undefined): string {
  return tls ? text.split(`${PG_TLS_DIR}/`).join(`${tls.dir}/`).replace(`sleep ${PG_TLS_CHECK_SECONDS} `, `sleep ${tls.checkSeconds} `) : text;
}

/**
 * Applies the chart (ServiceAccount, Role, StatefulSet whose pods the fake kubelets run, Services)
 * on the control plane, then starts one Patroni per pod with the chart's patroni.yml, each in a
 * network namespace of its own on a bridge (a partition is then a link taken down): only
 * addresses and paths are rewritten, and each Patroni talks to the API server, through a
 * forwarder on the bridge, with the chart's ServiceAccount token.
 */
export async function startPatroniCluster(
  group: ProcessGroup, plane: ControlPlane, props: PgReplicaSetProps & { replicas: number }, tls?: MemberTls,
): Promise<PatroniCluster> {
  const network = await startPodNetwork(group, props.replicas + 1, ['kubernetes']);
  await tls?.issue(network.pods.map(pod => pod.address));
  const { objects, patroniYml, launcher, postBootstrap, command } = patroniChart({ ...props, podNetworks: [network.cidr] });
  const statefulSet = objects.find(o => o.kind === 'StatefulSet')!;
  const name = statefulSet.metadata.name as string;
  await plane.kubectlOk(['create', 'namespace', NAMESPACE]);
  await plane.kubectlOk(['apply', '--server-side', '-f', '-'], { input: objects.map(o => stringify(o)).join('---\n') });
  await waitFor('the member pods', async () => (await plane.kubectlOk(['get', 'pods', '-n', NAMESPACE, '-o', 'name'])).trim().split('\n').length === network.pods.length, 60_000, 500);

  // The API server's certificate names `kubernetes`: in each namespace that name is the forwarder on the bridge.
  const forwarded = { host: network.gateway, port: await freePort() };
  await forwardTcp(group, forwarded, { host: '127.0.0.1', port: Number(new URL(plane.server).port) });
  const base = group.tempDir('hscale-patroni-');
  await writeServiceAccountKubeconfig(plane, NAMESPACE, name, join(base, '.kube', 'config'), `https://kubernetes:${forwarded.port}`);
  const config = parse(withTestTls(patroniYml, tls));
  const members = network.pods.map((pod, i) => {
    const dir = join(base, `m${i}`);
    const socketDir = join(dir, 'socket');
    mkdirSync(socketDir, { recursive: true });
    writeFileSync(join(dir, 'post-bootstrap.sh'), postBootstrap);
    writeFileSync(join(dir, 'launch-patroni.py'), launcher);
    writeFileSync(join(dir, 'patroni.yml'), stringify({
      ...config,
      bootstrap: { ...config.bootstrap, post_bootstrap: `sh ${join(dir, 'post-bootstrap.sh')}` },
      postgresql: { ...config.postgresql, parameters: { ...config.postgresql.parameters, unix_socket_directories: socketDir } },
    }, { version: '1.1' }));
    // The container's command with the ConfigMap's mount (/etc/patroni) at the member's directory.
    const argv = command.map(word => withTestTls(word, tls).replace(/^\/etc\/patroni\//, `${dir}/`));
    return member(group, `${name}-${i}`, pod, dir, argv, { ...secretEnvOf(statefulSet), ...memberEnv(`${name}-${i}`, pod.address, dir, base) });
  });
  await run('chown', ['-R', 'postgres:postgres', base]);
  members.forEach(m => m.start());
  // A frozen member ignores SIGTERM and a killed Patroni leaves its postmaster: end both, also after a failure.
  group.onCleanup(async () => {
    for (const m of members) await m.freeze(false).then(() => m.kill()).catch(() => undefined);
  });
  const cluster = patroniClusterOf(members, objects, config);
  await waitFor('a leader and streaming replicas', async () => {
    if (!members.some(m => m.running())) throw new Error('every Patroni exited');
    const leader = await cluster.leader();
    const codes = await Promise.all(members.map(m => cluster.rest(m, '/replica')));
    return leader && codes.filter(c => c === 200).length === members.length - 1;
  }, 120_000, 500).catch(error => { throw new Error(`${error}\n${cluster.logs()}`); });
  return cluster;
}

/** What the StatefulSet's env gives Patroni, with this machine's addresses and paths. */
function memberEnv(name: string, address: string, dir: string, home: string): NodeJS.ProcessEnv {
  const socketDir = join(dir, 'socket');
  return pgEnv({
    ...CREDENTIALS, HOME: home, PGHOST: socketDir, PGPORT: String(PG_PORT),
    PATRONI_NAME: name, PATRONI_KUBERNETES_NAMESPACE: NAMESPACE, PATRONI_KUBERNETES_POD_IP: address, PATRONI_KUBERNETES_CONTEXT: KUBECONFIG_CONTEXT,
    PATRONI_POSTGRESQL_LISTEN: `${address}:${PG_PORT}`, PATRONI_POSTGRESQL_CONNECT_ADDRESS: `${address}:${PG_PORT}`,
    PATRONI_RESTAPI_LISTEN: `${address}:${REST_PORT}`, PATRONI_RESTAPI_CONNECT_ADDRESS: `${address}:${REST_PORT}`,
    PATRONI_POSTGRESQL_DATA_DIR: join(dir, 'data'), PATRONI_POSTGRESQL_BIN_DIR: PG_BIN, PATRONI_POSTGRESQL_PGPASS: join(dir, 'pgpass'),
    PATRONI_SUPERUSER_USERNAME: 'postgres', PATRONI_SUPERUSER_PASSWORD: 'test-only-superuser',
    PATRONI_REPLICATION_USERNAME: CREDENTIALS.REPLICATION_USER, PATRONI_REPLICATION_PASSWORD: CREDENTIALS.REPLICATION_PASSWORD,
    PATRONI_REWIND_USERNAME: 'rewinder', PATRONI_REWIND_PASSWORD: 'test-only-rewind',
  });
}

function member(group: ProcessGroup, name: string, pod: PodNetns, dir: string, argv: string[], env: NodeJS.ProcessEnv): PatroniMember {
  let process: ReturnType<ProcessGroup['spawn']> | undefined;
  // The whole log, not the spawn buffer's last 64 kB: a failure's cause is often minutes before it.
  let log = '';
  const append = (chunk: Buffer) => { log = (log + chunk.toString()).slice(-8_000_000); };
  const podPids = async () => (await run('ip', ['netns', 'pids', pod.name])).trim().split('\n').filter(Boolean);
  // Patroni starts the postmaster detached (it is re-parented away from Patroni), so the member is
  // Patroni's tree and the postmaster's, found by its pid file; in a pod, both die with the container.
  const signalTree = async (signal: NodeJS.Signals) => {
    if (!process?.child.pid) return;
    const postmaster = postmasterPid(join(dir, 'data'));
    const pids = [...await treePids(process.child.pid), ...(postmaster ? await treePids(postmaster) : [])];
    for (const pid of pids) {
      try { global.process.kill(pid, signal); } catch { /* gone since the listing */ }
    }
  };
  return {
    name, pod, restUrl: `http://${pod.address}:${REST_PORT}`, socketDir: join(dir, 'socket'),
    running: () => process !== undefined && process.child.exitCode === null && process.child.signalCode === null,
    start: () => {
      // runuser sets HOME to the user's; Patroni reads the kubeconfig from $HOME/.kube/config.
      const [command, ...args] = [...pod.exec, 'runuser', '-u', 'postgres', '--', 'env', `HOME=${env.HOME}`, ...argv];
      process = group.spawn(command, args, { env });
      process.child.stdout?.on('data', append);
      process.child.stderr?.on('data', append);
    },
    kill: async () => {
      await signalTree('SIGKILL');
      await waitFor(`${name} to exit`, async () => process!.child.exitCode !== null || process!.child.signalCode !== null, 10_000, 50);
      // The postmaster's children die with it; wait until the port is free again.
      await sleep(200);
    },
    freeze: frozen => signalTree(frozen ? 'SIGSTOP' : 'SIGCONT'),
    output: () => log,
    processes: async () => {
      const pids = await podPids();
      return pids.length ? run('ps', ['-o', 'pid,ppid,lstart,stat,args', '-p', pids.join(',')]) : '(none)\n';
    },
    lostPostgres: async () => {
      const pids = await podPids();
      if (!pids.length) return [];
      const rows = (await run('ps', ['-o', 'pid=,ppid=,comm=', '-p', pids.join(',')])).trim().split('\n').map(l => l.trim().split(/\s+/));
      const postmaster = postmasterPid(join(dir, 'data'));
      return rows.filter(([pid, ppid, comm]) => comm === 'postgres' && Number(pid) !== postmaster && Number(ppid) !== postmaster).map(([pid]) => Number(pid));
    },
  };
}

function patroniClusterOf(members: PatroniMember[], objects: Manifest[], config: Manifest): PatroniCluster {
  const rest = async (m: PatroniMember, path: string) => {
    try {
      return (await fetch(`${m.restUrl}${path}`, { signal: AbortSignal.timeout(1_000), headers: { connection: 'close' } })).status;
    } catch {
      return 0;
    }
  };
  const dcs = config.bootstrap.dcs;
  return {
    members, objects, rest,
    timing: { ttl: dcs.ttl, loopWait: dcs.loop_wait, retryTimeout: dcs.retry_timeout },
    databaseUrl: m => `postgres://${CREDENTIALS.APP_USER}:${CREDENTIALS.APP_PASSWORD}@${m.pod.address}:${PG_PORT}/${CREDENTIALS.APP_DATABASE}`,
    leader: async () => {
      const codes = await Promise.all(members.map(m => rest(m, '/primary')));
      const leaders = members.filter((_, i) => codes[i] === 200);
      return leaders.length === 1 ? leaders[0] : undefined;
    },
    logs: full => members.map(m => `--- ${m.name} (${m.pod.address})\n${full ? m.output() : m.output().slice(-6_000)}`).join('\n'),
    processes: async () => (await Promise.all(members.map(async m => `--- ${m.name}'s processes (ip netns pids ${m.pod.name})\n${await m.processes().catch(e => String(e))}`))).join(''),
  };
}

/** psql as the postgres superuser on a member's socket. */
export async function memberSql(m: PatroniMember, query: string, database = 'postgres'): Promise<string> {
  return (await run(join(PG_BIN, 'psql'), ['-h', m.socketDir, '-p', String(PG_PORT), '-U', 'postgres', '-d', database, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', query],
    { asUser: 'postgres', env: pgEnv(), timeoutMs: 5_000 })).trim();
}
