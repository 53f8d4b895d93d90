import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ProcessGroup, run, waitFor } from './processes';

/** The directory of the newest installed PostgreSQL server binaries. */
export const PG_BIN = (() => {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter(v => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest ? join(root, newest, 'bin') : '/usr/local/bin';
})();

/** Env for PostgreSQL commands and scripts: the server binaries first on PATH. */
export function pgEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${PG_BIN}:${process.env.PATH}`, ...extra };
}

/** A PostgreSQL server the tests run, as the `postgres` user, on a loopback port. */
export interface PgServer {
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  /** Runs SQL through psql on the socket as the `postgres` role; returns unaligned rows. */
  sql(query: string, database?: string): Promise<string>;
  /** `pg_ctl stop` in the given mode (immediate simulates a crash). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts the server again from its data directory. */
  start(): Promise<void>;
  /** SIGSTOPs (or SIGCONTs) the postmaster and every child: a server that stops answering at network level, connections open. */
  freeze(frozen: boolean): void;
}

/** The pids whose parent is `parent`, read from /proc. */
function childPids(parent: number): number[] {
  return readdirSync('/proc').filter(entry => /^[0-9]+$/.test(entry)).flatMap(pid => {
    try {
      // The fourth field of /proc/<pid>/stat, after the parenthesised command name, is the parent pid.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent ? [Number(pid)] : [];
    } catch {
      return []; // gone since the listing
    }
  });
}

function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** A fresh directory tree owned by `postgres`: base/{data,socket,etc}. */
export async function pgDirs(group: ProcessGroup): Promise<{ base: string; dataDir: string; socketDir: string; etcDir: string }> {
  const base = group.tempDir('hscale-pg-');
  const dirs = { base, dataDir: join(base, 'data'), socketDir: join(base, 'socket'), etcDir: join(base, 'etc') };
  for (const dir of [dirs.socketDir, dirs.etcDir]) mkdirSync(dir);
  await run('chown', ['-R', 'postgres:postgres', base]).catch(() => undefined);
  return dirs;
}

/** Writes a file readable by the `postgres` user. */
export function writeShared(path: string, content: string, mode = 0o644): void {
  writeFileSync(path, content, { mode });
}

/** `initdb` as the postgres user, with peer auth on the socket. */
export async function initdb(dataDir: string): Promise<void> {
  await run(join(PG_BIN, 'initdb'), ['-D', dataDir, '--auth-local=peer', '--auth-host=scram-sha-256', '--no-sync', '-U', 'postgres'],
    { asUser: 'postgres', env: pgEnv() });
}

/**
 * Runs `postgres -D <dataDir> -c config_file=<configFile>` (or a start script) in the background as
 * the postgres user and waits until it accepts connections on `socketDir`/`port`.
 */
export async function startServer(group: ProcessGroup, options: {
  port: number; dataDir: string; socketDir: string; command: string; args: string[]; env?: Record<string, string>;
  /** Receives a reader of the process output (e.g. what a start script printed). */
  onOutput?: (read: () => string) => void;
}): Promise<PgServer> {
  const sql = async (query: string, database = 'postgres') =>
    (await run(join(PG_BIN, 'psql'), ['-h', options.socketDir, '-p', String(options.port), '-U', 'postgres', '-d', database,
      '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', query], { asUser: 'postgres', env: pgEnv() })).trim();
  const start = async () => {
    const server = group.spawn(options.command, options.args, { asUser: 'postgres', env: pgEnv(options.env) });
    options.onOutput?.(server.output);
    await waitFor(`postgres on ${options.port}`, async () => {
      if (server.child.exitCode !== null) throw new Error(`postgres exited: ${server.output()}`);
      return (await sql('select 1')) === '1';
    }, 60_000, 200);
  };
  await start();
  const server: PgServer = {
    port: options.port,
    dataDir: options.dataDir,
    socketDir: options.socketDir,
    sql,
    stop: async (mode = 'fast') => {
      await run(join(PG_BIN, 'pg_ctl'), ['stop', '-D', options.dataDir, '-m', mode, '-w'], { asUser: 'postgres', env: pgEnv() });
    },
    start,
    freeze: frozen => {
      const postmaster = Number(readFileSync(join(options.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const signal = frozen ? 'SIGSTOP' : 'SIGCONT';
      // The postmaster first, so it forks no backend after the listing; a backend that exits in
      // between (a client closing, a connect timeout) is not an error: it has nothing left to freeze.
      process.kill(postmaster, signal);
      for (const pid of childPids(postmaster)) signalIfAlive(pid, signal);
    },
  };
  group.onCleanup(() => server.stop('immediate'));
  return server;
}

