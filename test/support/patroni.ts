import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { PgReplicaSet, PgReplicaSetProps } from '../../lib';
import { Manifest } from '../../lib/testing/manifest-checks';
import { KUBECONFIG_CONTEXT, writeServiceAccountKubeconfig } from '../../local/patroni';
import { ControlPlane } from '../../scripts/control-plane/index';
import { PG_BIN, pgEnv } from './postgres';
import { freePort, postmasterPid, ProcessGroup, run, sleep, treePids, waitFor } from './processes';

export const NAMESPACE = 'patroni-test';
const CREDENTIALS = {
  APP_USER: 'app', APP_PASSWORD: 'test-only-app', APP_DATABASE: 'app',
  REPLICATION_USER: 'replicator', REPLICATION_PASSWORD: 'test-only-replication',
  MONITOR_USER: 'monitor', MONITOR_PASSWORD: 'test-only-monitor',
};

/** One Patroni member on loopback, started as the chart's pod starts it. */
export interface PatroniMember {
  readonly name: string;
  readonly pgPort: number;
  readonly restPort: number;
  readonly socketDir: string;
  running(): boolean;
  /** Starts (again) Patroni with the chart's config; PostgreSQL's data stays. */
  start(): void;
  /** kill -9 of Patroni and every PostgreSQL process of the member, as when its pod is lost. */
  kill(): Promise<void>;
  /** SIGSTOP (or SIGCONT) of Patroni and PostgreSQL: a member frozen with its connections open. */
  freeze(frozen: boolean): Promise<void>;
  output(): string;
}

export interface PatroniCluster {
  readonly members: PatroniMember[];
  readonly objects: Manifest[];
  readonly databaseUrl: (member: PatroniMember) => string;
  /** GET on a member's REST API: the status code, 0 when it does not answer within 1 s. */
  rest(member: PatroniMember, path: string): Promise<number>;
  /** The member that answers 200 on GET /primary, if exactly one does. */
  leader(): Promise<PatroniMember | undefined>;
  /** Each member's log, for a failure message. */
  logs(): string;
}

/** The chart's objects for a PgReplicaSet on the patroni engine, in NAMESPACE. */
export function patroniChart(props: PgReplicaSetProps): { objects: Manifest[]; patroniYml: string; postBootstrap: string } {
  const chart = new Chart(Testing.app(), 'test', { namespace: NAMESPACE });
  new PgReplicaSet(chart, 'db', { engine: 'patroni', podNetworks: ['127.0.0.1/32'], ...props });
  const objects = Testing.synth(chart);
  const config = objects.find(o => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-config'));
  return { objects, patroniYml: config.data['patroni.yml'], postBootstrap: config.data['post-bootstrap.sh'] };
}

/**
 * Applies the chart (ServiceAccount, Role, StatefulSet whose pods the fake kubelets run, Services)
 * on the control plane, then starts one Patroni per pod on loopback with the chart's patroni.yml:
 * only addresses, ports and paths are rewritten, and each Patroni talks to the API server with
 * the chart's ServiceAccount token.
 */
export async function startPatroniCluster(group: ProcessGroup, plane: ControlPlane, props: PgReplicaSetProps): Promise<PatroniCluster> {
  const { objects, patroniYml, postBootstrap } = patroniChart(props);
  const statefulSet = objects.find(o => o.kind === 'StatefulSet')!;
  const name = statefulSet.metadata.name as string;
  const memberCount = statefulSet.spec.replicas as number;
  await plane.kubectlOk(['create', 'namespace', NAMESPACE]);
  await plane.kubectlOk(['apply', '--server-side', '-f', '-'], { input: objects.map(o => stringify(o)).join('---\n') });
  await waitFor('the member pods', async () => (await plane.kubectlOk(['get', 'pods', '-n', NAMESPACE, '-o', 'name'])).trim().split('\n').length === memberCount, 60_000, 500);

  const base = group.tempDir('hscale-patroni-');
  await writeServiceAccountKubeconfig(plane, NAMESPACE, name, join(base, '.kube', 'config'));
  const config = parse(patroniYml);
  const members: PatroniMember[] = [];
  for (let i = 0; i < memberCount; i++) {
    const dir = join(base, `m${i}`);
    const socketDir = join(dir, 'socket');
    mkdirSync(socketDir, { recursive: true });
    const [pgPort, restPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'post-bootstrap.sh'), postBootstrap);
    writeFileSync(join(dir, 'patroni.yml'), stringify({
      ...config,
      bootstrap: { ...config.bootstrap, post_bootstrap: `sh ${join(dir, 'post-bootstrap.sh')}` },
      postgresql: { ...config.postgresql, parameters: { ...config.postgresql.parameters, unix_socket_directories: socketDir } },
    }, { version: '1.1' }));
    const env = pgEnv({
      ...CREDENTIALS, HOME: base, PGHOST: socketDir, PGPORT: String(pgPort),
      PATRONI_NAME: `${name}-${i}`, PATRONI_KUBERNETES_NAMESPACE: NAMESPACE, PATRONI_KUBERNETES_POD_IP: '127.0.0.1', PATRONI_KUBERNETES_CONTEXT: KUBECONFIG_CONTEXT,
      PATRONI_POSTGRESQL_LISTEN: `127.0.0.1:${pgPort}`, PATRONI_POSTGRESQL_CONNECT_ADDRESS: `127.0.0.1:${pgPort}`,
      PATRONI_RESTAPI_LISTEN: `127.0.0.1:${restPort}`, PATRONI_RESTAPI_CONNECT_ADDRESS: `127.0.0.1:${restPort}`,
      PATRONI_POSTGRESQL_DATA_DIR: join(dir, 'data'), PATRONI_POSTGRESQL_BIN_DIR: PG_BIN, PATRONI_POSTGRESQL_PGPASS: join(dir, 'pgpass'),
      PATRONI_SUPERUSER_USERNAME: 'postgres', PATRONI_SUPERUSER_PASSWORD: 'test-only-superuser',
      PATRONI_REPLICATION_USERNAME: CREDENTIALS.REPLICATION_USER, PATRONI_REPLICATION_PASSWORD: CREDENTIALS.REPLICATION_PASSWORD,
      PATRONI_REWIND_USERNAME: 'rewinder', PATRONI_REWIND_PASSWORD: 'test-only-rewind',
    });
    members.push(member(group, `${name}-${i}`, dir, socketDir, pgPort, restPort, env));
  }
  await run('chown', ['-R', 'postgres:postgres', base]);
  members.forEach(m => m.start());
  // A frozen member ignores SIGTERM and a killed Patroni leaves its postmaster: end both, also after a failure.
  group.onCleanup(async () => {
    for (const m of members) await m.freeze(false).then(() => m.kill()).catch(() => undefined);
  });
  const cluster = patroniClusterOf(members, objects);
  await waitFor('a leader and streaming replicas', async () => {
    if (!members.some(m => m.running())) throw new Error('every Patroni exited');
    const leader = await cluster.leader();
    const codes = await Promise.all(members.map(m => cluster.rest(m, '/replica')));
    return leader && codes.filter(c => c === 200).length === memberCount - 1;
  }, 120_000, 500).catch(error => { throw new Error(`${error}\n${cluster.logs()}`); });
  return cluster;
}

