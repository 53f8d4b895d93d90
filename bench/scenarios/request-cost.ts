import { cpus } from 'os';
import { Scenario } from '../support/context';
import { load as wrk } from '../support/node-load';
import { descendants, pin } from '../support/priority';
import { Figure } from '../support/report';
import { Backend, cpuSeconds, serviceEnv, Stack, startBackend, syscalls } from '../support/stack';
import { median } from '../support/stats';
import { LoadRun } from '../support/wrk';

const CONNECTIONS = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const READ_ITEMS = 1000;
/**
 * The backends are pinned to one core and wrk, PostgreSQL and Redis to the other (taskset), so on a
 * shared machine a backend's requests/s are its one core's, as a pod's are, and no server's work
 * lands on the core measured (about halves the spread of a ratio's rounds, 2026-12-07); unpinned
 * on a machine of one core.
 */
const PINNED = cpus().length >= 2;
const BACKEND_CPU = '1';
const LOAD_CPU = '0';

/** A service path and the bare handler doing only its unavoidable work with the same client. */
interface Pair {
  readonly id: 'cache' | 'replica' | 'primary' | 'write';
  readonly label: string;
  /** Goals on the ratios service/bare (requests/s, CPU per request), where the issue sets them. */
  readonly goals: boolean;
}

const ALL_PAIRS: Pair[] = [
  { id: 'cache', label: 'cache hit', goals: true },
  { id: 'replica', label: 'replica read', goals: true },
  { id: 'primary', label: 'primary read', goals: false },
  { id: 'write', label: 'write', goals: false },
];
/** BENCH_PAIRS=cache,replica measures only those pairs (for a profile or a before/after of one path). */
const PAIRS = ALL_PAIRS.filter(pair => !process.env.BENCH_PAIRS || process.env.BENCH_PAIRS.split(',').includes(pair.id));

interface Measured extends LoadRun {
  /** CPU microseconds of the backend process per request answered. */
  readonly cpuUsPerRequest: number;
  /** Write system calls of the backend process per request answered (socket writes: responses, queries, Redis commands). */
  readonly writesPerRequest: number;
}

async function measure(backend: Backend, load: () => Promise<LoadRun>): Promise<Measured> {
  const pid = backend.child.pid!;
  const [cpuBefore, callsBefore] = [cpuSeconds(pid), syscalls(pid)];
  const run = await load();
  return { ...run, cpuUsPerRequest: ((cpuSeconds(pid) - cpuBefore) * 1e6) / run.requests, writesPerRequest: (syscalls(pid).writes - callsBefore.writes) / run.requests };
}

/**
 * BENCH_COMPARE_SERVICE=<path of another build's server.js> adds that build as a third backend of
 * each pair, and BENCH_COMPARE_ENV='NAME=value ...' the service with other settings (both may be
 * given): the before and after of a change, measured in the same rounds.
 */
const COMPARE_SERVICE = process.env.BENCH_COMPARE_SERVICE;
const COMPARE_ENV = process.env.BENCH_COMPARE_ENV;
const compareEnv = (): Record<string, string> =>
  Object.fromEntries((COMPARE_ENV ?? '').split(/\s+/).filter(Boolean).map(pair => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));

type Role = 'service' | 'bare' | 'compare';

