import { randomUUID } from 'crypto';
import { Agent, request } from 'https';
import { sleep } from './processes';

export type OperationKind = 'write' | 'read-with-token' | 'read';

/** One failed request: what it was, when, and what came back. */
export interface Failure {
  readonly kind: OperationKind;
  /** When the request was sent (ms since the epoch). */
  readonly sentAt: number;
  /** When the failure came back (ms since the epoch). */
  readonly at: number;
  readonly status: number | string;
}

interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Every acknowledged write (201 with the item's id) and every failure, counted per kind. */
export interface LoadReport {
  readonly acknowledged: Map<string, string>;
  /** When each acknowledged write was sent and answered (ms since the epoch), in order of answer. */
  readonly acknowledgedAt: Array<{ readonly sentAt: number; readonly at: number }>;
  readonly ok: Record<OperationKind, number>;
  readonly failures: Failure[];
  readonly startedAt: number;
  readonly stoppedAt: number;
}

/** A steady mixed load through the load balancer: writes, reads by id with the write's consistency token, and list reads. */
export class MixedLoad {
  private readonly agent = new Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 8 });
  private readonly acknowledged = new Map<string, string>();
  private readonly acknowledgedAt: Array<{ sentAt: number; at: number }> = [];
  private readonly tokens: Array<{ id: string; token: string }> = [];
  private readonly ok: Record<OperationKind, number> = { 'write': 0, 'read-with-token': 0, 'read': 0 };
  private readonly failures: Failure[] = [];
  private running = false;
  private loops: Array<Promise<void>> = [];
  private startedAt = 0;

  /**
   * `concurrency` loops each pausing `pauseMs` between requests: about concurrency * 1000 / (pauseMs + latency)
   * requests a second. With `clientPerLoop`, each loop sends from its own loopback address
   * (127.0.0.<loop + 1>), so a per-client rate limit of nginx sees that many clients. Writes carry
   * `writeToken` as their bearer token (the stack's `tokens.write`).
   */
  constructor(
    private readonly port: number, private readonly concurrency = 4, private readonly pauseMs = 80, private readonly label = 'load',
    private readonly clientPerLoop = false, private readonly writeToken?: string,
  ) {}

  public start(): void {
    this.running = true;
    this.startedAt = Date.now();
    this.loops = Array.from({ length: this.concurrency }, (_, i) => this.loop(i));
  }

  /** Whether a write sent at or after `since` (ms) has been acknowledged. */
  public acknowledgedSince(since: number): boolean {
    return this.acknowledgedAt.some(a => a.sentAt >= since);
  }

  /** The requests answered 2xx so far, per kind. */
  public answered(): Record<OperationKind, number> {
    return { ...this.ok };
  }

  /** Stops the loops after their request in hand; resolves with the report (the counts keep growing if started again). */
  public async stop(): Promise<LoadReport> {
    this.running = false;
    await Promise.all(this.loops);
    return {
      acknowledged: new Map(this.acknowledged), acknowledgedAt: [...this.acknowledgedAt], ok: { ...this.ok }, failures: [...this.failures],
      startedAt: this.startedAt, stoppedAt: Date.now(),
    };
  }

  public close(): void {
    this.agent.destroy();
  }

  private async loop(index: number): Promise<void> {
    for (let n = 0; this.running && n < 100_000; n++) {
      const kind: OperationKind = (n + index) % 5 < 2 ? 'write' : (n + index) % 5 < 4 && this.tokens.length > 0 ? 'read-with-token' : 'read';
      await this.operation(kind, this.clientPerLoop ? `127.0.0.${index + 1}` : undefined);
      await sleep(this.pauseMs);
    }
  }

  private async operation(kind: OperationKind, localAddress?: string): Promise<void> {
    const sentAt = Date.now();
    try {
      const response = await this.send(kind, localAddress);
      if (response.status >= 200 && response.status < 300) {
        this.ok[kind]++;
        if (kind === 'write') this.recordWrite(response, sentAt);
      } else {
        this.failures.push({ kind, sentAt, at: Date.now(), status: response.status });
      }
    } catch (error) {
      this.failures.push({ kind, sentAt, at: Date.now(), status: (error as NodeJS.ErrnoException).code ?? String(error) });
    }
  }

  private recordWrite(response: Response, sentAt: number): void {
    const item = JSON.parse(response.body) as { id: string; name: string };
    this.acknowledged.set(item.id, item.name);
    this.acknowledgedAt.push({ sentAt, at: Date.now() });
    this.tokens.push({ id: item.id, token: String(response.headers['x-consistency-token']) });
    if (this.tokens.length > 200) this.tokens.shift();
  }

  private send(kind: OperationKind, localAddress?: string): Promise<Response> {
    if (kind === 'write') {
      const auth: Record<string, string> = this.writeToken ? { Authorization: `Bearer ${this.writeToken}` } : {};
      return this.http(localAddress, 'POST', '/api/v1/items', { name: `${this.label}-${randomUUID()}`, payload: { at: Date.now() } }, auth);
    }
    if (kind === 'read-with-token') {
      const { id, token } = this.tokens[Math.floor(Math.random() * this.tokens.length)];
      return this.http(localAddress, 'GET', `/api/v1/items/${id}`, undefined, { 'X-Consistency-Token': token });
    }
    return this.http(localAddress, 'GET', '/api/v1/items?limit=5');
  }

  private http(localAddress: string | undefined, method: string, path: string, body?: object, headers: Record<string, string> = {}): Promise<Response> {
    const data = body ? JSON.stringify(body) : undefined;
    return new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port: this.port, localAddress, method, path, agent: this.agent, servername: 'localhost', timeout: 15_000,
        headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) },
      }, res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', chunk => { text += chunk; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
      req.on('error', reject);
      req.end(data);
    });
  }
}

/** Failures of a report by kind and status, e.g. `{ "write 502": 2 }`, for messages and the figures of docs/local-stack.md. */
export function failureSummary(report: LoadReport): Record<string, number> {
  const summary: Record<string, number> = {};
  for (const f of report.failures) summary[`${f.kind} ${f.status}`] = (summary[`${f.kind} ${f.status}`] ?? 0) + 1;
  return summary;
}
