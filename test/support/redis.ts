import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { redisAclUsers, renderRedisAcl } from '../../lib/redis/redis-acl';
import {
  RedisScriptTls, renderClusterCreateScript, renderRedisConf, renderRedisStartScript, renderSentinelConf,
  renderSentinelMasterSettings, renderSentinelStartScript, SentinelConfOptions,
} from '../../lib/redis/redis-conf';
import { freePort, ProcessGroup, run, waitFor } from './processes';

export const TEST_REDIS_PASSWORD = 'test-only-password';
/** What clients and the other Sentinels send a test Sentinel (SENTINEL_PASSWORD). */
export const TEST_SENTINEL_PASSWORD = 'test-only-sentinel-password';

type Mode = 'cluster' | 'sentinel' | 'standalone';

/** The password of each ACL user of a test server, by env var: the user's name in it, so a mix-up shows. */
export function testAclPasswords(mode: Mode, tls = false): Record<string, string> {
  return Object.fromEntries(redisAclUsers({ mode, queuePrefixes: ['{hscale}'], tls })
    .map(u => [u.passwordEnv, u.name === 'app' ? TEST_REDIS_PASSWORD : `test-only-${u.name}-password`]));
}

/**
 * The rendered ACL file, with `default` given every right and TEST_REDIS_PASSWORD for tests of
 * other things than the users (they log in without a user name); `pure` keeps it as rendered.
 */
function testAcl(mode: Mode, pure: boolean, tls: boolean): string {
  const acl = renderRedisAcl({ mode, queuePrefixes: ['{hscale}'], tls });
  return pure ? acl : acl.replace(/^user default .*$/m, `user default on >${TEST_REDIS_PASSWORD} ~* &* +@all`);
}

/** One Redis server the tests started, through the rendered start script. */
export interface RedisNode {
  /** The port it listens on now (a restart may move it). */
  readonly port: number;
  readonly dir: string;
  /** Stops the process: SIGKILL (a crash) or SIGTERM (a clean stop). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts it again from the same data directory; with `moveTo`, on that port and with that start
   * script env, as a pod that comes back with a new IP (loopback has one IP: a new port stands in).
   */
  restart(moveTo?: { port: number; env: Record<string, string> }): Promise<void>;
}

/** `redis-cli` against a loopback port, authenticated with the test password (as `user`, else as `default`); over TLS verifying against `caFile` when given. */
export async function redisCli(port: number, args: string[], password: string | undefined = TEST_REDIS_PASSWORD, user?: string, caFile?: string): Promise<string> {
  const env = { ...process.env, ...(password ? { REDISCLI_AUTH: password } : {}) };
  const tls = caFile ? ['--tls', '--cacert', caFile] : [];
  return (await run('redis-cli', [...tls, '-h', '127.0.0.1', '-p', String(port), ...(user ? ['--user', user] : []), ...args], { env })).replace(/\r/g, '');
}

/** A field of `INFO` or `CLUSTER INFO` output. */
export function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

function writeScript(dir: string, name: string, content: string): string {
  const file = join(dir, name);
  writeFileSync(file, content, { mode: 0o755 });
  return file;
}

/**
 * Runs a start script in a process group of its own, stopped whole at cleanup: a script leaves a
 * loop beside the server (a cluster node meeting its peers for up to MEET_SECONDS, 300; a TLS
 * reload loop), which a pod's end stops and a child's kill does not; left running, one held the
 * test's output pipes (and jest) open for minutes.
 */
function spawnScript(group: ProcessGroup, script: string, env: NodeJS.ProcessEnv): ReturnType<ProcessGroup['spawn']> {
  const child = group.spawn('sh', [script], { env, detached: true });
  const pgid = child.child.pid!;
  group.onCleanup(async () => {
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      // the group has already exited
    }
  });
  return child;
}

interface NodeOptions {
  readonly mode: Mode;
  /** Keep the rendered ACL file as it is (`default` off), for the tests of the users. @default false */
  readonly pureAcl?: boolean;
  readonly clusterNodeTimeoutMs?: number;
  /** A redis.conf rendered elsewhere (a construct's), run with the test's port, bind and dir. @default - one rendered here */
  readonly redisConf?: string;
  /** Extra env of the start script (sentinel mode: SENTINEL_HOSTS, MASTER_NAME, INITIAL_MASTER_HOST; cluster mode: REDIS_NODES). */
  readonly env?: Record<string, string>;
  /** The port to listen on. @default - a free one */
  readonly port?: number;
  /** TLS of the server and its scripts, as RedisCluster's `tls` renders it. @default - no TLS */
  readonly tls?: RedisScriptTls;
}