async function startPair(stack: Stack, pair: Pair, nodeArgs: string[]): Promise<Partial<Record<Role, Backend>>> {
  const bareArgs = [...nodeArgs, '--require', 'ts-node/register/transpile-only', 'bench/bare-backends.ts'];
  const replicaUrl = stack.pg.databaseUrl.replace(/:\d+\//, `:${stack.pg.replicas[0].port}/`);
  const bareEnv: Record<Pair['id'], Record<string, string>> = {
    cache: { BARE_MODE: 'cache', REDIS_CLUSTER_NODES: stack.redisNodes, REDIS_PASSWORD: serviceEnv(stack, { cache: true, readPolicy: 'replicas' }).REDIS_PASSWORD },
    replica: { BARE_MODE: 'replica', BARE_PG_URL: replicaUrl },
    primary: { BARE_MODE: 'primary', BARE_PG_URL: stack.pg.databaseUrl },
    write: { BARE_MODE: 'write', BARE_PG_URL: stack.pg.databaseUrl },
  };
  const env = serviceEnv(stack, { cache: pair.id === 'cache', readPolicy: pair.id === 'primary' ? 'primary' : 'replicas' });
  const ready = '/api/v1/scaling/health/readiness';
  const cpu = PINNED ? BACKEND_CPU : undefined;
  return {
    service: await startBackend(stack.group, [...nodeArgs, 'service/dist/server.js'], env, ready, cpu),
    bare: await startBackend(stack.group, bareArgs, bareEnv[pair.id], '/ready', cpu),
    ...(COMPARE_SERVICE || COMPARE_ENV
      ? { compare: await startBackend(stack.group, [...nodeArgs, COMPARE_SERVICE ?? 'service/dist/server.js'], { ...env, ...compareEnv() }, ready, cpu) }
      : {}),
  };
}

function pairFigures(pair: Pair, runs: Partial<Record<Role, Measured[]>>): Figure[] {
  const service = runs.service!;
  const bare = runs.bare!;
  const ratios = (of: Measured[], to: Measured[], pick: (m: Measured) => number) => of.map((m, i) => pick(m) / pick(to[i]));
  const ratio = (runsOf: Measured[], to: Measured[], pick: (m: Measured) => number) => ({ value: median(ratios(runsOf, to, pick)), runs: ratios(runsOf, to, pick) });
  const of = (measured: Measured[], pick: (m: Measured) => number) => ({ value: median(measured.map(pick)), runs: measured.map(pick) });
  const rps = (m: Measured) => m.rps;
  const cpu = (m: Measured) => m.cpuUsPerRequest;
  const compare = runs.compare ?? [];
  return [
    { name: `${pair.label}: service / bare requests/s`, unit: 'x', ...ratio(service, bare, rps), goal: pair.goals ? { op: '>=', target: 0.9 } : undefined },
    { name: `${pair.label}: service / bare CPU per request`, unit: 'x', ...ratio(service, bare, cpu), goal: pair.goals ? { op: '<=', target: 1.15 } : undefined },
    { name: `${pair.label}: service requests/s`, unit: 'req/s', ...of(service, rps) },
    { name: `${pair.label}: bare requests/s`, unit: 'req/s', ...of(bare, rps) },
    { name: `${pair.label}: service CPU per request`, unit: 'us', ...of(service, cpu) },
    { name: `${pair.label}: bare CPU per request`, unit: 'us', ...of(bare, cpu) },
    { name: `${pair.label}: service write system calls per request`, unit: '', ...of(service, m => m.writesPerRequest) },
    { name: `${pair.label}: bare write system calls per request`, unit: '', ...of(bare, m => m.writesPerRequest) },
    ...(compare.length === 0 ? [] : [
      { name: `${pair.label}: compared build / bare requests/s`, unit: 'x', ...ratio(compare, bare, rps) },
      { name: `${pair.label}: compared build / bare CPU per request`, unit: 'x', ...ratio(compare, bare, cpu) },
      { name: `${pair.label}: compared build CPU per request`, unit: 'us', ...of(compare, cpu) },
    ]),
    {
      // The runs are each backend's count: the service's, the bare handler's, then the compared build's.
      name: `${pair.label}: failed requests`, unit: '', value: [...service, ...bare, ...compare].reduce((n, m) => n + m.errors, 0), goal: { op: '<=', target: 0 },
      runs: [service, bare, compare].filter(r => r.length > 0).map(r => r.reduce((n, m) => n + m.errors, 0)),
    },
  ];
}

/** One pair's backends started, warmed and measured in rotating rounds; their figures. */
async function measurePair(stack: Stack, pair: Pair, nodeArgs: string[]): Promise<Figure[]> {
  const itemPaths = stack.items.slice(0, READ_ITEMS).map(id => `/api/v1/items/${id}`);
  const backends = await startPair(stack, pair, nodeArgs);
  const roles = Object.keys(backends) as Role[];
  const load = (backend: Backend, seconds: number) => () => {
    const common = { url: backend.url, seconds, connections: CONNECTIONS, dir: stack.dir, cpus: PINNED ? LOAD_CPU : undefined };
    return wrk(pair.id === 'write'
      ? { ...common, paths: ['/api/v1/items'], method: 'POST', body: JSON.stringify({ name: 'bench write', payload: { n: 1 } }), headers: { 'Content-Type': 'application/json', ...stack.writeHeaders } }
      : { ...common, paths: itemPaths });
  };
  // Every item read once through each service first: the cache holds them all, so (b) only hits.
  for (const role of pair.id === 'cache' ? roles.filter(r => r !== 'bare') : []) {
    for (const path of itemPaths) await (await fetch(`${backends[role]!.url}${path}`)).arrayBuffer();
  }
  for (const role of roles) await load(backends[role]!, 2)();
  const runs: Partial<Record<Role, Measured[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    // Rotating which goes first, so none always meets the machine in the same state.
    const order = roles.map((_, i) => roles[(i + round) % roles.length]);
    for (const role of order) (runs[role] ??= []).push(await measure(backends[role]!, load(backends[role]!, SECONDS)));
  }
  for (const role of roles) backends[role]!.child.kill('SIGTERM');
  return pairFigures(pair, runs);
}

/** Each service path against a bare Express handler doing the same Redis GET or query, CPU per request measured. */
export const requestCost: Scenario = {
  id: 'request-cost',
  title: '2b request cost vs bare handlers',
  async run(context) {
    const stack = await context.stack();
    const nodeArgs = context.profileDir ? ['--cpu-prof', '--cpu-prof-dir', context.profileDir] : [];
    // PostgreSQL and Redis beside the load generator while measuring, so that the backend measured
    // has its core to itself; given back every core after, for the scenarios that share the stack.
    if (PINNED) await pin(descendants(), LOAD_CPU);
    const figures: Figure[] = [];
    try {
      for (const pair of PAIRS) figures.push(...await measurePair(stack, pair, nodeArgs));
    } finally {
      if (PINNED) await pin(descendants(), `0-${cpus().length - 1}`);
    }
    return {
      figures,
      method: [
        `wrk straight to each backend (no nginx: the figure is the backend's cost), 2 threads, ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} rounds rotating which of the pair goes first, after 2 s of warm-up each.`,
        PINNED ? `Every backend pinned to core ${BACKEND_CPU}, and wrk, PostgreSQL and Redis to core ${LOAD_CPU} (taskset), so the backend measured has its core to itself.` : 'One core: nothing pinned.',
        'The service runs at its default log level, info: one JSON request line per request on stdout, a pipe the bench reads, as a pod\'s is read. The bare handlers log nothing.',
        'Writes send a write token (Authorization: Bearer, signed with the stack\'s key); without one they are 401s.',
        'Bare handlers (bench/bare-backends.ts): Express with one route and the same client: node-redis GET of the stored value sent as is; postgres.js running the service\'s item query on the same replica or primary; the same insert transaction and LSN read for a write.',
        'CPU per request: utime + stime of the backend process from /proc/<pid>/stat over the run, divided by the requests wrk counted. Ratios are taken within a round, then the median. Write system calls per request: syscw of /proc/<pid>/io over the run, likewise.',
        `Reads draw ${READ_ITEMS} seeded items uniformly; the cache pair reads every item once through the service before measuring, so the service and bare both find it.`,
      ],
    };
  },
};
