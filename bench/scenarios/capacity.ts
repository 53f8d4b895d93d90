import { cpus } from 'os';
import { join } from 'path';
import { run as runCommand } from '../../test/support/processes';
import { Scenario } from '../support/context';
import { chartCapacityTable, guideLoadTable, GUIDE_LOADS, PathCapacity, readApiAutoscaling } from '../support/hpa-plan';
import { pacedLoad, PacedOptions, PacedRun } from '../support/paced-load';
import { descendants, renice } from '../support/priority';
import { Figure } from '../support/report';
import { Backend, cpuSeconds, ROOT, serviceEnv, Stack, startBackend, startLoadBalancer } from '../support/stack';

/** The core the service is pinned to, and the one the load generator is. */
const SERVICE_CPU = '1';
const LOAD_CPU = '0';
export const P95_LIMIT_MS = 50;
const SECONDS = Number(process.env.BENCH_CAPACITY_SECONDS ?? 5);
const WARMUP_SECONDS = 1;
const START_RATE = 100;
/** Runs per path: doubling until a rate fails, then halving the interval. */
const MAX_STEPS = Number(process.env.BENCH_CAPACITY_STEPS ?? 10);
/** The search stops when the passing and failing rates are this close (a fraction of the failing one). */
const RESOLUTION = 0.05;
const READ_ITEMS = 1000;
/** Requests a run measures at least (at low rates it runs longer), for a p95 that is not one of a handful. */
const MIN_REQUESTS = 100;
const MAX_RUN_SECONDS = 15;
/**
 * A run before the search, not measured, that warms the JIT. The search starts at its lowest rate,
 * so what the JIT has not finished lands on it: after 1,000 requests the bare server still made 94
 * optimizations during its first run at 100 req/s, which cost 1,564 us per request against 1,077
 * in the next, 1,600 requests on (bench/NOTES.md, issue 22, capacity at low rates); after 2,000
 * requests 12-18 optimizations were left, after 4,000, 2-4. At a rate every path holds on a quiet
 * machine, so that no backlog is left for the idle reading.
 */
const WARMUP_RATE = 200;
const WARMUP_RUN_SECONDS = 20;
/** Timer wake-ups of an idle node process read for the machine's cost of one wake-up. */
const WAKEUPS = 500;
/** Seconds the process's CPU use is read with no load, to take it out of the CPU per request. */
const IDLE_SECONDS = 3;

/**
 * Nice value of every process of the run while this scenario measures (the service, nginx,
 * PostgreSQL, Redis, the load generator), so that on a machine shared with other work they get
 * about the share of their cores a pod gets from its CPU request. 0 keeps the machine's share.
 */
const NICE = Number(process.env.BENCH_CAPACITY_NICE ?? -10);

interface CapacityPath {
  readonly id: 'bare' | 'cache' | 'replica' | 'write';
  readonly label: string;
}

const PATHS: CapacityPath[] = [
  { id: 'bare', label: 'bare Express, constant JSON (the ceiling)' },
  { id: 'cache', label: 'cache hit' },
  { id: 'replica', label: 'replica read' },
  { id: 'write', label: 'write' },
];

/** One run at a fixed rate, and the service's CPU per request answered over it (warm-up included). */
export interface Step extends PacedRun {
  readonly cpuUsPerRequest: number;
  readonly passed: boolean;
}

export const passes = (run: PacedRun): boolean => run.errors === 0 && run.p95 < P95_LIMIT_MS;

/**
 * The search for the highest passing rate, one run at a time (so several paths can take turns and
 * meet the machine in the same states): doubling from `start` until a rate fails, then bisecting
 * between the highest pass and the lowest failure until they are within `resolution`, at most
 * `maxSteps` runs.
 */
export class RateSearch {
  public readonly steps: Step[] = [];
  public best?: Step;
  /** The rate to run next; undefined when the search is over. */
  public next?: number;
  private passed = 0;
  private failed = Infinity;

  constructor(start = START_RATE, private readonly maxSteps = MAX_STEPS, private readonly resolution = RESOLUTION) {
    this.next = start;
  }

  public record(step: Step): void {
    this.steps.push(step);
    if (step.passed) [this.passed, this.best] = [step.rate, step];
    else this.failed = step.rate;
    const next = this.failed === Infinity ? step.rate * 2 : Math.round((this.passed + this.failed) / 2);
    const close = this.failed !== Infinity && this.failed - this.passed <= this.resolution * this.failed;
    this.next = close || this.steps.length >= this.maxSteps || next === step.rate || next < 1 ? undefined : next;
  }
}

/** A whole {@link RateSearch} with one probe. */
export async function searchRate(probe: (rate: number) => Promise<Step>, start = START_RATE, maxSteps = MAX_STEPS, resolution = RESOLUTION): Promise<RateSearch> {
  const search = new RateSearch(start, maxSteps, resolution);
  while (search.next !== undefined) search.record(await probe(search.next));
  return search;
}

