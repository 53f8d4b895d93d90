import { ChildProcess, execFile, spawn, SpawnOptions } from 'child_process';
import { chmodSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';

const execFileAsync = promisify(execFile);

/**
 * Ports the tests hand out: below the kernel's ephemeral range (32768 and up on Linux), so no
 * outgoing connection or `listen(0)` of another suite can take one between this check and the
 * server's bind, and each Jest worker draws from its own slice, so two suites never pick the
 * same. A Redis Cluster node also binds its port + 10000: that range is kept free too.
 */
const PORT_BASE = 11_000;
const PORT_SPAN = 10_000;
const SLICES = 8;
const SLICE = PORT_SPAN / SLICES;
const slice = (Number(process.env.JEST_WORKER_ID ?? '1') - 1) % SLICES;
// A random start, so a suite run again soon does not meet the ports of the last run still closing.
let nextPort = Math.floor(Math.random() * SLICE);

function bindable(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free TCP port on 127.0.0.1 (and free at + 10000, for a Redis Cluster bus) that no other test in this run gets. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < SLICE; tries++) {
    const port = PORT_BASE + slice * SLICE + (nextPort++ % SLICE);
    if (await bindable(port) && await bindable(port + PORT_SPAN)) return port;
  }
  throw new Error(`no free port left in ${PORT_BASE + slice * SLICE}-${PORT_BASE + (slice + 1) * SLICE - 1}`);
}

/** Polls `check` until it resolves truthy, at most `timeoutMs`; throws naming `what` otherwise. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const result = await withTimeout(check(), 5_000);
      if (result) return result;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/** Rejects when `promise` has not settled within `ms`: a check that hangs on a dead server is a failed check. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when this process runs as root, so servers that refuse root must run as `postgres`. */
export const isRoot = process.getuid?.() === 0;

/** Runs a command to completion and returns its stdout; throws with stderr on a non-zero exit. */
export async function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; asUser?: string; timeoutMs?: number } = {}): Promise<string> {
  const [file, argv] = options.asUser && isRoot ? ['runuser', ['-u', options.asUser, '--', command, ...args]] : [command, args];
  try {
    const { stdout } = await execFileAsync(file, argv, {
      env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

/**
 * The last `limit` characters of a process's output. Chunks are joined only when the text is asked
 * for or twice the limit has come in: joining and cutting the whole tail on every chunk copied 64 kB
 * per line of a process logging each request.
 */
export class OutputTail {
  private chunks: string[] = [];
  private length = 0;

  constructor(private readonly limit: number) {}

  public add(chunk: Buffer | string): void {
    const text = chunk.toString();
    this.chunks.push(text);
    this.length += text.length;
    if (this.length > 2 * this.limit) this.compact();
  }

  public text(): string {
    this.compact();
    return this.chunks[0];
  }

  private compact(): void {
    const tail = this.chunks.join('').slice(-this.limit);
    this.chunks = [tail];
    this.length = tail.length;
  }
}

/**
 * Long-running processes and temp dirs a suite starts, stopped and removed by `cleanup()`
 * (call it in `afterAll`, so it also runs when a test fails).
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();
  private readonly dirs: string[] = [];
  private readonly cleanups: Array<() => Promise<void>> = [];

  /**
   * Starts a process in the background; its output goes to the returned `output()` buffer (its
   * last 64 kB), and all of it to `logFile` when given.
   */
  public spawn(command: string, args: string[], options: SpawnOptions & { asUser?: string; logFile?: string } = {}): { child: ChildProcess; output: () => string } {
    const { logFile, ...spawnOptions } = options;
    const [file, argv] = options.asUser && isRoot ? ['runuser', ['-u', options.asUser, '--', command, ...args]] : [command, args];
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
    const output = new OutputTail(64_000);
    // A stream, not a write per chunk on the event loop that also runs the stack's forwarders.
    const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    const keep = (chunk: Buffer) => {
      output.add(chunk);
      log?.write(chunk);
    };
    child.on('close', () => log?.end());
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return { child, output: () => output.text() };
  }

  /** A new temp dir, removed at cleanup; readable by every user so servers run as `postgres` can use it. */
  public tempDir(prefix = 'hscale-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    chmodSync(dir, 0o777);
    this.dirs.push(dir);
    return dir;
  }

  /** Registers an async step (e.g. `pg_ctl stop`) to run at cleanup, before processes are killed. */
  public onCleanup(step: () => Promise<void>): void {
    this.cleanups.push(step);
  }

  /** Runs the registered steps (latest first), kills what still runs, removes the temp dirs. */
  public async cleanup(): Promise<void> {
    for (const step of this.cleanups.splice(0).reverse()) {
      await step().catch(() => undefined);
    }
    await Promise.all([...this.children].map(child => stopChild(child)));
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The postmaster's pid from its pid file, if the data directory has one. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

/** The pids of a process tree (children first is not needed: SIGKILL and SIGSTOP act at once). */
export async function treePids(root: number): Promise<number[]> {
  const out = await run('ps', ['-e', '-o', 'pid=,ppid=']);
  const rows = out.trim().split('\n').map(l => l.trim().split(/\s+/).map(Number));
  const pids = [root];
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of rows) if (pids.includes(ppid) && !pids.includes(pid)) { pids.push(pid); grew = true; }
  }
  return pids;
}
