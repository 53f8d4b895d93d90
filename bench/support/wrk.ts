import { writeFileSync } from 'fs';
import { join } from 'path';
import { run } from '../../test/support/processes';

/** What one wrk run measured; latencies in milliseconds. */
export interface LoadRun {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Connect, read, write and timeout errors, plus answers that were not 2xx or 3xx. */
  readonly errors: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface LoadOptions {
  readonly url: string;
  /** Paths drawn at random for each request. */
  readonly paths: string[];
  readonly connections: number;
  readonly seconds: number;
  readonly method?: 'GET' | 'POST';
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** Where the generated Lua script is written. */
  readonly dir: string;
  /** Pin the load generator to these cores (taskset's list, e.g. "0"); unpinned by default. */
  readonly cpus?: string;
}

const lua = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** A wrk script that draws a path per request and prints the summary as one JSON line. */
function script(options: LoadOptions): string {
  const headers = Object.entries(options.headers ?? {}).map(([k, v]) => `[${lua(k)}] = ${lua(v)}`).join(', ');
  return `local paths = { ${options.paths.map(lua).join(', ')} }
local headers = { ${headers} }
local body = ${options.body === undefined ? 'nil' : lua(options.body)}
request = function()
  return wrk.format(${lua(options.method ?? 'GET')}, paths[math.random(#paths)], headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"us":%d,"errors":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max))
end
`;
}

/** Runs wrk (2 threads; pinned with `cpus`) at fixed concurrency for `seconds`; figures from its own latency histogram. */
export async function wrk(options: LoadOptions): Promise<LoadRun> {
  const file = join(options.dir, `wrk-${process.pid}-${Date.now()}.lua`);
  writeFileSync(file, script(options));
  const pin = options.cpus === undefined ? [] : ['-c', options.cpus, 'wrk'];
  const output = await run(pin.length > 0 ? 'taskset' : 'wrk', [...pin, '-t', '2', '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '5s',
    '-s', file, options.url], { timeoutMs: (options.seconds + 30) * 1000 });
  const line = output.split('\n').find(l => l.startsWith('BENCH '));
  if (!line) throw new Error(`wrk printed no summary:\n${output}`);
  const raw = JSON.parse(line.slice('BENCH '.length)) as Record<string, number>;
  const ms = (us: number) => us / 1000;
  const seconds = raw.us / 1e6;
  return {
    requests: raw.requests, seconds, rps: raw.requests / seconds, errors: raw.errors,
    p50: ms(raw.p50), p90: ms(raw.p90), p95: ms(raw.p95), p99: ms(raw.p99), max: ms(raw.max),
  };
}
