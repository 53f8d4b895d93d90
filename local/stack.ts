import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { parse } from 'yaml';
import { ChartObjects, chartNames, DIST_DIR, Workload } from './chart';
import { LocalCluster, LocalPod, PortPool } from './cluster';
import { LocalProcess, missingBinaries, restartContainer, roleOf, runToCompletion, startContainer } from './containers';
import { REPO_ROOT, standIn } from './images';
import { PatroniRoles, PatroniStore, patroniStoreMissing, runsPatroni } from './patroni';
import { PG_BIN } from './postgres-server';
import { postmasterPid, ProcessGroup, run, treePids, waitFor } from './processes';
import { writePrometheusConfig } from './prometheus';

export interface LocalStackOptions {
  /** The chart in dist/ to run (`<name>.k8s.yaml`). @default the only chart there, or 'hscale' */
  readonly chart?: string;
  /** At most this many pods of an HPA-scaled Deployment (the API). @default its minReplicas */
  readonly apiInstances?: number;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
  /** Where state.json goes. @default <repo>/.local/state.json */
  readonly stateFile?: string;
  readonly distDir?: string;
  /** A directory each container's whole output is appended to, `<pod>_<container>.log`, kept after `stop()`. @default none: only the last 64 kB of each, in memory */
  readonly logDir?: string;
}

export const DEFAULT_STATE_FILE = join(REPO_ROOT, '.local', 'state.json');
const PROMETHEUS = { binary: 'prometheus', aptPackage: 'prometheus' };

/** The order pods start in: the database primary (or every Patroni member), then what follows it, then what connects to all of them. */
function startTier(workload: Workload): number {
  const main = workload.containers[0];
  if (workload.kind === 'Job') return 2;
  if (runsPatroni(workload)) return 0;
  if (/^postgres:/.test(main.image)) return main.command ? 1 : 0;
  if (/^redis:/.test(main.image)) return 1;
  return /nginx/.test(main.image) ? 4 : 3;
}

/**
 * The pods of a workload the stack starts: one nginx (a second would only share its ports), one
 * run of a Job, else the chart's minimum, at most `apiInstances` of what an HPA scales. Nothing
 * scales a pool up from zero here, so an autoscaled one gets a pod; a StatefulSet of 0 replicas none.
 */
export function localPodCount(chart: ChartObjects, workload: Workload, apiInstances?: number): number {
  if (workload.kind === 'Job' || /nginx/.test(workload.containers[0].image)) return 1;
  const scaledBy = (kind: string) => chart.ofKind(kind).some(s => s.spec.scaleTargetRef.name === workload.name);
  const cap = scaledBy('HorizontalPodAutoscaler') && apiInstances ? apiInstances : Infinity;
  const floor = scaledBy('HorizontalPodAutoscaler') || scaledBy('ScaledObject') ? 1 : 0;
  return Math.max(floor, Math.min(workload.minReplicas, cap));
}

/** The chart's topology as processes on loopback; `start()` brings it up, `stop()` removes every process and directory. */
export class LocalStack {
  public readonly processes: LocalProcess[] = [];
  public prometheusPort = 0;
  private prometheus?: { child: LocalProcess['child']; dir: string };
  /** Bearer tokens for the stack's API, by what they may do; `write` once the API verifies tokens. */
  public tokens: { write?: string } = {};
  private readonly group = new ProcessGroup();
  public readonly root: string;
  public readonly cluster: LocalCluster;

  private constructor(public readonly chart: ChartObjects, portPool: PortPool, private readonly options: LocalStackOptions) {
    this.root = this.group.tempDir('hscale-local-');
    this.cluster = new LocalCluster(chart, this.root, portPool);
  }

  /** Checks the binaries and reserves ports; `start()` then brings the pods up. */
  public static async prepare(options: LocalStackOptions = {}): Promise<LocalStack> {
    const names = chartNames(options.distDir ?? DIST_DIR);
    const chart = ChartObjects.load(options.chart ?? (names.length === 1 ? names[0] : 'hscale'), options.distDir);
    const missing = missingBinaries([PROMETHEUS, ...chart.workloads().flatMap(w => w.containers.flatMap(c => standIn(c).binaries))]);
    if (missing.length > 0) {
      throw new Error(`missing ${missing.map(b => b.binary).join(', ')}: install them with\n  sudo apt-get install -y ${[...new Set(missing.map(b => b.aptPackage))].join(' ')}`);
    }
    const storeMissing = patroniStoreMissing(chart);
    if (storeMissing) throw new Error(storeMissing);
    return new LocalStack(chart, await PortPool.create(160), options);
  }