/** A pod's redis.conf with the port, address and data directory of a test server, everything else as rendered. */
function onLoopback(redisConf: string, port: number, dataDir: string): string {
  const tls = /^tls-port /m.test(redisConf);
  return redisConf.replace(tls ? /^tls-port .*$/m : /^port .*$/m, `${tls ? 'tls-port' : 'port'} ${port}`).replace(/^bind .*$/m, 'bind 127.0.0.1').replace(/^dir .*$/m, `dir ${dataDir}`);
}

/**
 * Starts redis-server the way a pod does: the rendered redis.conf (port, dir and bind
 * substituted for loopback) run by the rendered start script, which adds the password.
 */
export async function startRedisNode(group: ProcessGroup, options: NodeOptions): Promise<RedisNode> {
  let port = options.port ?? await freePort();
  const dir = group.tempDir('hscale-redis-');
  const confDir = join(dir, 'etc');
  const runDir = join(dir, 'run');
  const dataDir = join(dir, 'data');
  [confDir, runDir, dataDir].forEach(d => mkdirSync(d));
  writeFileSync(join(confDir, 'redis.conf'), options.redisConf ? onLoopback(options.redisConf, port, dataDir) : renderRedisConf({
    port, bind: '127.0.0.1', dir: dataDir, cluster: options.mode === 'cluster',
    clusterNodeTimeoutMs: options.clusterNodeTimeoutMs ?? 5000, maxmemoryBytes: 64 * 2 ** 20,
    maxmemoryPolicy: 'allkeys-lru', appendonly: true, appendfsync: 'everysec', savePoints: ['3600 1'], tcpKeepaliveSeconds: 60,
    tls: options.tls?.files,
  }));
  writeFileSync(join(confDir, 'users.acl'), testAcl(options.mode, options.pureAcl ?? false, options.tls !== undefined));
  const script = writeScript(confDir, 'start.sh', renderRedisStartScript(options.mode, options.tls));
  const caFile = options.tls?.files.caFile;
  let env: NodeJS.ProcessEnv = {
    ...process.env, CONF_DIR: confDir, RUN_DIR: runDir, ...testAclPasswords(options.mode, options.tls !== undefined), SENTINEL_PASSWORD: TEST_SENTINEL_PASSWORD,
    ANNOUNCE_HOST: '127.0.0.1', REDIS_PORT: String(port), ...options.env,
  };
  let child!: ReturnType<ProcessGroup['spawn']>;
  const start = async () => {
    child = spawnScript(group, script, env);
    await waitFor(`redis on ${port}`, async () => {
      if (child.child.exitCode !== null) throw new Error(`redis exited: ${child.output()}`);
      const login = options.pureAcl ? [testAclPasswords(options.mode).REDIS_EXPORTER_PASSWORD, 'exporter'] as const : [TEST_REDIS_PASSWORD, undefined] as const;
      return (await redisCli(port, ['ping'], ...login, caFile)).trim() === 'PONG';
    });
  };
  await start();
  return {
    get port() { return port; },
    dir,
    stop: async (signal = 'SIGKILL') => {
      const exited = new Promise(resolve => child.child.once('exit', resolve));
      child.child.kill(signal);
      await exited;
    },
    restart: async moveTo => {
      if (moveTo) {
        const conf = join(confDir, 'redis.conf');
        writeFileSync(conf, onLoopback(readFileSync(conf, 'utf8'), moveTo.port, dataDir));
        port = moveTo.port;
        env = { ...env, ...moveTo.env, REDIS_PORT: String(port) };
      }
      await start();
    },
  };
}