function startPathBackend(stack: Stack, path: CapacityPath): Promise<Backend> {
  if (path.id === 'bare') return startBackend(stack.group, ['--require', 'ts-node/register/transpile-only', 'bench/bare-server.ts'], {}, '/bare', SERVICE_CPU);
  const env = serviceEnv(stack, { cache: path.id === 'cache', readPolicy: 'replicas' });
  return startBackend(stack.group, ['service/dist/server.js'], env, '/api/v1/scaling/health/readiness', SERVICE_CPU);
}

function pacedOptions(stack: Stack, path: CapacityPath, url: string, rate: number): PacedOptions {
  const common = { url, rate, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS };
  if (path.id === 'bare') return { ...common, paths: ['/bare'] };
  if (path.id === 'write') return { ...common, paths: ['/api/v1/items'], method: 'POST', body: JSON.stringify({ name: 'bench write', payload: { n: 1 } }), headers: { 'Content-Type': 'application/json', ...stack.writeHeaders } };
  return { ...common, paths: stack.items.slice(0, READ_ITEMS).map(id => `/api/v1/items/${id}`) };
}

/** A path's backend behind its nginx, ready to be loaded, and its search. */
interface PathRun {
  readonly path: CapacityPath;
  readonly backend: Backend;
  readonly url: string;
  readonly idleCores: number;
  readonly search: RateSearch;
}

/** Measured seconds of a run at `rate`: enough requests for a p95 at low rates, within a bound. */
export const runSeconds = (rate: number): number => Math.min(MAX_RUN_SECONDS, Math.max(SECONDS, MIN_REQUESTS / rate));

async function preparePath(stack: Stack, path: CapacityPath): Promise<PathRun> {
  const backend = await startPathBackend(stack, path);
  const url = await startLoadBalancer(stack, [backend.port]);
  // Every item read once first: the cache holds them all, so the cache path only hits.
  if (path.id === 'cache') for (const item of pacedOptions(stack, path, url, 1).paths) await (await fetch(`${url}${item}`)).arrayBuffer();
  // JIT warm-up, so the first runs' CPU per request is not the compiler's.
  await pacedLoad({ ...pacedOptions(stack, path, url, WARMUP_RATE), seconds: WARMUP_RUN_SECONDS }, LOAD_CPU);
  const [idleStart, idleCpu] = [performance.now(), cpuSeconds(backend.child.pid!)];
  await new Promise(resolve => setTimeout(resolve, IDLE_SECONDS * 1000));
  const idleCores = (cpuSeconds(backend.child.pid!) - idleCpu) / ((performance.now() - idleStart) / 1000);
  return { path, backend, url, idleCores, search: new RateSearch() };
}

/** One run of `run`'s search at its next rate. */
async function probe(stack: Stack, run: PathRun): Promise<void> {
  const rate = run.search.next!;
  const options = { ...pacedOptions(stack, run.path, run.url, rate), seconds: runSeconds(rate) };
  const cpu = () => cpuSeconds(run.backend.child.pid!);
  const [started, before] = [performance.now(), cpu()];
  const result = await pacedLoad(options, LOAD_CPU);
  const busy = cpu() - before - run.idleCores * ((performance.now() - started) / 1000);
  run.search.record({ ...result, cpuUsPerRequest: (busy * 1e6) / (rate * (options.seconds + WARMUP_SECONDS)), passed: passes(result) });
}

/**
 * CPU (us) one wake-up of an idle node process costs on the service's core: a 10 ms timer that does
 * nothing, {@link WAKEUPS} times. At a low rate each request wakes the service alone and pays this and
 * its code's cold caches; at the per-core rate many share a wake-up. It is the machine's, not the service's.
 */
async function wakeupCostUs(): Promise<number> {
  const script = `let i = 0; const c0 = process.cpuUsage();
    const tick = () => { if (++i < ${WAKEUPS}) return void setTimeout(tick, 10); const c = process.cpuUsage(c0); console.log((c.user + c.system) / ${WAKEUPS}); };
    setTimeout(tick, 10);`;
  return Number(await runCommand('taskset', ['-c', SERVICE_CPU, process.execPath, '-e', script]));
}

function pathFigures({ path, search: found, idleCores }: PathRun): Figure[] {
  const rates = found.steps.map(s => s.rate);
  return [
    { name: `${path.label}: highest rate with p95 < ${P95_LIMIT_MS} ms, per core`, value: found.best?.rate ?? null, unit: 'req/s', runs: rates, note: 'runs: the rates tried, in order' },
    { name: `${path.label}: p95 at that rate`, value: found.best?.p95 ?? null, unit: 'ms', runs: found.steps.map(s => s.p95), goal: { op: '<', target: P95_LIMIT_MS } },
    { name: `${path.label}: CPU per request at that rate, idle use taken out`, value: found.best?.cpuUsPerRequest ?? null, unit: 'us', runs: found.steps.map(s => s.cpuUsPerRequest) },
    { name: `${path.label}: CPU used idle`, value: idleCores * 1000, unit: 'millicores' },
  ];
}