  /** `prepare()` then `start()`. */
  public static async start(options: LocalStackOptions = {}): Promise<LocalStack> {
    const stack = await LocalStack.prepare(options);
    await stack.start();
    return stack;
  }

  /** Starts every pod of the chart in dependency order, then Prometheus; stops what it started when one fails or `abort()` is called. */
  public async start(): Promise<void> {
    try {
      await this.startAll();
      this.writeState();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Makes a `start()` in progress stop at its next step and remove what it started. */
  public abort(): void {
    this.aborted = true;
  }

  private aborted = false;

  private checkNotAborted(): void {
    if (this.aborted) throw new Error('start aborted by a signal');
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private async startAll(): Promise<void> {
    const workloads = this.chart.workloads();
    for (const workload of workloads) this.cluster.addPods(workload, localPodCount(this.chart, workload, this.options.apiInstances));
    await Promise.all(this.cluster.pods.map(pod => pod.materialize()));
    await this.startPatroniStore();
    for (const tier of [...new Set(workloads.map(startTier))].sort()) {
      this.checkNotAborted();
      const pods = workloads.filter(w => startTier(w) === tier).flatMap(w => this.cluster.podsOf(w));
      this.log(`starting ${pods.map(p => p.name).join(', ')}`);
      await Promise.all(pods.map(pod => this.startPod(pod)));
    }
    this.checkNotAborted();
    await this.startPrometheus();
    this.tokens = { write: await this.writeToken() };
  }

  /** Patroni's members follow one another's roles: the test control plane as their store, and the role checks -rw and -ro follow. */
  private async startPatroniStore(): Promise<void> {
    const members = this.cluster.pods.filter(pod => runsPatroni(pod.workload));
    if (members.length === 0) return;
    this.log(`starting Patroni's store (the test control plane's Kubernetes API) for ${members.map(p => p.name).join(', ')}`);
    const store = await PatroniStore.start(this.chart, members, join(this.root, 'store'), line => this.log(line));
    this.group.onCleanup(() => store.stop());
    const rolesLog = this.options.logDir ? join(this.options.logDir, 'patroni-roles.log') : undefined;
    this.patroniRoles = new PatroniRoles(this.cluster, members, 500, rolesLog ? line => appendFileSync(rolesLog, `${new Date().toISOString()} ${line}\n`) : undefined);
    this.patroniRoles.start();
    this.group.onCleanup(() => this.patroniRoles!.stop());
  }

  /** The role label of each Patroni member as the -rw and -ro forwarders see it (undefined when the chart runs no Patroni). */
  public patroniRoles?: PatroniRoles;

  /**
   * A write token for the API, printed by `npm run token` (service/dist/token.js) on an API
   * process's own env, so it is signed with the key the chart gives the API; undefined when the
   * chart gives it none (then no write is accepted).
   */
  private async writeToken(): Promise<string | undefined> {
    const api = this.apiProcesses()[0] as LocalProcess | undefined;
    if (!api || (api.env.AUTH_SIGNING_KEY === undefined && api.env.AUTH_SIGNING_KEY_FILE === undefined)) return undefined;
    const printed = await run(process.execPath, [join(REPO_ROOT, 'service', 'dist', 'token.js'), '--subject', 'local-stack'], {
      env: { PATH: process.env.PATH, ...api.env },
    });
    return printed.trim();
  }

  private async startPod(pod: LocalPod): Promise<void> {
    this.checkNotAborted();
    const [main, ...sidecars] = pod.workload.containers;
    if (pod.workload.kind === 'Job') {
      this.log(`${pod.name}: ${(await runToCompletion(pod, main)).trim().split('\n').pop()}`);
      return;
    }
    if (/^postgres:/.test(main.image) || runsPatroni(pod.workload)) await run('chown', ['-R', 'postgres:postgres', pod.dir]).catch(() => undefined);
    // Patroni starts PostgreSQL detached from itself: when the pod goes, both go.
    if (runsPatroni(pod.workload)) this.group.onCleanup(async () => { await this.killPod(pod); });
    if (/^postgres:/.test(main.image) && !main.command) await this.initPrimary(pod);
    const proc = await startContainer(this.group, pod, main, roleOf(pod, main, this.chart.name), this.options.logDir);
    this.processes.push(proc);
    if (/^postgres:/.test(main.image)) this.group.onCleanup(() => this.stopPostgres(proc, 'immediate'));
    if (/^postgres:/.test(main.image) && !main.command) await this.runInitScripts(proc);
    for (const sidecar of sidecars) this.processes.push(await startContainer(this.group, pod, sidecar, roleOf(pod, sidecar, this.chart.name), this.options.logDir));
  }

  /** What the postgres image's entrypoint does before the server starts: initdb into an empty PGDATA. */
  private async initPrimary(pod: LocalPod): Promise<void> {
    const dataDir = pod.env(pod.workload.containers[0]).PGDATA;
    await run(join(PG_BIN, 'initdb'), ['-D', dataDir, '--auth-local=peer', '--auth-host=scram-sha-256', '--no-sync', '-U', 'postgres'],
      { asUser: 'postgres', env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH}` } });
  }

  /** ... and after it: the scripts mounted in /docker-entrypoint-initdb.d, with the container's env, on the socket. */
  private async runInitScripts(proc: LocalProcess): Promise<void> {
    const { socketDir, port } = this.postgresAddress(proc);
    const scripts = (proc.container.volumeMounts ?? []).filter(m => m.mountPath.startsWith('/docker-entrypoint-initdb.d/'));
    for (const script of scripts) {
      await run('sh', [proc.pod.localPath(script.mountPath)], { asUser: 'postgres', env: { ...proc.env, PGHOST: socketDir, PGPORT: String(port) } });
    }
  }

  /** The socket dir and local port of a PostgreSQL pod, read from its rewritten postgresql.conf (or patroni.yml). */
  public postgresAddress(proc: LocalProcess): { socketDir: string; port: number } {
    if (runsPatroni(proc.pod.workload)) {
      // The command's last word is patroni.yml (PATRONI_COMMAND).
      const config = parse(readFileSync(proc.pod.localPath(proc.container.command!.at(-1)!), 'utf8'));
      return { socketDir: config.postgresql.parameters.unix_socket_directories, port: proc.pod.namedPort('postgres')! };
    }
    const conf = readFileSync(proc.pod.localPath('/etc/postgresql/postgresql.conf'), 'utf8');
    return {
      socketDir: /^unix_socket_directories = '([^']+)'/m.exec(conf)![1],
      port: Number(/^port = (\d+)/m.exec(conf)![1]),
    };
  }

  /** psql as the `postgres` role on the pod's socket; unaligned rows. */
  public async psql(proc: LocalProcess, sql: string, database = 'postgres'): Promise<string> {
    const { socketDir, port } = this.postgresAddress(proc);
    return (await run(join(PG_BIN, 'psql'), ['-h', socketDir, '-p', String(port), '-U', 'postgres', '-d', database, '-X', '-A', '-t',
      '-v', 'ON_ERROR_STOP=1', '-c', sql], { asUser: 'postgres', env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH}` } })).trim();
  }

