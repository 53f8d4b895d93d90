import { run } from '../../test/support/processes';
import { BenchContext, Scenario } from '../support/context';
import { Figure } from '../support/report';
import { LoadRun, wrk } from '../support/wrk';

/** The guides' targets for their load tests. */
const P95_GOAL = { op: '<' as const, target: 100 };
const ERRORS_GOAL = { op: '<=' as const, target: 0 };
const LIST_PATH = '/api/v1/items';
const AB_REQUESTS = 10_000;
const AB_CONCURRENCY = 100;
/** The k6 ramp (1,000 virtual users over 5 minutes) as steps of wrk connections, shortened to fit. */
const RAMP_STEPS = [100, 400, 1000];
const STEP_SECONDS = Number(process.env.BENCH_RAMP_STEP_SECONDS ?? 10);

/** What `ab` printed: requests/s, p95 (its whole-millisecond table), failed and non-2xx answers. */
export function parseAb(output: string): { rps: number; p95: number; errors: number } {
  const number = (pattern: RegExp) => Number(pattern.exec(output)?.[1] ?? NaN);
  const rps = number(/Requests per second:\s+([\d.]+)/);
  const p95 = number(/^\s+95%\s+(\d+)/m);
  if (!Number.isFinite(rps) || !Number.isFinite(p95)) throw new Error(`ab printed no summary:\n${output}`);
  const failed = number(/Failed requests:\s+(\d+)/);
  const non2xx = /Non-2xx responses:\s+(\d+)/.exec(output);
  return { rps, p95, errors: failed + (non2xx ? Number(non2xx[1]) : 0) };
}

function stepFigures(connections: number, step: LoadRun): Figure[] {
  const label = `ramp ${connections} connections`;
  return [
    { name: `${label}: requests/s`, value: step.rps, unit: 'req/s' },
    { name: `${label}: p95`, value: step.p95, unit: 'ms', goal: P95_GOAL, note: 'guides: p95 < 100 ms' },
    { name: `${label}: errors`, value: step.errors, unit: '', goal: ERRORS_GOAL },
  ];
}

/** The guides' own load tests (ab on the items list, a k6-like ramp) through nginx to the full service. */
export const guideLoad: Scenario = {
  id: 'guide-load',
  title: '6b guides\' load tests via nginx',
  async run(context: BenchContext) {
    const stack = await context.stack();
    const { balanced } = await context.backends();
    const url = balanced.cached;
    const openFiles = Number((await run('sh', ['-c', 'ulimit -n'])).trim());
    const needed = 2 * Math.max(...RAMP_STEPS) + 100;
    if (openFiles < needed) throw new Error(`ulimit -n is ${openFiles}: the ${Math.max(...RAMP_STEPS)}-connection step needs at least ${needed} open files`);
    const abOutput = await run('ab', ['-q', '-n', String(AB_REQUESTS), '-c', String(AB_CONCURRENCY), `${url}${LIST_PATH}`], { timeoutMs: 120_000 });
    const ab = parseAb(abOutput);
    const steps: LoadRun[] = [];
    for (const connections of RAMP_STEPS) {
      steps.push(await wrk({ url, paths: [LIST_PATH], connections, seconds: STEP_SECONDS, dir: stack.dir }));
    }
    return {
      figures: [
        { name: `ab -n ${AB_REQUESTS} -c ${AB_CONCURRENCY}: requests/s`, value: ab.rps, unit: 'req/s' },
        { name: `ab -n ${AB_REQUESTS} -c ${AB_CONCURRENCY}: p95`, value: ab.p95, unit: 'ms', goal: P95_GOAL, note: 'guides: p95 < 100 ms' },
        { name: `ab -n ${AB_REQUESTS} -c ${AB_CONCURRENCY}: errors`, value: ab.errors, unit: '', goal: ERRORS_GOAL },
        ...RAMP_STEPS.flatMap((connections, i) => stepFigures(connections, steps[i])),
      ],
      method: [
        `Target: GET ${LIST_PATH} (first page, default limit) through nginx (renderNginxConf) in front of the service with the Redis Cluster cache and the streaming replica, the variant (b) backend of scenario 2.`,
        `ab, as the guides run it: \`ab -n ${AB_REQUESTS} -c ${AB_CONCURRENCY}\` (no keep-alive: a new connection per request). Errors are ab's failed requests plus non-2xx answers; p95 from ab's whole-millisecond table.`,
        `k6 is not installed, so its ramp (1,000 virtual users over 5 minutes) is emulated with wrk (2 threads, keep-alive) at stepped connection counts ${RAMP_STEPS.join(' -> ')}, ${STEP_SECONDS} s each, one run per step (not a median). A wrk connection sends its next request as soon as the answer arrives (no think time), so each step is a harder load than as many k6 users with sleeps. Errors: connect/read/write/timeout (5 s) errors plus non-2xx answers. Open-file limit (ulimit -n) here: ${openFiles}, checked to cover the client and upstream sockets of the largest step; nginx has worker_connections 4096.`,
      ],
    };
  },
};
