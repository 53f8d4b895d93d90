import { logger } from '../logger';

/** A job as it sits in the queue: a JSON object whose `type` names its handler. */
export interface Job {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Does one job; throws {@link JobRejected} for a job that can never succeed, anything else for a failure. */
export type JobHandler = (job: Job) => Promise<void>;

/** A job that is malformed or of no known type: retrying it would fail the same way. */
export class JobRejected extends Error {}

export type JobOutcome = 'done' | 'failed' | 'rejected';

/** Hooks the metrics module listens on. */
export interface WorkerObserver {
  onJob?(type: string, outcome: JobOutcome, seconds: number): void;
}

/** Where jobs come from: a Redis list, popped one at a time. */
export interface JobSource {
  pop(queue: string): Promise<string | null>;
}

/** How long an idle worker waits before asking again: doubling from the first to the last. */
export interface IdleBackoff {
  readonly firstMs: number;
  readonly maxMs: number;
}

export const DEFAULT_IDLE_BACKOFF: IdleBackoff = { firstMs: 50, maxMs: 1000 };

/**
 * Takes jobs from a Redis list one at a time and runs their handlers. It polls with LPOP rather
 * than blocking in BLPOP: a blocking pop holds a connection per node of a Redis Cluster, while a
 * poll behaves the same on one node, Sentinel and Cluster, and lets `stop()` return at once
 * when idle. Delivery is at most once: a job taken by a worker that is killed before it
 * finishes is lost, and `stop()` (on SIGTERM) lets the job in hand finish first.
 */
export class QueueWorker {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly source: JobSource,
    public readonly queue: string,
    private readonly handlers: Record<string, JobHandler>,
    private readonly backoff: IdleBackoff = DEFAULT_IDLE_BACKOFF,
    private readonly observer: WorkerObserver = {},
  ) {}

  /** Whether the worker is taking jobs. */
  public get active(): boolean {
    return this.running;
  }

  public start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Takes no more jobs; resolves once the job in hand, if any, is done. */
  public async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let idleMs = this.backoff.firstMs;
    while (this.running) {
      const raw = await this.source.pop(this.queue).catch(error => {
        logger.warn({ err: String(error), queue: this.queue }, 'queue unavailable');
        return null;
      });
      if (raw === null) {
        await this.pause(idleMs);
        idleMs = Math.min(idleMs * 2, this.backoff.maxMs);
        continue;
      }
      idleMs = this.backoff.firstMs;
      await this.process(raw);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise(resolve => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async process(raw: string): Promise<void> {
    const started = process.hrtime.bigint();
    let type = 'unknown';
    let outcome: JobOutcome = 'done';
    try {
      const job = parseJob(raw);
      type = job.type;
      const handler = this.handlers[job.type];
      if (!handler) throw new JobRejected(`no handler for job type ${JSON.stringify(job.type)}`);
      await handler(job);
    } catch (error) {
      outcome = error instanceof JobRejected ? 'rejected' : 'failed';
      // The job's fields may hold personal data: log its type and the reason only.
      logger.error({ queue: this.queue, type, err: String(error) }, outcome === 'rejected' ? 'job rejected' : 'job failed');
    }
    this.observer.onJob?.(type, outcome, Number(process.hrtime.bigint() - started) / 1e9);
  }
}

function parseJob(raw: string): Job {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new JobRejected('the job is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as Job).type !== 'string') {
    throw new JobRejected('the job is not an object with a string "type"');
  }
  return value as Job;
}
