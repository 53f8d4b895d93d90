import { accessSync } from 'fs';
import { Agent, request } from 'http';
import { LoadOptions, LoadRun, wrk } from './wrk';

/**
 * A closed-loop load generator in Node, for machines without wrk: `connections` keep-alive
 * connections, each sending its next request when the last answer is read. Good enough for CPU
 * per request of the backend (measured on the backend); its own CPU competes with it for cores.
 */
export async function nodeLoad(options: LoadOptions): Promise<LoadRun> {
  const url = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const until = started + options.seconds * 1000;
  const one = () => new Promise<void>(resolve => {
    const sent = performance.now();
    const req = request({
      host: url.hostname, port: url.port, agent, method: options.method ?? 'GET',
      path: options.paths[Math.floor(Math.random() * options.paths.length)], headers: options.headers,
    }, res => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode! >= 400) errors++;
        latencies.push(performance.now() - sent);
        resolve();
      });
    });
    req.on('error', () => { errors++; resolve(); });
    req.end(options.body);
  });
  await Promise.all(Array.from({ length: options.connections }, async () => {
    while (performance.now() < until) await one();
  }));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return {
    requests: latencies.length, seconds, rps: latencies.length / seconds, errors,
    p50: at(50), p90: at(90), p95: at(95), p99: at(99), max: latencies[latencies.length - 1] ?? NaN,
  };
}

/** wrk when it is installed, else {@link nodeLoad}. */
export async function load(options: LoadOptions): Promise<LoadRun> {
  return HAS_WRK ? wrk(options) : nodeLoad(options);
}

const HAS_WRK = (process.env.PATH ?? '').split(':').some(dir => {
  try {
    accessSync(`${dir}/wrk`);
    return true;
  } catch {
    return false;
  }
});
