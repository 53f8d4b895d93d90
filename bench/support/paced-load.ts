/**
 * An open-loop load generator at a fixed rate, for the capacity search: request i is due at
 * start + i / rate whatever the answers before it did, and its latency counts from that moment,
 * so a server that falls behind shows it in the latency (no coordinated omission).
 *
 * Why not wrk or autocannon: both keep a fixed number of connections busy, and autocannon's rate
 * option (`overallRate`) gives each connection a quota per second that it sends back to back and
 * then waits for the next second (node_modules/autocannon/lib/httpClient.js, `reqsMadeThisSecond`):
 * a burst of every connection at each second's start, whose queueing sets the p95 at any rate.
 *
 * Runs as a process of its own ({@link pacedLoad}), pinned with taskset, so its CPU is not taken
 * from the measured core.
 */
import { spawn } from 'child_process';
import { Agent, request } from 'http';
import { join } from 'path';
import { percentile } from './stats';

export interface PacedOptions {
  readonly url: string;
  /** Paths drawn at random for each request. */
  readonly paths: string[];
  /** Requests per second, evenly spaced. */
  readonly rate: number;
  /** Seconds measured, after `warmupSeconds` at the same rate that are not. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly method?: 'GET' | 'POST';
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

/** What one run at a fixed rate measured; latencies in milliseconds from each request's due time. */
export interface PacedRun {
  readonly rate: number;
  /** Requests due in the measured window. */
  readonly requests: number;
  /** Measured requests answered 2xx or 3xx per second, from the first due time to the last answer. */
  readonly rps: number;
  /** Network errors, timeouts, answers of 400 and above, and requests not sent because MAX_IN_FLIGHT were open. */
  readonly errors: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Requests open at once before the next one is counted as failed: the server has fallen far behind. */
const MAX_IN_FLIGHT = 2000;
const REQUEST_TIMEOUT_MS = 5000;

/** Sends the requests of `options` on schedule in this process and waits for the last answer. */
export function runPaced(options: PacedOptions): Promise<PacedRun> {
  const url = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const interval = 1000 / options.rate;
  const warmup = Math.round(options.warmupSeconds * options.rate);
  const total = warmup + Math.round(options.seconds * options.rate);
  const latencies: number[] = [];
  let [errors, inFlight, next, lastAnswer] = [0, 0, 0, 0];
  const start = performance.now() + 50;
  return new Promise(resolve => {
    const finish = () => {
      agent.destroy();
      const requests = total - warmup;
      const ok = latencies.length;
      resolve({
        rate: options.rate, requests, errors, rps: ok / ((lastAnswer - (start + warmup * interval)) / 1000),
        p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: percentile(latencies, 100),
      });
    };
    const answered = (measured: boolean, due: number, failed: boolean) => {
      inFlight--;
      lastAnswer = performance.now();
      if (measured && failed) errors++;
      // A failed request counts in the latencies too, at the time it took to fail.
      if (measured) latencies.push(lastAnswer - due);
      if (next === total && inFlight === 0) finish();
    };
    const send = (due: number, measured: boolean) => {
      if (inFlight >= MAX_IN_FLIGHT) {
        if (measured) errors++;
        return;
      }
      inFlight++;
      let settled = false;
      const settle = (failed: boolean) => {
        if (settled) return;
        settled = true;
        answered(measured, due, failed);
      };
      const req = request({
        host: url.hostname, port: url.port, agent, method: options.method ?? 'GET', timeout: REQUEST_TIMEOUT_MS,
        path: options.paths[Math.floor(Math.random() * options.paths.length)], headers: options.headers,
      }, res => {
        res.resume();
        res.on('end', () => settle(res.statusCode! >= 400));
        res.on('error', () => settle(true));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => settle(true));
      req.end(options.body);
    };
    const tick = () => {
      const now = performance.now();
      for (; next < total && start + next * interval <= now; next++) send(start + next * interval, next >= warmup);
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      else if (inFlight === 0) finish();
    };
    setTimeout(tick, 50);
  });
}

/** {@link runPaced} in a node process of its own pinned to `cpus` (taskset's list, e.g. "0"). */
export function pacedLoad(options: PacedOptions, cpus: string): Promise<PacedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpus, process.execPath, '--require', 'ts-node/register/transpile-only', join(__dirname, 'paced-load.ts')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', chunk => { output += chunk; });
    child.stderr.on('data', chunk => { output += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.warmupSeconds + options.seconds + 60) * 1000);
    child.on('close', code => {
      clearTimeout(timer);
      const line = output.split('\n').find(l => l.startsWith('PACED '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('PACED '.length)) as PacedRun);
      else reject(new Error(`paced load (exit ${code}) printed no result:\n${output.slice(-2000)}`));
    });
    child.stdin.end(JSON.stringify(options));
  });
}

if (require.main === module) {
  let input = '';
  process.stdin.on('data', chunk => { input += chunk; });
  process.stdin.on('end', () => {
    void runPaced(JSON.parse(input) as PacedOptions).then(result => process.stdout.write(`PACED ${JSON.stringify(result)}\n`));
  });
}