/** For one service process on one core behind nginx, the highest fixed rate whose p95 stays under 50 ms; then pods for the guides' loads. */
export const capacity: Scenario = {
  id: 'capacity',
  title: '7 capacity per core via nginx',
  async run(context) {
    if (cpus().length < 2) throw new Error('capacity needs 2 cores: one for the service, one for the load generator');
    const stack = await context.stack();
    const runs: PathRun[] = [];
    let wakeupUs: number;
    try {
      for (const path of PATHS) runs.push(await preparePath(stack, path));
      renice([process.pid, ...descendants()], NICE);
      // The searches take turns, one run each, so every path meets the machine's other work alike.
      for (let pending = runs; pending.length > 0; pending = runs.filter(r => r.search.next !== undefined)) {
        for (const run of pending) await probe(stack, run);
      }
      wakeupUs = await wakeupCostUs();
    } finally {
      renice([process.pid, ...descendants()], 0);
      for (const run of runs) run.backend.child.kill('SIGTERM');
    }
    const measured: PathCapacity[] = runs.filter(r => r.search.best && r.path.id !== 'bare').map(r => ({
      label: r.path.label, rpsPerCore: r.search.best!.rate, idleCores: r.idleCores,
      cpuUsByRate: r.search.steps.filter(s => s.passed).map((s): [number, number] => [s.rate, s.cpuUsPerRequest]),
    }));
    const charts = readApiAutoscaling(join(ROOT, 'dist'));
    return {
      figures: [...runs.flatMap(pathFigures), {
        name: 'CPU of one wake-up of an idle node process on the service\'s core (a 10 ms timer that does nothing)', value: wakeupUs, unit: 'us',
        note: 'the machine\'s; paid by every request at low rates, shared at the per-core rate',
      }],
      tables: measured.length === 0 ? [] : [
        { title: 'What each chart\'s API pods carry, from the figures above and dist/*.k8s.yaml', ...chartCapacityTable(charts, measured) },
        { title: 'Pods the HPA would run for the guides\' stated loads', ...guideLoadTable(charts, measured) },
      ],
      method: [
        `One service process pinned to core ${SERVICE_CPU} (\`taskset -c ${SERVICE_CPU}\`) behind its own nginx (renderNginxConf); PostgreSQL (primary + 1 replica), the Redis Cluster and nginx not pinned; the load generator pinned to core ${LOAD_CPU}. All of them at nice ${NICE} while measuring (BENCH_CAPACITY_NICE), so that other work on the machine takes less of their cores; the load average above says how much there was.`,
        'Paths: the bare Express handler of scenario 2 (constant JSON: what the machine allows any Node process, not planned with), cache hit (GET /api/v1/items/:id, cache on, every item read once before), replica read (cache off, READ_POLICY=replicas), write (POST /api/v1/items with a write token, cache off).',
        `Load at a fixed rate (bench/support/paced-load.ts, open loop: request i is due at i / rate, latency counted from that moment, so falling behind shows): ${WARMUP_SECONDS} s not measured, then ${SECONDS} s, longer at low rates for at least ${MIN_REQUESTS} requests (at most ${MAX_RUN_SECONDS} s). A rate passes when p95 < ${P95_LIMIT_MS} ms and no request failed. autocannon's rate option sends each connection's quota for the second in a burst, so it is not used.`,
        `Search: from ${START_RATE} req/s, doubling until a rate fails (halving when the first fails), then bisecting between the highest pass and the lowest failure until they are within ${RESOLUTION * 100}%, at most ${MAX_STEPS} runs per path; the four searches take turns, one run each, so all meet the machine's other work alike. CPU per request: the process's utime + stime (/proc) over the run, less its idle use (read for ${IDLE_SECONDS} s before, after ${WARMUP_RUN_SECONDS} s at ${WARMUP_RATE} req/s that warm the JIT), per request due. It falls as the rate rises because requests then share the process's wake-ups: at a low rate each request wakes it alone, and on this machine a wake-up costs the figure above plus the request's code on cold caches (bench/NOTES.md, issue 22, capacity at low rates: the same 100 req/s sent in bursts of 32 cost a cache hit 539 us per request, evenly spaced 1,400-1,590).`,
        `Pods: the HPA's steady state for a load is, per metric, ceil(load / the rate that keeps a pod's CPU request x target - CPU used idle busy, interpolated between the measured rates and their CPU per request, which falls as the rate rises) (and ceil(load / per-pod target) for a Pods metric), the largest, within min and max replicas; beside it the pods the CPU target asks if every request cost what it does at the per-core rate, the floor for nodes whose wake-ups cost nothing. A pod's p95 bound is the per-core rate times min(1, CPU limit): one Node process uses one core. Memory metrics are not modelled. Loads: ${GUIDE_LOADS.map(l => `${l.guide} ${l.stated}`).join('; ')}.`,
      ],
      data: { steps: Object.fromEntries(runs.map(r => [r.path.id, r.search.steps])), idleCores: Object.fromEntries(runs.map(r => [r.path.id, r.idleCores])), measured, charts },
    };
  },
};