function member(group: ProcessGroup, name: string, dir: string, socketDir: string, pgPort: number, restPort: number, env: NodeJS.ProcessEnv): PatroniMember {
  let process: ReturnType<ProcessGroup['spawn']> | undefined;
  let log = '';
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
    name, pgPort, restPort, socketDir,
    running: () => process !== undefined && process.child.exitCode === null && process.child.signalCode === null,
    start: () => {
      if (process) log += process.output();
      // runuser sets HOME to the user's; Patroni reads the kubeconfig from $HOME/.kube/config.
      process = group.spawn('env', [`HOME=${env.HOME}`, 'patroni', join(dir, 'patroni.yml')], { asUser: 'postgres', env });
    },
    kill: async () => {
      await signalTree('SIGKILL');
      await waitFor(`${name} to exit`, async () => process!.child.exitCode !== null || process!.child.signalCode !== null, 10_000, 50);
      // The postmaster's children die with it; wait until the port is free again.
      await sleep(200);
    },
    freeze: frozen => signalTree(frozen ? 'SIGSTOP' : 'SIGCONT'),
    output: () => log + (process?.output() ?? ''),
  };
}

function patroniClusterOf(members: PatroniMember[], objects: Manifest[]): PatroniCluster {
  const rest = async (m: PatroniMember, path: string) => {
    try {
      return (await fetch(`http://127.0.0.1:${m.restPort}${path}`, { signal: AbortSignal.timeout(1_000), headers: { connection: 'close' } })).status;
    } catch {
      return 0;
    }
  };
  return {
    members, objects, rest,
    databaseUrl: m => `postgres://${CREDENTIALS.APP_USER}:${CREDENTIALS.APP_PASSWORD}@127.0.0.1:${m.pgPort}/${CREDENTIALS.APP_DATABASE}`,
    leader: async () => {
      const codes = await Promise.all(members.map(m => rest(m, '/primary')));
      const leaders = members.filter((_, i) => codes[i] === 200);
      return leaders.length === 1 ? leaders[0] : undefined;
    },
    logs: () => members.map(m => `--- ${m.name} (postgres ${m.pgPort}, REST ${m.restPort})\n${m.output().slice(-6_000)}`).join('\n'),
  };
}

/** psql as the postgres superuser on a member's socket. */
export async function memberSql(m: PatroniMember, query: string, database = 'postgres'): Promise<string> {
  return (await run(join(PG_BIN, 'psql'), ['-h', m.socketDir, '-p', String(m.pgPort), '-U', 'postgres', '-d', database, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', query],
    { asUser: 'postgres', env: pgEnv(), timeoutMs: 5_000 })).trim();
}
