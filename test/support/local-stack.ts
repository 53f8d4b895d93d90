import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ChartObjects } from '../../local/chart';
import { LocalProcess } from '../../local/containers';
import { REPO_ROOT } from '../../local/images';
import { runsPatroni } from '../../local/patroni';
import { scrapeConfigs } from '../../local/prometheus';
import { LocalStack } from '../../local/stack';
import { failureSummary, LoadReport, MixedLoad } from './load';
import { run, sleep, waitFor } from './processes';
import { asGrafanaSends } from './promql';

/** What the database holds of a load's items against the writes acknowledged to it. */
export interface DatabaseOutcome {
  readonly lost: number;
  readonly duplicated: number;
  readonly unacknowledged: number;
}

/** What Prometheus's instant query API answers. */
interface PromQueryAnswer {
  readonly status: string;
  readonly error?: string;
  readonly data: { readonly result: Array<{ readonly metric: Record<string, string>; readonly value: [number, string] }> };
}

/**
 * Series this machine cannot have: kube-state-metrics', the kubelet's (its cAdvisor `container_*` too) and KEDA's (a cluster's), and two that
 * postgres_exporter has only since after Debian's 0.11 (the charts run v0.15: its `replication`
 * and `replication_slot` collectors).
 */
/** The local Prometheus's scrape interval (local/prometheus.ts). */
const SCRAPE_SECONDS = 5;
const NOT_HERE = /^(kube_|kubelet_|container_|keda_|pg_replication_lag_seconds\{|pg_replication_slot_slot_is_active\{)/;

/** The metric selectors (`name{...}` or a bare name) of a PromQL expression. */
export function selectors(expr: string): string[] {
  const found = expr.match(/[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}/g) ?? [];
  const bare = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(==|>|<|$)/.exec(expr.trim())?.[1];
  return [...found, ...(bare ? [bare] : [])];
}

/**
 * The selector with each matcher turned into "the label is set": a selector of failures
 * (`status=~"5.."`) is rightly empty while nothing fails, but its metric and labels must exist.
 */
export function labelsPresent(selector: string): string {
  return selector.replace(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g, '$1!=""');
}

/** How many loops send the mixed load, how far apart each sends, and whether each is its own client. */
export interface LoadShape {
  readonly loops: number;
  readonly pauseMs: number;
  readonly clientPerLoop: boolean;
}

/** About 40 requests a second from one client, unless the chart's API rate limit allows a client less. */
const DEFAULT_LOAD: LoadShape = { loops: 4, pauseMs: 80, clientPerLoop: false };
const DEFAULT_RATE = 40;

/**
 * A load of about the default rate that stays under the API rate limit of the chart's nginx:
 * when one client may not send that much, as many clients as it takes, each at 80% of its limit.
 */
export function loadShapeUnder(chart: ChartObjects): LoadShape {
  const conf = chart.ofKind('ConfigMap').map(c => c.data?.['nginx.conf']).find(text => text !== undefined) ?? '';
  const limit = /limit_req_zone \S+ zone=api_requests:\S+ rate=(\d+)r\/([sm]);/.exec(conf);
  const perSecond = limit ? Number(limit[1]) / (limit[2] === 'm' ? 60 : 1) : Infinity;
  if (perSecond >= DEFAULT_RATE * 1.25) return DEFAULT_LOAD;
  const eachPerSecond = perSecond * 0.8;
  return { loops: Math.ceil(DEFAULT_RATE / eachPerSecond), pauseMs: Math.round(1000 / eachPerSecond), clientPerLoop: true };
}

/** The Patroni members of a local stack (their `patroni` containers). */
export function patroniMembers(stack: LocalStack): LocalProcess[] {
  return stack.processes.filter(p => runsPatroni(p.pod.workload) && p.container === p.pod.workload.containers[0]);
}

/** The PostgreSQL primary: the statefulset engine's, or the Patroni member the -rw forwarder follows now. */
function currentPrimary(stack: LocalStack): LocalProcess {
  const primary = stack.ofRole('db-primary')[0] ?? patroniMembers(stack).find(m => stack.patroniRoles?.role(m.pod) === 'master');
  if (!primary) throw new Error(`no PostgreSQL primary in the ${stack.chart.name} stack: no db-primary, and no Patroni member labelled master`);
  return primary;
}

/**
 * A chart's local stack under test: a steady mixed load through its nginx, with every
 * acknowledged write kept across faults and checked against the database, and the measured
 * figures of each fault, written to `.local/<figuresFile>` for docs/local-stack.md.
 */
export class StackUnderTest {
  public readonly acknowledged = new Map<string, string>();
  public readonly figures: Record<string, object> = {};
  /** The PostgreSQL primary now: a failover test points it at the promoted replica. */
  public primary: () => LocalProcess;

  /** `load` shapes the mixed load. @default {@link loadShapeUnder} the chart's rate limit */
  constructor(public readonly stack: LocalStack, private readonly figuresFile: string, private readonly load = loadShapeUnder(stack.chart)) {
    this.primary = () => currentPrimary(stack);
  }

  /** The HTTPS port of the chart's nginx, whatever its Deployment is called. */
  public lbPort(): number {
    return this.stack.processes.find(p => /(^|\/)nginx(-unprivileged)?:/.test(p.container.image) && p.pod.namedPort('https'))!.pod.namedPort('https')!;
  }

  /** Runs `fault` under load (2 s of load before it and 3 s after); records every acknowledged write and the figures. */
  public async underLoad(name: string, fault: (load: MixedLoad) => Promise<object | void>): Promise<LoadReport & { measured: object }> {
    const load = new MixedLoad(this.lbPort(), this.load.loops, this.load.pauseMs, name, this.load.clientPerLoop, this.stack.tokens.write);
    load.start();
    try {
      await sleep(2_000);
      const measured = (await fault(load)) ?? {};
      await sleep(3_000);
      const report = await load.stop();
      for (const [id, itemName] of report.acknowledged) this.acknowledged.set(id, itemName);
      this.figures[name] = { ...report.ok, failed: failureSummary(report), seconds: (report.stoppedAt - report.startedAt) / 1000, ...measured };
      return { ...report, measured };
    } finally {
      await load.stop();
      load.close();
    }
  }

  /** The load's items in the database against the acknowledged writes: lost, duplicated, and stored without an acknowledgement. */
  public async databaseAgainstAcknowledged(proc: LocalProcess = this.primary()): Promise<DatabaseOutcome> {
    const rows = (await this.stack.psql(proc, "select id, name from items where name ~ '-[0-9a-f]{8}-'", 'app')).split('\n').filter(Boolean);
    const ids = new Set(rows.map(row => row.split('|')[0]));
    const names = rows.map(row => row.split('|')[1]);
    return {
      lost: [...this.acknowledged.keys()].filter(id => !ids.has(id)).length,
      duplicated: names.length - new Set(names).size,
      unacknowledged: [...ids].filter(id => !this.acknowledged.has(id)).length,
    };
  }

  /** The API instances and workers that have exited, each with its exit code or signal and the end of its output. */
  public exitedServices(): string[] {
    const services = [...new Set([...this.stack.apiProcesses(), ...this.stack.processes.filter(p => p.env.WORKER_QUEUES !== undefined)])];
    const exited = services.filter(p => p.child.exitCode !== null || p.child.signalCode !== null);
    return exited.map(p => `${p.pod.name} exited ${p.child.exitCode ?? p.child.signalCode}: ${p.output().slice(-1500)}`);
  }

  /** Every API instance and worker still runs. */
  public expectServicesRunning(): void {
    expect(this.exitedServices()).toEqual([]);
  }

  /** Nothing lost, nothing duplicated, no service process gone. */
  public async expectDatabaseAgrees(): Promise<void> {
    expect(await this.databaseAgainstAcknowledged()).toEqual(expect.objectContaining({ lost: 0, duplicated: 0 }));
    this.expectServicesRunning();
  }

  /** The chart's queue workers: the processes given WORKER_QUEUES that serve no HTTP. */
  public workers(): LocalProcess[] {
    return this.stack.processes.filter(p => p.env.WORKER_QUEUES !== undefined && p.role !== 'api');
  }

  /** Enqueues an items.create job with the CLI the chart's CronJobs run, on a worker's own env, and waits until a worker has finished it. */
  public async expectWorkerTakes(name: string): Promise<void> {
    const before = await this.jobsDone();
    const worker = this.workers()[0];
    const queue = worker.env.WORKER_QUEUES!.split(',')[0];
    await run(process.execPath, [join(REPO_ROOT, 'service/dist/enqueue.js'), queue, 'items.create', JSON.stringify({ name, payload: {} })],
      { env: { ...process.env, ...worker.env } });
    await waitFor(`a worker to finish ${name}`, async () => (await this.jobsDone()) > before, 30_000, 250)
      .catch(error => { throw new Error(`${String(error)}\n${worker.output().slice(-2000)}`); });
  }

  /** Jobs the workers have finished, from their own /metrics. */
  private async jobsDone(): Promise<number> {
    const texts = await Promise.all(this.workers().map(w => fetch(`http://127.0.0.1:${w.pod.namedPort('metrics')}/metrics`).then(r => r.text())));
    return texts.flatMap(text => [...text.matchAll(/^worker_jobs_total\{[^}]*\} (\d+)/gm)]).reduce((sum, m) => sum + Number(m[1]), 0);
  }

  /**
   * redis-cli on a Redis process as the user a pod would be (the exporter for ROLE and INFO, the app
   * for the rest), or on a Sentinel with the Sentinels' password.
   */
  public async redisCli(node: LocalProcess, args: string[], portName = 'redis'): Promise<string> {
    const [user, password] = portName === 'sentinel' ? [undefined, node.env.SENTINEL_PASSWORD]
      : ['role', 'info'].includes(args[0]) ? ['exporter', node.env.REDIS_EXPORTER_PASSWORD] : ['app', node.env.REDIS_PASSWORD];
    const login = user ? ['--user', user] : [];
    return run('redis-cli', ['-p', String(node.pod.namedPort(portName)), ...login, ...args], { env: { ...process.env, REDISCLI_AUTH: password } });
  }

  /** A PromQL query on the stack's Prometheus. */
  public async query(promql: string): Promise<PromQueryAnswer> {
    return (await fetch(`http://127.0.0.1:${this.stack.prometheusPort}/api/v1/query?query=${encodeURIComponent(promql)}`)).json() as Promise<PromQueryAnswer>;
  }

  /** Each target Prometheus does not have up, with its last scrape error. */
  private async targetErrors(): Promise<string> {
    const answer = await (await fetch(`http://127.0.0.1:${this.stack.prometheusPort}/api/v1/targets`)).json() as {
      data: { activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string }> };
    };
    return JSON.stringify(answer.data.activeTargets.filter(t => t.health !== 'up').map(t => `${t.scrapeUrl}: ${t.health} ${t.lastError}`));
  }

  /** Waits, under load, until Prometheus has every target of the chart's PodMonitors up and two scrapes with traffic; returns the targets. */
  public async expectEveryTargetUp(name: string): Promise<number> {
    const targets = scrapeConfigs(this.stack.chart, this.stack.cluster.pods, `${SCRAPE_SECONDS}s`)
      .flatMap(job => (job as { static_configs: unknown[] }).static_configs).length;
    await this.underLoad(name, async () => {
      let seen = 0;
      let notUp: Array<Record<string, string>> = [];
      await waitFor(`all ${targets} targets up`, async () => {
        const up = (await this.query('up')).data.result;
        seen = up.length;
        notUp = up.filter(s => s.value[1] !== '1').map(s => s.metric);
        return up.length === targets && notUp.length === 0;
      }, 60_000, 1_000).catch(async error => {
        throw new Error(`${(error as Error).message} (${seen} targets known; not up: ${JSON.stringify(notUp)}; Prometheus says: ${await this.targetErrors()})`);
      });
      await sleep(12_000); // two scrapes with traffic, so rates have two samples
      return { targets };
    });
    return targets;
  }

  /**
   * Every alert, recording and dashboard panel expression of the chart, run on the live stack:
   * those that do not parse, the selectors that select nothing (not even their labels), and
   * the failure selectors that are empty only because nothing failed.
   */
  public async chartQueries(): Promise<{ unparsed: string[]; empty: string[]; quiet: string[] }> {
    const chart = this.stack.chart;
    const expressions = chart.ofKind('PrometheusRule').flatMap(r => r.spec.groups.flatMap((g: { rules: Array<{ expr: string }> }) => g.rules.map(rule => rule.expr)));
    for (const dashboard of chart.ofKind('ConfigMap').filter(c => c.metadata.labels?.grafana_dashboard)) {
      for (const content of Object.values(dashboard.data ?? {})) {
        for (const panel of (JSON.parse(content) as { panels: Array<{ targets?: Array<{ expr: string }> }> }).panels) expressions.push(...(panel.targets ?? []).map(t => asGrafanaSends(t.expr, SCRAPE_SECONDS)));
      }
    }
    const unparsed: string[] = [];
    const empty = new Set<string>();
    const quiet = new Set<string>();
    const selects = async (selector: string) => (await this.query(selector)).data.result.length > 0;
    for (const expr of expressions) {
      const result = await this.query(expr);
      if (result.status !== 'success') unparsed.push(`${expr}: ${result.error}`);
      for (const selector of selectors(expr).filter(s => !NOT_HERE.test(s))) {
        if (await selects(selector)) continue;
        (await selects(labelsPresent(selector)) ? quiet : empty).add(selector);
      }
    }
    return { unparsed, empty: [...empty], quiet: [...quiet] };
  }

  public writeFigures(): void {
    mkdirSync(join(REPO_ROOT, '.local'), { recursive: true });
    writeFileSync(join(REPO_ROOT, '.local', this.figuresFile), `${JSON.stringify(this.figures, null, 2)}\n`);
  }
}
