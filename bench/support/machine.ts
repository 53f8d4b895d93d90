import { execFile } from 'child_process';
import { cpus, hostname, loadavg, totalmem } from 'os';
import { PG_BIN } from '../../test/support/postgres';
import { run } from '../../test/support/processes';
import { ROOT } from './stack';

/** Where and on what a run happened, recorded with its results. */
export interface Machine {
  readonly host: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  /** 1-minute load average when the run started and ended: other processes share the cores. */
  readonly loadAtStart: number;
  loadAtEnd?: number;
  readonly node: string;
  readonly versions: Record<string, string>;
  readonly commit: string;
}

/** The first line a `--version` style command prints (nginx prints it on stderr). */
function version(command: string, args: string[]): Promise<string> {
  return new Promise(resolve => execFile(command, args, (error, out, err) =>
    resolve(`${out}${err}`.trim().split('\n')[0] || (error ? 'not found' : 'unknown'))));
}

export async function describeMachine(): Promise<Machine> {
  const commit = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).then(s => s.trim(), () => 'unknown');
  const dirty = await run('git', ['status', '--porcelain', '--', '.', ':!bench/results', ':!bench/RESULTS.md'], { cwd: ROOT }).then(s => (s.trim() ? ' (with uncommitted changes)' : ''), () => '');
  return {
    host: hostname(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAtStart: loadavg()[0],
    node: process.version,
    versions: {
      nginx: await version('nginx', ['-v']),
      postgres: await version(`${PG_BIN}/postgres`, ['--version']),
      redis: await version('redis-server', ['--version']),
      wrk: await version('wrk', ['--version']),
    },
    commit: `${commit}${dirty}`,
  };
}

export function finishMachine(machine: Machine): void {
  machine.loadAtEnd = loadavg()[0];
}