/** Runs the rendered cluster-create script against loopback nodes; resolves with its output. */
export async function runClusterCreate(group: ProcessGroup, ports: number[], replicasPerShard: number, tls?: RedisScriptTls): Promise<string> {
  const dir = group.tempDir('hscale-redis-job-');
  const script = writeScript(dir, 'create-cluster.sh', renderClusterCreateScript(tls));
  return run('sh', [script], {
    env: {
      ...process.env, REDIS_NODES: ports.map(p => `127.0.0.1:${p}`).join(' '),
      REPLICAS_PER_SHARD: String(replicasPerShard), REDIS_OPERATOR_PASSWORD: testAclPasswords('cluster').REDIS_OPERATOR_PASSWORD, WAIT_SECONDS: '60',
    },
    timeoutMs: 90_000,
  });
}

/** The start script env of cluster nodes on `ports`: every node's address, as a pod's REDIS_NODES lists the pods' DNS names. */
export function clusterNodesEnv(ports: number[]): Record<string, string> {
  return { REDIS_NODES: ports.map(p => `127.0.0.1:${p}`).join(' ') };
}

/** Starts `count` cluster nodes and creates the cluster with the rendered script. */
export async function startRedisCluster(
  group: ProcessGroup, count = 6, replicasPerShard = 1, clusterNodeTimeoutMs = 5000, tls?: RedisScriptTls,
): Promise<RedisNode[]> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const env = clusterNodesEnv(ports);
  const nodes = await Promise.all(ports.map(port => startRedisNode(group, { mode: 'cluster', clusterNodeTimeoutMs, port, env, tls })));
  await runClusterCreate(group, nodes.map(n => n.port), replicasPerShard, tls);
  return nodes;
}

/** One Sentinel the tests started, through the rendered start script. */
export interface SentinelNode {
  readonly port: number;
  /** Its writable copy of sentinel.conf, as the start script wrote it and Sentinel rewrites it. */
  readonly confFile: string;
  output(): string;
  /** Whether the Sentinel still runs (with TLS, it exits on a renewed certificate). */
  running(): boolean;
  /** Stops the process (SIGKILL, a crash) and waits for its exit. */
  stop(): Promise<void>;
  /** Runs the start script again on the same port, as the kubelet restarts the container. */
  restart(): Promise<void>;
}

interface SentinelOptions {
  readonly masterName: string;
  readonly quorum: number;
  readonly downAfterMs: number;
  /** The start script env that names the Sentinels and the first master. */
  readonly follow: Record<string, string>;
  /** Its pod's name, whose ordinal staggers a TLS renewal's restart (30 s each). */
  readonly podName: string;
  readonly tls?: RedisScriptTls;
}

/** Starts a Sentinel on `port` the way a pod does: the rendered sentinel.conf and settings, run by the rendered start script. */
async function startSentinel(group: ProcessGroup, port: number, options: SentinelOptions): Promise<SentinelNode> {
  const dir = group.tempDir('hscale-sentinel-');
  const confDir = join(dir, 'etc');
  const runDir = join(dir, 'run');
  [confDir, runDir].forEach(d => mkdirSync(d));
  const conf: SentinelConfOptions = {
    port, bind: '127.0.0.1', dir: runDir, masterName: options.masterName, quorum: options.quorum,
    downAfterMs: options.downAfterMs, failoverTimeoutMs: 10_000, parallelSyncs: 1, tls: options.tls?.files,
  };
  writeFileSync(join(confDir, 'sentinel.conf'), renderSentinelConf(conf));
  writeFileSync(join(confDir, 'sentinel-master.conf'), renderSentinelMasterSettings(conf));
  const script = writeScript(confDir, 'sentinel-start.sh', renderSentinelStartScript(options.tls));
  const env = {
    ...process.env, CONF_DIR: confDir, RUN_DIR: runDir, ...testAclPasswords('sentinel', options.tls !== undefined), SENTINEL_PASSWORD: TEST_SENTINEL_PASSWORD,
    ANNOUNCE_HOST: '127.0.0.1', POD_NAME: options.podName, SENTINEL_PORT: String(port), REDIS_PORT: options.follow.INITIAL_MASTER_PORT,
    QUORUM: String(options.quorum), ...options.follow,
  };
  let sentinel!: ReturnType<ProcessGroup['spawn']>;
  const start = async () => {
    sentinel = spawnScript(group, script, env);
    await waitFor(`sentinel on ${port}`, async () => {
      if (sentinel.child.exitCode !== null) throw new Error(`sentinel exited: ${sentinel.output()}`);
      return (await redisCli(port, ['ping'], TEST_SENTINEL_PASSWORD, undefined, options.tls?.files.caFile)).trim() === 'PONG';
    });
  };
  await start();
  const running = () => sentinel.child.exitCode === null && sentinel.child.signalCode === null;
  return {
    port,
    confFile: join(runDir, 'sentinel.conf'),
    output: () => sentinel.output(),
    running,
    stop: async () => {
      if (!running()) return;
      const exited = new Promise(resolve => sentinel.child.once('exit', resolve));
      sentinel.child.kill('SIGKILL');
      await exited;
    },
    restart: start,
  };
}

