import { Job, UnrecoverableError, Worker } from 'bullmq';
import { ZodError } from 'zod';
import { logger } from '../logger';
import { describeIssues } from '../validation';
import { QueueConnection } from './connection';
import { JobHandler } from './jobs';
import { backoffDelay, POOL_BACKOFF, QUEUE_PREFIX, WorkerSettings } from './settings';

/** How a run ended: done, failed for good (now in the failed set), or failed and to be run again. */
export const JOB_OUTCOMES = ['completed', 'failed', 'retried'] as const;
export type JobOutcome = typeof JOB_OUTCOMES[number];

/** Hooks the metrics module listens on. */
export interface JobObserver {
  onRun?(queue: string, name: string, outcome: JobOutcome, seconds: number): void;
}

/**
 * One BullMQ Worker per queue, `concurrency` jobs at a time each. A job's lock is renewed while it
 * runs; when its worker dies the lock expires and another worker's stalled-job check puts it back
 * in the wait list: delivery is at least once. The retry policy is the pool's: the `pool` backoff
 * strategy gives the delay, and answers "no more" (-1) once JOB_ATTEMPTS runs have failed.
 */
export class QueueWorkers {
  private readonly workers: Worker[];
  private inHand = 0;

  constructor(
    connection: QueueConnection,
    private readonly settings: WorkerSettings,
    private readonly handlers: Record<string, JobHandler>,
    private readonly observer: JobObserver = {},
  ) {
    this.workers = settings.queues.map(queue => {
      const worker = new Worker(queue, job => this.run(queue, job), {
        connection, prefix: QUEUE_PREFIX, concurrency: settings.queueConcurrency[queue] ?? settings.concurrency, autorun: false,
        lockDuration: settings.lockDurationMs, stalledInterval: settings.stalledIntervalMs, maxStalledCount: settings.maxStalledCount,
        settings: { backoffStrategy: (attemptsMade, type) => this.retryDelay(attemptsMade, type) },
      });
      worker.on('error', error => logger.warn({ queue, err: String(error) }, 'queue worker error'));
      return worker;
    });
  }

  /** Jobs running now, over every queue. */
  public get active(): number {
    return this.inHand;
  }

  public start(): void {
    for (const worker of this.workers) void worker.run().catch(error => logger.error({ err: error }, 'queue worker stopped'));
  }

  /**
   * Takes no new job; resolves once every job in hand is done and acknowledged. `redisAway`: the
   * connection is down, so no job can be acknowledged and waiting for them would wait for Redis;
   * the jobs in hand are dropped, and stall and run again elsewhere.
   */
  public async close(redisAway = false): Promise<void> {
    await Promise.all(this.workers.map(w => w.close(redisAway)));
  }

  private retryDelay(attemptsMade: number, type?: string): number {
    if (type !== POOL_BACKOFF || attemptsMade >= this.settings.attempts) return -1;
    return backoffDelay(this.settings, attemptsMade);
  }

  private async run(queue: string, job: Job): Promise<unknown> {
    const started = process.hrtime.bigint();
    const handler = this.handlers[job.name];
    this.inHand++;
    try {
      if (!handler) throw new UnrecoverableError(`no handler for job name ${JSON.stringify(job.name)}`);
      const result = await this.withTimeout(handler, job, queue);
      this.observe(queue, job.name, 'completed', started);
      return result;
    } catch (error) {
      const final = error instanceof UnrecoverableError || error instanceof ZodError || job.attemptsMade + 1 >= this.settings.attempts;
      this.observe(queue, job.name, final ? 'failed' : 'retried', started);
      // The job's data may hold personal data: log its id, name and the reason only.
      logger.warn({ queue, id: job.id, name: job.name, attempt: job.attemptsMade + 1, err: String(error) }, final ? 'job failed' : 'job will be retried');
      // Data its schema refuses will be refused on every run: fail it now.
      if (error instanceof ZodError) throw Object.assign(new UnrecoverableError(describeIssues(error, 'data')), { cause: error });
      throw error;
    } finally {
      this.inHand--;
    }
  }

  private async withTimeout(handler: JobHandler, job: Job, queue: string): Promise<unknown> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`job timed out after ${this.settings.jobTimeoutMs} ms`));
      }, this.settings.jobTimeoutMs);
    });
    try {
      return await Promise.race([handler(job.data, { key: `${queue}/${job.id}`, signal: controller.signal }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private observe(queue: string, name: string, outcome: JobOutcome, started: bigint): void {
    this.observer.onRun?.(queue, name, outcome, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
