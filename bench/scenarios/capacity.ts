import { cpus } from 'os';
import { join } from 'path';
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
 * The highest passing rate within `maxSteps` runs: doubling from `start` until a rate fails, then
 * bisecting between the highest pass and the lowest failure until they are within `resolution`.
 */
export async function searchRate(probe: (rate: number) => Promise<Step>, start = START_RATE, maxSteps = MAX_STEPS, resolution = RESOLUTION): Promise<{ best?: Step; steps: Step[] }> {
  const steps: Step[] = [];
  let [passed, failed, rate] = [0, Infinity, start];
  let best: Step | undefined;
  for (let i = 0; i < maxSteps; i++) {
    const step = await probe(rate);
    steps.push(step);
    if (step.passed) [passed, best] = [rate, step];
    else failed = rate;
    if (failed !== Infinity && failed - passed <= resolution * failed) break;
    const next = failed === Infinity ? rate * 2 : Math.round((passed + failed) / 2);
    if (next === rate || next < 1) break;
    rate = next;
  }
  return { best, steps };
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

interface PathResult {
  readonly best?: Step;
  readonly steps: Step[];
  readonly idleCores: number;
}

async function measurePath(stack: Stack, path: CapacityPath): Promise<PathResult> {
  const backend = await startPathBackend(stack, path);
  try {
    const url = await startLoadBalancer(stack, [backend.port]);
    renice([process.pid, ...descendants()], NICE);
    // Every item read once first: the cache holds them all, so the cache path only hits.
    if (path.id === 'cache') for (const item of pacedOptions(stack, path, url, 1).paths) await (await fetch(`${url}${item}`)).arrayBuffer();
    const cpu = () => cpuSeconds(backend.child.pid!);
    const [idleStart, idleCpu] = [performance.now(), cpu()];
    await new Promise(resolve => setTimeout(resolve, IDLE_SECONDS * 1000));
    const idleCores = (cpu() - idleCpu) / ((performance.now() - idleStart) / 1000);
    const found = await searchRate(async rate => {
      const [started, before] = [performance.now(), cpu()];
      const run = await pacedLoad(pacedOptions(stack, path, url, rate), LOAD_CPU);
      const busy = cpu() - before - idleCores * ((performance.now() - started) / 1000);
      return { ...run, cpuUsPerRequest: (busy * 1e6) / (rate * (SECONDS + WARMUP_SECONDS)), passed: passes(run) };
    });
    return { ...found, idleCores };
  } finally {
    backend.child.kill('SIGTERM');
  }
}

function pathFigures(path: CapacityPath, found: PathResult): Figure[] {
  const rates = found.steps.map(s => s.rate);
  return [
    { name: `${path.label}: highest rate with p95 < ${P95_LIMIT_MS} ms, per core`, value: found.best?.rate ?? null, unit: 'req/s', runs: rates, note: 'runs: the rates tried, in order' },
    { name: `${path.label}: p95 at that rate`, value: found.best?.p95 ?? null, unit: 'ms', runs: found.steps.map(s => s.p95), goal: { op: '<', target: P95_LIMIT_MS } },
    { name: `${path.label}: CPU per request at that rate, idle use taken out`, value: found.best?.cpuUsPerRequest ?? null, unit: 'us', runs: found.steps.map(s => s.cpuUsPerRequest) },
    { name: `${path.label}: CPU used idle`, value: found.idleCores * 1000, unit: 'millicores' },
  ];
}

/** For one service process on one core behind nginx, the highest fixed rate whose p95 stays under 50 ms; then pods for the guides' loads. */
export const capacity: Scenario = {
  id: 'capacity',
  title: '7 capacity per core via nginx',
  async run(context) {
    if (cpus().length < 2) throw new Error('capacity needs 2 cores: one for the service, one for the load generator');
    const stack = await context.stack();
    const figures: Figure[] = [];
    const measured: PathCapacity[] = [];
    const steps: Record<string, Step[]> = {};
    try {
      for (const path of PATHS) {
        const found = await measurePath(stack, path);
        steps[path.id] = found.steps;
        figures.push(...pathFigures(path, found));
        if (found.best && path.id !== 'bare') measured.push({ label: path.label, rpsPerCore: found.best.rate, cpuUsPerRequest: found.best.cpuUsPerRequest, idleCores: found.idleCores });
      }
    } finally {
      renice([process.pid, ...descendants()], 0);
    }
    const charts = readApiAutoscaling(join(ROOT, 'dist'));
    return {
      figures,
      tables: measured.length === 0 ? [] : [
        { title: 'What each chart\'s API pods carry, from the figures above and dist/*.k8s.yaml', ...chartCapacityTable(charts, measured) },
        { title: 'Pods the HPA would run for the guides\' stated loads', ...guideLoadTable(charts, measured) },
      ],
      method: [
        `One service process pinned to core ${SERVICE_CPU} (\`taskset -c ${SERVICE_CPU}\`) behind its own nginx (renderNginxConf); PostgreSQL (primary + 1 replica), the Redis Cluster and nginx not pinned; the load generator pinned to core ${LOAD_CPU}. All of them at nice ${NICE} while measuring (BENCH_CAPACITY_NICE), so that other work on the machine takes less of their cores; the load average above says how much there was.`,
        'Paths: the bare Express handler of scenario 2 (constant JSON: what the machine allows any Node process, not planned with), cache hit (GET /api/v1/items/:id, cache on, every item read once before), replica read (cache off, READ_POLICY=replicas), write (POST /api/v1/items with a write token, cache off).',
        `Load at a fixed rate (bench/support/paced-load.ts, open loop: request i is due at i / rate, latency counted from that moment, so falling behind shows): ${WARMUP_SECONDS} s not measured, then ${SECONDS} s. A rate passes when p95 < ${P95_LIMIT_MS} ms and no request failed. autocannon's rate option sends each connection's quota for the second in a burst, so it is not used.`,
        `Search: from ${START_RATE} req/s, doubling until a rate fails (halving when the first fails), then bisecting between the highest pass and the lowest failure until they are within ${RESOLUTION * 100}%, at most ${MAX_STEPS} runs per path. CPU per request: the process's utime + stime (/proc) over the run, less its idle use (read for ${IDLE_SECONDS} s before), per request due.`,
        `Pods: the HPA's steady state for a load is, per metric, ceil(load x CPU per request / (CPU request x target)) (and ceil(load / per-pod target) for a Pods metric), the largest, within min and max replicas. A pod's p95 bound is the per-core rate times min(1, CPU limit): one Node process uses one core. Memory metrics are not modelled. Loads: ${GUIDE_LOADS.map(l => `${l.guide} ${l.stated}`).join('; ')}.`,
      ],
      data: { steps, measured, charts },
    };
  },
};
