import { Agent, request as httpRequest } from 'http';

/** An answer, or the error that stood in for one (status 0). */
export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly token?: string;
  readonly error?: string;
}

/** A keep-alive client of one server, as a load balancer or an API client holds it. */
export class HttpClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(baseUrl: string, maxSockets = 64) {
    this.url = new URL(baseUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  public send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Reply> {
    return new Promise(resolve => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpRequest({
        host: this.url.hostname, port: this.url.port, method, path, agent: this.agent, timeout: timeoutMs,
        headers: { ...headers, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) },
      }, res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', chunk => { text += chunk; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, token: res.headers['x-consistency-token'] as string | undefined }));
        res.on('error', error => resolve({ status: 0, body: text, error: error.message }));
      });
      req.on('error', error => resolve({ status: 0, body: '', error: (error as NodeJS.ErrnoException).code ?? error.message }));
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.end(payload);
    });
  }

  public async json<T>(path: string): Promise<T> {
    const reply = await this.send('GET', path);
    if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${reply.error ?? reply.body}`);
    return JSON.parse(reply.body) as T;
  }

  public close(): void {
    this.agent.destroy();
  }
}

/** The sum of every series of a Prometheus counter in exposition text. */
export function metricSum(text: string, name: string): number {
  return text.split('\n')
    .filter(line => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Runs `worker(i)` in `concurrency` loops until `until()` is true or `maxIterations` ran in all. */
export async function loops(concurrency: number, maxIterations: number, until: () => boolean, worker: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (!until() && next < maxIterations) await worker(next++);
  }));
  return next;
}
