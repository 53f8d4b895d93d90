import { ChildProcess, spawn } from 'child_process';
import { mkdirSync, readFileSync } from 'fs';
import { join } from 'path';
import postgres from 'postgres';
import { renderNginxConf } from '../../lib/load-balancer/nginx-conf';
import { migrate } from '../../service/src/db/migrations';
import { TEST_AUTH_ENV, writeHeaders } from '../../test/support/auth';
import { loopbackNginxOptions, startNginx } from '../../test/support/nginx';
import { ReplicatedPostgres, startReplicatedPostgres } from '../../test/support/postgres';
import { freePort, OutputTail, ProcessGroup, run, stopChild, waitFor } from '../../test/support/processes';
import { RedisNode, startRedisCluster, TEST_REDIS_PASSWORD } from '../../test/support/redis';

export const ROOT = join(__dirname, '..', '..');
/** Items seeded into the database: the population the reads and the Zipf mix draw from. */
export const ITEM_COUNT = 10_000;

/** A process of the stack (the service or the bare server) listening on a loopback port. */
export interface Backend {
  readonly port: number;
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly url: string;
}

/**
 * The servers every HTTP scenario uses: PostgreSQL primary + 1 streaming replica and a Redis
 * Cluster of 3 masters + 3 replicas, started from the library's rendered configs through
 * test/support, and the items the scenarios read.
 */
export interface Stack {
  readonly group: ProcessGroup;
  readonly dir: string;
  readonly pg: ReplicatedPostgres;
  readonly redis: RedisNode[];
  /** Ids of the seeded items, in a fixed order. */
  readonly items: string[];
  /** `REDIS_CLUSTER_NODES` of the cluster. */
  readonly redisNodes: string;
  /**
   * `Authorization` for writes: since issue 23 a write without a token is a 401, which the load
   * generators count as an error but which costs the service almost nothing, so a write figure
   * taken without it measures refusals.
   */
  readonly writeHeaders: Record<string, string>;
}

/** Builds service/dist, starts PostgreSQL and Redis, migrates and seeds ITEM_COUNT items. */
export async function startStack(group: ProcessGroup): Promise<Stack> {
  const dir = group.tempDir('hscale-bench-');
  const [pg, redis] = await Promise.all([
    startReplicatedPostgres(group, 1),
    startRedisCluster(group, 6, 1),
    run('npm', ['run', 'build'], { cwd: ROOT, timeoutMs: 300_000 }),
  ]);
  const sql = postgres(pg.databaseUrl, { max: 1, onnotice: () => undefined });
  let items: string[];
  try {
    await migrate(sql);
    await sql`insert into items (name, payload)
      select 'item ' || g, jsonb_build_object('n', g, 'text', repeat('x', 200)) from generate_series(1, ${ITEM_COUNT}) g`;
    items = (await sql<Array<{ id: string }>>`select id from items order by created_at, id`).map(r => r.id);
  } finally {
    await sql.end();
  }
  const replica = postgres(pg.databaseUrl, { host: '127.0.0.1', port: pg.replicas[0].port, max: 1, onnotice: () => undefined });
  try {
    await waitFor('the replica to replay the seed', async () =>
      Number((await replica<Array<{ n: string }>>`select count(*) as n from items`)[0].n) === ITEM_COUNT, 60_000, 200);
  } finally {
    await replica.end();
  }
  const redisNodes = redis.map(node => `127.0.0.1:${node.port}`).join(',');
  return { group, dir, pg, redis, items, redisNodes, writeHeaders: await writeHeaders('bench') };
}

/** Env of a service that reads through the replica and caches in the cluster, as the constructs wire it. */
export function serviceEnv(stack: Stack, options: { cache: boolean; readPolicy: 'replicas' | 'primary' }): Record<string, string> {
  return {
    DATABASE_URL: stack.pg.databaseUrl,
    POSTGRES_READ_REPLICAS: stack.pg.replicaHosts,
    READ_POLICY: options.readPolicy,
    // The service's default level: its request line (one per request) is part of what a request costs.
    LOG_LEVEL: 'info',
    ...TEST_AUTH_ENV,
    ...(options.cache ? { REDIS_CLUSTER_NODES: stack.redisNodes, REDIS_PASSWORD: TEST_REDIS_PASSWORD } : {}),
  };
}

/** Ticks of /proc/<pid>/stat's utime and stime per second (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system, all threads) a process has used, from /proc: the same reading for every backend. */
export function cpuSeconds(pid: number): number {
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Read and write system calls a process has made (syscr and syscw of /proc/<pid>/io): a socket read or write is one each. */
export function syscalls(pid: number): { reads: number; writes: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
  return { reads: field('syscr'), writes: field('syscw') };
}

/** `cpus`: pin the process to these cores (taskset's list, e.g. "1"), which taskset then execs, keeping the pid. */
export async function startBackend(group: ProcessGroup, args: string[], env: Record<string, string>, readyPath: string, cpus?: string): Promise<Backend> {
  const port = await freePort();
  const output = new OutputTail(64_000);
  const [command, commandArgs] = cpus === undefined ? [process.execPath, args] : ['taskset', ['-c', cpus, process.execPath, ...args]];
  const child = spawn(command, commandArgs, {
    cwd: ROOT, env: { PATH: process.env.PATH, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => output.add(chunk));
  child.stderr!.on('data', (chunk: Buffer) => output.add(chunk));
  // SIGTERM: a clean exit, so a `--cpu-prof` profile gets written.
  group.onCleanup(() => stopChild(child, 10_000));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${args.join(' ')} to be ready on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output.text()}`);
    return (await fetch(`${url}${readyPath}`)).ok;
  }, 60_000, 100);
  return { port, child, output: () => output.text(), url };
}

/** The built reference service (service/dist/server.js) as a real process; `nodeArgs` e.g. `--cpu-prof`. */
export function startService(stack: Stack, env: Record<string, string>, nodeArgs: string[] = []): Promise<Backend> {
  return startBackend(stack.group, [...nodeArgs, 'service/dist/server.js'], env, '/api/v1/scaling/health/readiness');
}

/** The ceiling: a bare Express handler returning constant JSON (bench/bare-server.ts). */
export function startBareServer(stack: Stack, nodeArgs: string[] = []): Promise<Backend> {
  return startBackend(stack.group, [...nodeArgs, '--require', 'ts-node/register/transpile-only', 'bench/bare-server.ts'], {}, '/bare');
}

/**
 * nginx with the config renderNginxConf renders for the LoadBalancer, its upstream the given
 * loopback backends. One change: the per-client API rate limit is raised, because every benchmark
 * connection comes from 127.0.0.1 and the default (100 r/s per client) would answer 429.
 */
export async function startLoadBalancer(stack: Stack, backends: number[]): Promise<string> {
  const dir = join(stack.dir, `nginx-${backends.join('-')}`);
  mkdirSync(dir);
  const [http, status] = [await freePort(), await freePort()];
  const conf = renderNginxConf({
    ...loopbackNginxOptions(dir, { http, status }, backends),
    apiRateLimit: { rate: 1_000_000, per: 'second', burst: 1000 },
  });
  await startNginx(stack.group, dir, conf, http);
  return `http://127.0.0.1:${http}`;
}
