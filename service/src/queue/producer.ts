import { randomUUID } from 'crypto';
import { Job, JobsOptions, Queue } from 'bullmq';
import { IdempotencyKeyReusedError, scopedIdempotencyKey } from '../idempotency';
import { describeIssues } from '../validation';
import { IGNORE_CONNECTION_ERROR, QueueConnection } from './connection';
import { JOB_NAMES, JOB_SCHEMAS, JobName } from './jobs';
import { MAX_JOB_ATTEMPTS, POOL_BACKOFF, QUEUE_PREFIX } from './settings';

/** A job refused before it was enqueued: an unknown queue or name, or data its schema rejects. */
export class JobRefused extends Error {}

/** What `GET /api/v1/jobs/:id` answers. */
export interface JobStatus {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  readonly state: string;
  /** Runs that ended (failed, or stalled and were retried), BullMQ's `attemptsMade`. */
  readonly attempts: number;
  readonly failedReason: string | null;
  readonly result: unknown;
}

/**
 * Every job is added with as many attempts as any pool may allow and the `pool` backoff: the
 * workers' own JOB_ATTEMPTS and JOB_BACKOFF_* decide, so producers need not know them. Finished
 * jobs are kept a day (completed) or a week (failed) for `GET /api/v1/jobs/:id`.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: MAX_JOB_ATTEMPTS,
  backoff: { type: POOL_BACKOFF },
  removeOnComplete: { age: 86_400, count: 100_000 },
  removeOnFail: { age: 7 * 86_400, count: 100_000 },
};

/** Adds jobs to the queues it serves, and reads their state back. */
export class JobProducer {
  private readonly queues: Map<string, Queue>;

  constructor(connection: QueueConnection, queueNames: string[]) {
    this.queues = new Map(queueNames.map(name => [name, new Queue(name, { connection, prefix: QUEUE_PREFIX }).on('error', IGNORE_CONNECTION_ERROR)]));
  }

  public get queueNames(): string[] {
    return [...this.queues.keys()];
  }

  /**
   * Validates and enqueues a job, and returns its id: a fresh UUID, or one derived from the
   * caller's `idempotency` key (scoped to its subject), under which BullMQ keeps a second add of
   * the same key from enqueueing again; a key whose job has another name or data throws
   * {@link IdempotencyKeyReusedError}. Throws {@link JobRefused} with nothing enqueued.
   */
  public async add(queueName: string, name: string, data: unknown, idempotency?: { key: string; subject: string }): Promise<string> {
    const queue = this.queues.get(queueName);
    if (!queue) throw new JobRefused(`queue ${JSON.stringify(queueName)} is not served here; known: ${this.queueNames.join(', ')}`);
    if (!(JOB_NAMES as string[]).includes(name)) throw new JobRefused(`job name ${JSON.stringify(name)} is unknown; known: ${JOB_NAMES.join(', ')}`);
    const parsed = JOB_SCHEMAS[name as JobName].safeParse(data ?? {});
    if (!parsed.success) throw new JobRefused(describeIssues(parsed.error, 'data'), { cause: parsed.error });
    // Hashed: a BullMQ job id may not hold ':' nor be an integer, which a client's key may.
    const jobId = idempotency === undefined ? randomUUID() : `idempotent-${scopedIdempotencyKey(idempotency.subject, idempotency.key)}`;
    await queue.add(name, parsed.data, { ...JOB_OPTIONS, jobId });
    if (idempotency !== undefined) {
      // BullMQ ignores an add under an existing id: the job kept is the first request's, which must be this one.
      const kept = (await queue.getJob(jobId)) as Job | undefined;
      if (kept && (kept.name !== name || JSON.stringify(kept.data) !== JSON.stringify(parsed.data))) throw new IdempotencyKeyReusedError();
    }
    return jobId;
  }

  /** The job's state in whichever served queue holds it, or undefined. */
  public async status(id: string): Promise<JobStatus | undefined> {
    for (const [queueName, queue] of this.queues) {
      // The state first, then the job: a job found finished is then read as it finished. The other
      // way round, a job failing in between was answered 'failed' with the attempts of the run
      // before its last (a fresh-clone CI).
      const state = await queue.getJobState(id);
      if (state === 'unknown') continue;
      const job = (await queue.getJob(id)) as Job | undefined;
      if (!job) continue;
      return {
        id, queue: queueName, name: job.name, state, attempts: job.attemptsMade,
        failedReason: job.failedReason || null, result: job.returnvalue ?? null,
      };
    }
    return undefined;
  }

  public async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map(q => q.close()));
  }
}
