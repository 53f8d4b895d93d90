import { ChildProcess } from 'child_process';
import { existsSync } from 'fs';
import { connect } from 'net';
import { delimiter, join } from 'path';
import { Container, Probe } from './chart';
import { LocalPod } from './cluster';
import { Binary, standIn } from './images';
import { PG_BIN } from './postgres-server';
import { ProcessGroup, run, waitFor } from './processes';

/** One container of the chart running as a local process. */
export interface LocalProcess {
  /** `<workload without the chart prefix>[/<container>]`: db-primary, db-replica/exporter, api, lb ... */
  readonly role: string;
  readonly pod: LocalPod;
  readonly container: Container;
  readonly env: Record<string, string>;
  child: ChildProcess;
  output: () => string;
  /** Where all its output is appended (LocalStackOptions.logDir), if anywhere. */
  readonly logFile?: string;
}

/** The binaries on PATH (or PostgreSQL's bin dir) that are missing, each with the package that has it. */
export function missingBinaries(binaries: Binary[]): Binary[] {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), PG_BIN];
  const unique = [...new Map(binaries.map(b => [b.binary, b])).values()];
  return unique.filter(b => !dirs.some(dir => existsSync(join(dir, b.binary))));
}

export function roleOf(pod: LocalPod, container: Container, chartName: string): string {
  const workload = pod.workload.name.startsWith(`${chartName}-`) ? pod.workload.name.slice(chartName.length + 1) : pod.workload.name;
  return container === pod.workload.containers[0] ? workload : `${workload}/${container.name}`;
}

/** The process env of a container: this machine's PATH (PostgreSQL's bin dir first) and HOME, then the pod's env. */
function processEnv(pod: LocalPod, container: Container): Record<string, string> {
  const base = { PATH: `${PG_BIN}${delimiter}${process.env.PATH}`, HOME: pod.dir, LANG: 'C.UTF-8' };
  return { ...base, ...pod.env(container) };
}

/** Starts a container of a pod as a process; resolves once the chart's own readiness (or startup) probe passes. */
export async function startContainer(group: ProcessGroup, pod: LocalPod, container: Container, role: string, logDir?: string): Promise<LocalProcess> {
  const local = standIn(container).command(pod, container);
  const env = { ...processEnv(pod, container), ...local.env };
  const logFile = logDir ? join(logDir, `${pod.name}_${container.name}.log`) : undefined;
  const started = group.spawn(local.command, local.args, { env, cwd: local.cwd ?? pod.dir, asUser: local.asUser, logFile });
  const proc: LocalProcess = { role, pod, container, env, child: started.child, output: started.output, logFile };
  await waitReady(proc);
  return proc;
}

/** Starts the process of `proc` again, same pod, same ports, same env (a restarted container). */
export async function restartContainer(group: ProcessGroup, proc: LocalProcess): Promise<void> {
  const local = standIn(proc.container).command(proc.pod, proc.container);
  const started = group.spawn(local.command, local.args, { env: proc.env, cwd: local.cwd ?? proc.pod.dir, asUser: local.asUser, logFile: proc.logFile });
  proc.child = started.child;
  proc.output = started.output;
  await waitReady(proc);
}

/** Runs a Job's container to completion; resolves with its output. */
export async function runToCompletion(pod: LocalPod, container: Container): Promise<string> {
  const local = standIn(container).command(pod, container);
  return run(local.command, local.args, { env: { ...processEnv(pod, container), ...local.env }, cwd: local.cwd ?? pod.dir, asUser: local.asUser, timeoutMs: 180_000 });
}

/** Resolves when the probe passes; rejects at once when the process exits first. */
async function waitReady(proc: LocalProcess): Promise<void> {
  const probe = proc.container.readinessProbe ?? proc.container.startupProbe;
  let exitedFirst = false;
  const exited = new Promise<never>((_, reject) => proc.child.once('exit', () => {
    exitedFirst = true;
    reject(new Error(`${proc.pod.name}/${proc.container.name} exited while starting:\n${proc.output().slice(-3000)}`));
  }));
  const ready = waitFor(`${proc.role} (${proc.pod.name}) to be ready`, async () => !exitedFirst && (probe ? probePasses(proc, probe) : true), 120_000, 200);
  await Promise.race([ready, exited]);
  exited.catch(() => undefined);
}

/** The chart's probe on loopback: httpGet and tcpSocket on the local port, exec with in-pod ports and paths rewritten. */
async function probePasses(proc: LocalProcess, probe: Probe): Promise<boolean> {
  const { pod } = proc;
  const portOf = (port: number | string) => (typeof port === 'number' ? pod.port(port) : pod.namedPort(port)!);
  if (probe.httpGet) {
    return (await fetch(`http://127.0.0.1:${portOf(probe.httpGet.port)}${probe.httpGet.path}`)).ok;
  }
  if (probe.tcpSocket) {
    const port = portOf(probe.tcpSocket.port);
    return new Promise(resolve => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
  }
  const containerPorts = new Set((proc.container.ports ?? []).map(p => String(p.containerPort)));
  const [command, ...args] = probe.exec!.command.map(word =>
    pod.rewrite(word).replace(/(?<=^|\s)(\d+)(?=\s|$)/g, n => (containerPorts.has(n) ? String(pod.port(Number(n))) : n)));
  await run(command, args, { env: proc.env, timeoutMs: 5_000 });
  return true;
}