/** Starts a master, `replicas` replicas and `sentinels` Sentinels from the rendered configs and scripts, over TLS with `tls`. */
export async function startSentinelGroup(
  group: ProcessGroup, options: { replicas: number; sentinels: number; quorum: number; downAfterMs: number; tls?: RedisScriptTls },
) {
  const sentinelPorts = await Promise.all(Array.from({ length: options.sentinels }, () => freePort()));
  const sentinelHosts = sentinelPorts.map(p => `127.0.0.1:${p}`).join(' ');
  const masterName = 'hscale';
  const tls = options.tls;
  // The master is the first node: its start script finds no Sentinel and no one to follow.
  const master = await startRedisNode(group, {
    mode: 'sentinel', tls, env: { SENTINEL_HOSTS: sentinelHosts, MASTER_NAME: masterName, INITIAL_MASTER_HOST: '127.0.0.1' },
  });
  const follow = { SENTINEL_HOSTS: sentinelHosts, MASTER_NAME: masterName, INITIAL_MASTER_HOST: '127.0.0.1', INITIAL_MASTER_PORT: String(master.port) };
  const replicas: RedisNode[] = [];
  for (let i = 0; i < options.replicas; i++) {
    replicas.push(await startRedisNode(group, { mode: 'sentinel', tls, env: follow }));
  }
  const sentinels: SentinelNode[] = [];
  for (const [i, port] of sentinelPorts.entries()) {
    sentinels.push(await startSentinel(group, port, { masterName, quorum: options.quorum, downAfterMs: options.downAfterMs, follow, podName: `sentinel-${i}`, tls }));
  }
  return { masterName, master, replicas, sentinels };
}

/** The fields of `SENTINEL MASTER <name>` as redis-cli prints them (a name line, then its value line). */
function sentinelFields(reply: string): Record<string, string> {
  const lines = reply.trim().split('\n');
  return Object.fromEntries(Array.from({ length: Math.floor(lines.length / 2) }, (_, i) => [lines[2 * i], lines[2 * i + 1]]));
}

/**
 * The port of the master the Sentinels settled on after the one on `oldPort` failed: every Sentinel
 * names it, and none is failing over or sees it down. Not the first new master one Sentinel names:
 * two Sentinels that see the failure together can each be elected, in epochs of their own, and
 * promote different replicas; the higher epoch's promotion is the one all end on (seen in a loaded
 * CI: one Sentinel named the first promoted replica, and all of them then the other).
 */
export async function settledSentinelMaster(
  sentinels: SentinelNode[], masterName: string, oldPort: number, ask: (port: number, args: string[]) => Promise<string>,
): Promise<number> {
  return waitFor('every Sentinel to name the same new master, with no failover in progress', async () => {
    const views = await Promise.all(sentinels.map(async sentinel => sentinelFields(await ask(sentinel.port, ['sentinel', 'master', masterName]))));
    const ports = new Set(views.map(view => view.port));
    const unsettled = views.some(view => view.flags === undefined || /failover_in_progress|o_down|s_down/.test(view.flags));
    const [port] = [...ports].map(Number);
    return ports.size === 1 && port !== oldPort && !unsettled ? port : undefined;
  }, 30_000, 200);
}

/** The failover events in the Sentinels' logs (who saw the master down, who was elected in which epoch, which replica each promoted), to tell why a test's master is not the one expected. */
export function sentinelEvents(sentinels: SentinelNode[]): string[] {
  const event = /[+-](sdown|odown|new-epoch|try-failover|elected-leader|selected-slave|failover-abort\S*|failover-end|switch-master) /;
  return sentinels.flatMap((sentinel, i) => sentinel.output().split('\n').filter(line => event.test(line)).map(line => `sentinel ${i}: ${line.trim()}`));
}