  /** `pg_ctl stop`: fast (a clean stop) or immediate (a crash). */
  public async stopPostgres(proc: LocalProcess, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await run(join(PG_BIN, 'pg_ctl'), ['stop', '-D', proc.env.PGDATA, '-m', mode, '-w'], { asUser: 'postgres', env: proc.env });
  }

  private async startPrometheus(): Promise<void> {
    const dir = join(this.root, 'prometheus');
    mkdirSync(join(dir, 'data'), { recursive: true });
    const config = writePrometheusConfig(this.chart, this.cluster.pods, dir);
    this.prometheusPort = this.cluster.portPool.take();
    const prometheus = this.group.spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${this.prometheusPort}`, '--log.level=warn'], { cwd: dir });
    await waitFor('prometheus to be ready', async () => {
      if (prometheus.child.exitCode !== null) throw new Error(`prometheus exited: ${prometheus.output()}`);
      return (await fetch(`http://127.0.0.1:${this.prometheusPort}/-/ready`)).ok;
    }, 60_000, 200);
    this.prometheus = { child: prometheus.child, dir };
  }

  /** The API instances, whatever their Deployment is called: the reference service run by its image's CMD (workers name a command). */
  public apiProcesses(): LocalProcess[] {
    return this.processes.filter(p => /reference-service:/.test(p.container.image) && !p.container.command);
  }

  /** The processes of a role (`api`, `db-replica`, `cache`, `lb/exporter` ...). */
  public ofRole(role: string): LocalProcess[] {
    return this.processes.filter(p => p.role === role);
  }

  /** Sends a signal to a container's process and waits for it to exit. */
  public async kill(proc: LocalProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    const exited = new Promise(resolve => proc.child.once('exit', resolve));
    proc.child.kill(signal);
    await exited;
  }

  /**
   * Sends a signal to every process of a pod, as when the pod is lost (SIGKILL) or frozen (SIGSTOP,
   * SIGCONT): each container's process tree and each PostgreSQL server started from the pod's
   * data (Patroni starts it detached). Resolves, once a killed pod's containers have exited, with
   * when the signals were sent (ms since the epoch).
   */
  public async killPod(pod: LocalPod, signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const containers = this.processes.filter(p => p.pod === pod);
    const roots = [...containers.map(p => p.child.pid!), ...runningDataDirs(pod.dir).map(postmasterPid)].filter((pid): pid is number => !!pid);
    const pids = [...new Set((await Promise.all(roots.map(treePids))).flat())];
    for (const pid of pids) {
      try { process.kill(pid, signal); } catch { /* gone since the listing */ }
    }
    const signalledAt = Date.now();
    if (signal === 'SIGKILL') {
      await waitFor(`${pod.name} to exit`, async () => containers.every(p => p.child.exitCode !== null || p.child.signalCode !== null), 10_000, 50);
    }
    return signalledAt;
  }

  /** Starts every container of a lost pod again, in order, each waiting for its readiness probe (same ports and data). */
  public async restartPod(pod: LocalPod): Promise<void> {
    for (const proc of this.processes.filter(p => p.pod === pod)) await this.restart(proc);
  }

  /** Starts a stopped container again in its pod (same ports and env) and waits for its readiness probe. */
  public async restart(proc: LocalProcess): Promise<void> {
    await restartContainer(this.group, proc);
  }

  /** The addresses to print: the load balancer, each API pod, PostgreSQL, Redis, Prometheus. */
  public urls(): Record<string, string> {
    const urls: Record<string, string> = {};
    const mains = this.processes.filter(p => p.container === p.pod.workload.containers[0]).sort((a, b) => a.pod.name.localeCompare(b.pod.name));
    for (const proc of mains) {
      const ports = (proc.container.ports ?? []).map(p => `${p.name ?? p.containerPort}=${proc.pod.port(p.containerPort)}`);
      const https = proc.pod.namedPort('https');
      const http = proc.pod.namedPort('http');
      urls[proc.pod.name] = https ? `https://localhost:${https}/ (http ${http})` : http ? `http://127.0.0.1:${http}/` : ports.join(' ');
    }
    urls.prometheus = `http://127.0.0.1:${this.prometheusPort}/`;
    return urls;
  }

  /** Every process with its role, pid, ports and data dir, and each Service forwarder. */
  public state(): object {
    const processes = this.processes.map(p => ({
      role: p.role, pod: p.pod.name, container: p.container.name, pid: p.child.pid,
      ports: Object.fromEntries((p.container.ports ?? []).map(port => [port.name ?? String(port.containerPort), p.pod.port(port.containerPort)])),
      dataDir: p.pod.dir,
    }));
    const prometheus = { role: 'prometheus', pid: this.prometheus?.child.pid, ports: { http: this.prometheusPort }, dataDir: this.prometheus?.dir };
    const services = [...this.cluster.forwarders.values()].map(f => ({
      role: 'service', service: f.service, pid: process.pid, ports: { [f.servicePort]: f.port }, targets: f.targetPods,
    }));
    return {
      chart: this.chart.name, root: this.root, supervisorPid: process.pid, urls: this.urls(), tokens: this.tokens,
      processes: [...processes, prometheus, ...services],
    };
  }

  private writeState(): void {
    const file = this.options.stateFile ?? DEFAULT_STATE_FILE;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(this.state(), null, 2)}\n`);
  }

  /** Stops every process (PostgreSQL through pg_ctl), closes the forwarders, removes the temp dirs and the state file. */
  public async stop(): Promise<void> {
    await this.group.cleanup();
    await Promise.all([...this.cluster.forwarders.values()].map(f => f.close()));
    rmSync(this.options.stateFile ?? DEFAULT_STATE_FILE, { force: true });
  }
}

/** The directories under a pod's directory with a `postmaster.pid` (its running PostgreSQL data directories), at most `depth` levels down. */
function runningDataDirs(dir: string, depth = 3): string[] {
  if (!existsSync(dir) || depth < 0) return [];
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.some(e => e.name === 'postmaster.pid')) return [dir];
  return entries.filter(e => e.isDirectory()).flatMap(e => runningDataDirs(join(dir, e.name), depth - 1));
}
