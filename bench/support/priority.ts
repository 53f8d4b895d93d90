import { readdirSync, readFileSync } from 'fs';
import { setPriority } from 'os';
import { run } from '../../test/support/processes';

/** The pids of every process started by `root`, at any depth (from /proc). */
export function descendants(root = process.pid): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc').filter(e => /^\d+$/.test(e))) {
    try {
      // Fields after the command name (in parentheses, may hold spaces): state, then the parent's pid.
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone since the listing
    }
  }
  const found: number[] = [];
  for (let queue = [root]; queue.length > 0;) {
    const next = children.get(queue.shift()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

/**
 * Sets the nice value of every thread of `pids` (Linux keeps it per thread, and a process started
 * later inherits its parent's). A negative value needs root.
 */
export function renice(pids: number[], priority: number): void {
  for (const pid of pids) {
    let threads: string[];
    try {
      threads = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of threads) {
      try {
        setPriority(Number(tid), priority);
      } catch {
        // exited meanwhile
      }
    }
  }
}

/**
 * Pins every thread of `pids` to the cores in `cpus` (taskset's list, e.g. "0"); a process started
 * later by one of them (a PostgreSQL backend forked for a new connection) inherits it.
 */
export async function pin(pids: number[], cpus: string): Promise<void> {
  for (const pid of pids) {
    // A process that exited since it was listed has nothing to pin.
    await run('taskset', ['-a', '-p', '-c', cpus, String(pid)]).catch(() => undefined);
  }
}
