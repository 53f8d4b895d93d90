import { existsSync, readFileSync } from 'fs';
import { LocalProcess } from '../../local/containers';

/** A process's output: all of it when the stack keeps logs (LocalStackOptions.logDir), else its last 64 kB. */
function outputOf(proc: LocalProcess): string {
  return proc.logFile && existsSync(proc.logFile) ? readFileSync(proc.logFile, 'utf8') : proc.output();
}

/** Addresses and ports out of an error message, so the same cause from each connection counts once. */
function normalized(message: string): string {
  return message.replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<addr>').replace(/\s+/g, ' ').trim().slice(0, 160);
}

/** How often a cause was logged, and first and last when, in seconds from the window's start. */
export interface CauseCount {
  readonly count: number;
  readonly firstSeconds: number;
  readonly lastSeconds: number;
}

/**
 * Why the API instances answered 5xx between `from` and `to` (ms since the epoch), by cause: the
 * error each logged with `request failed` (the driver's error is its cause, e.g. `read ECONNRESET`
 * when -rw had no member to forward to, `the primary is still in recovery` when the member holding
 * the leader lock had not left recovery yet), counted, with when (seconds from `from`).
 */
export function failureCauses(apis: LocalProcess[], from: number, to: number): Record<string, CauseCount> {
  const causes: Record<string, CauseCount> = {};
  for (const api of apis) {
    for (const line of outputOf(api).split('\n')) {
      if (!line.startsWith('{')) continue;
      let entry: { msg?: string; time?: number; err?: { message?: string } };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (entry.msg !== 'request failed' || entry.time === undefined || entry.time < from || entry.time > to) continue;
      const cause = normalized(entry.err?.message ?? 'no error message');
      const seconds = Math.round(entry.time - from) / 1000;
      const seen = causes[cause];
      causes[cause] = seen
        ? { count: seen.count + 1, firstSeconds: Math.min(seen.firstSeconds, seconds), lastSeconds: Math.max(seen.lastSeconds, seconds) }
        : { count: 1, firstSeconds: seconds, lastSeconds: seconds };
    }
  }
  return causes;
}

/** What a Patroni member logs on its way to leading and to a synchronous standby. */
const MILESTONES = [
  /promoted self to leader/, /Postponing promotion/, /updated by some(one|body) else/, /received promote request/,
  /database system is ready to accept connections/, /Assigning synchronous standby status/, /Synchronous standby status assigned/,
  /Updating synchronous privilege/, /parameter "synchronous_standby_names"/, /is now a synchronous standby/, /Unexpected error from Kubernetes API/,
];

/** Patroni's (`2026-12-07 06:08:35,875`) and PostgreSQL's (`2026-12-07 06:08:35.903 UTC`) timestamps, both UTC here. */
const STAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)[,.](\d{3})/;

/**
 * The member's milestones between `from` and `to` (ms since the epoch), each as seconds from
 * `from`: when it took the lock, when PostgreSQL left recovery, when it named a synchronous standby.
 */
export function leaderMilestones(member: LocalProcess, from: number, to: number): string[] {
  const found: string[] = [];
  for (const line of outputOf(member).split('\n')) {
    const stamp = STAMP.exec(line);
    if (!stamp || !MILESTONES.some(m => m.test(line))) continue;
    const at = Date.parse(`${stamp[1]}T${stamp[2]}.${stamp[3]}Z`);
    if (at < from || at > to) continue;
    found.push(`+${((at - from) / 1000).toFixed(2)} s ${line.slice(stamp[0].length).replace(/^ UTC \[\d+\]/, '').trim().slice(0, 120)}`);
  }
  return found;
}
