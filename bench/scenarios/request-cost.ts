import { readFileSync } from 'fs';
import { Scenario } from '../support/context';
import { load as wrk } from '../support/node-load';
import { Figure } from '../support/report';
import { Backend, serviceEnv, Stack, startBackend } from '../support/stack';
import { median } from '../support/stats';
import { LoadRun } from '../support/wrk';

const CONNECTIONS = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const READ_ITEMS = 1000;
/** Ticks of /proc/<pid>/stat's utime and stime per second (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** A service path and the bare handler doing only its unavoidable work with the same client. */
interface Pair {
  readonly id: 'cache' | 'replica' | 'primary' | 'write';
  readonly label: string;
  /** Goals on the ratios service/bare (requests/s, CPU per request), where the issue sets them. */
  readonly goals: boolean;
}

const PAIRS: Pair[] = [
  { id: 'cache', label: 'cache hit', goals: true },
  { id: 'replica', label: 'replica read', goals: true },
  { id: 'primary', label: 'primary read', goals: false },
  { id: 'write', label: 'write', goals: false },
];

/** CPU seconds (user + system) a process has used, from /proc: the same reading for every backend. */
function cpuSeconds(pid: number): number {
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

interface Measured extends LoadRun {
  /** CPU microseconds of the backend process per request answered. */
  readonly cpuUsPerRequest: number;
}

async function measure(backend: Backend, load: () => Promise<LoadRun>): Promise<Measured> {
  const before = cpuSeconds(backend.child.pid!);
  const run = await load();
  return { ...run, cpuUsPerRequest: ((cpuSeconds(backend.child.pid!) - before) * 1e6) / run.requests };
}

async function startPair(stack: Stack, pair: Pair, nodeArgs: string[]): Promise<{ service: Backend; bare: Backend }> {
  const bareArgs = [...nodeArgs, '--require', 'ts-node/register/transpile-only', 'bench/bare-backends.ts'];
  const replicaUrl = stack.pg.databaseUrl.replace(/:\d+\//, `:${stack.pg.replicas[0].port}/`);
  const bareEnv: Record<Pair['id'], Record<string, string>> = {
    cache: { BARE_MODE: 'cache', REDIS_CLUSTER_NODES: stack.redisNodes, REDIS_PASSWORD: serviceEnv(stack, { cache: true, readPolicy: 'replicas' }).REDIS_PASSWORD },
    replica: { BARE_MODE: 'replica', BARE_PG_URL: replicaUrl },
    primary: { BARE_MODE: 'primary', BARE_PG_URL: stack.pg.databaseUrl },
    write: { BARE_MODE: 'write', BARE_PG_URL: stack.pg.databaseUrl },
  };
  const env = serviceEnv(stack, { cache: pair.id === 'cache', readPolicy: pair.id === 'primary' ? 'primary' : 'replicas' });
  return {
    service: await startBackend(stack.group, [...nodeArgs, 'service/dist/server.js'], env, '/api/v1/scaling/health/readiness'),
    bare: await startBackend(stack.group, bareArgs, bareEnv[pair.id], '/ready'),
  };
}

function pairFigures(pair: Pair, service: Measured[], bare: Measured[]): Figure[] {
  const rpsRatios = service.map((s, i) => s.rps / bare[i].rps);
  const cpuRatios = service.map((s, i) => s.cpuUsPerRequest / bare[i].cpuUsPerRequest);
  const of = (runs: Measured[], pick: (m: Measured) => number) => ({ value: median(runs.map(pick)), runs: runs.map(pick) });
  return [
    { name: `${pair.label}: service / bare requests/s`, unit: 'x', value: median(rpsRatios), runs: rpsRatios, goal: pair.goals ? { op: '>=', target: 0.9 } : undefined },
    { name: `${pair.label}: service / bare CPU per request`, unit: 'x', value: median(cpuRatios), runs: cpuRatios, goal: pair.goals ? { op: '<=', target: 1.15 } : undefined },
    { name: `${pair.label}: service requests/s`, unit: 'req/s', ...of(service, m => m.rps) },
    { name: `${pair.label}: bare requests/s`, unit: 'req/s', ...of(bare, m => m.rps) },
    { name: `${pair.label}: service CPU per request`, unit: 'us', ...of(service, m => m.cpuUsPerRequest) },
    { name: `${pair.label}: bare CPU per request`, unit: 'us', ...of(bare, m => m.cpuUsPerRequest) },
    { name: `${pair.label}: failed requests`, unit: '', value: [...service, ...bare].reduce((n, m) => n + m.errors, 0), goal: { op: '<=', target: 0 } },
  ];
}

/** Each service path against a bare Express handler doing the same Redis GET or query, CPU per request measured. */
export const requestCost: Scenario = {
  id: 'request-cost',
  title: '2b request cost vs bare handlers',
  async run(context) {
    const stack = await context.stack();
    const nodeArgs = context.profileDir ? ['--cpu-prof', '--cpu-prof-dir', context.profileDir] : [];
    const itemPaths = stack.items.slice(0, READ_ITEMS).map(id => `/api/v1/items/${id}`);
    const figures: Figure[] = [];
    for (const pair of PAIRS) {
      const { service, bare } = await startPair(stack, pair, nodeArgs);
      const load = (backend: Backend, seconds: number) => () => wrk(pair.id === 'write'
        ? { url: backend.url, paths: ['/api/v1/items'], method: 'POST', body: JSON.stringify({ name: 'bench write', payload: { n: 1 } }), headers: { 'Content-Type': 'application/json' }, connections: CONNECTIONS, seconds, dir: stack.dir }
        : { url: backend.url, paths: itemPaths, connections: CONNECTIONS, seconds, dir: stack.dir });
      // Every item read once through the service first: the cache holds them all, so (b) only hits.
      if (pair.id === 'cache') for (const path of itemPaths) await (await fetch(`${service.url}${path}`)).arrayBuffer();
      await load(service, 2)();
      await load(bare, 2)();
      const runs = { service: [] as Measured[], bare: [] as Measured[] };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating which goes first, so neither always meets the machine in the same state.
        const order = round % 2 === 0 ? ['service', 'bare'] as const : ['bare', 'service'] as const;
        for (const which of order) runs[which].push(await measure(which === 'service' ? service : bare, load(which === 'service' ? service : bare, SECONDS)));
      }
      figures.push(...pairFigures(pair, runs.service, runs.bare));
      service.child.kill('SIGTERM');
      bare.child.kill('SIGTERM');
    }
    return {
      figures,
      method: [
        `wrk straight to each backend (no nginx: the figure is the backend's cost), 2 threads, ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} rounds alternating which of the pair goes first, after 2 s of warm-up each.`,
        'Bare handlers (bench/bare-backends.ts): Express with one route and the same client: node-redis GET of the stored value sent as is; postgres.js running the service\'s item query on the same replica or primary; the same insert transaction and LSN read for a write.',
        'CPU per request: utime + stime of the backend process from /proc/<pid>/stat over the run, divided by the requests wrk counted. Ratios are taken within a round, then the median.',
        `Reads draw ${READ_ITEMS} seeded items uniformly; the cache pair reads every item once through the service before measuring, so the service and bare both find it.`,
      ],
    };
  },
};
