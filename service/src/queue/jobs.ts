import { z } from 'zod';
import { ReadThroughCache } from '../cache/cache';
import { LIST_TAG } from '../cache/keys';
import { ItemRepository, newItemInput } from '../db/items';

/**
 * The data each job name takes. The API and the enqueue CLI refuse a job whose name is not here or
 * whose data does not parse, so a worker never meets one it cannot read.
 */
export const JOB_SCHEMAS = {
  'items.create': newItemInput,
  'items.aggregate': z.strictObject({
    /** The UTC day to count; the day before the run when absent (a nightly schedule counts the day that ended). */
    day: z.iso.date().optional(),
  }),
} as const;

export type JobName = keyof typeof JOB_SCHEMAS;

export const JOB_NAMES = Object.keys(JOB_SCHEMAS) as JobName[];

/** What a handler knows of its run. */
export interface JobContext {
  /** `<queue>/<job id>`: the same on every run of the job, the key of its effect. */
  readonly key: string;
  /** Aborted when the run passes its timeout or the worker gives up on it. */
  readonly signal: AbortSignal;
}

/** Does one job; anything it throws fails the run (retried until the pool's attempts are spent). */
export type JobHandler = (data: unknown, context: JobContext) => Promise<unknown>;

/**
 * The reference jobs, on the same repository and cache as the API. `items.create` inserts keyed by
 * the job, so its effect happens once however often the job runs; `items.aggregate` overwrites a
 * day's count, which is idempotent by nature.
 */
export function referenceJobs(items: ItemRepository, cache: ReadThroughCache): Record<JobName, JobHandler> {
  return {
    'items.create': async (data, { key }) => {
      const input = JOB_SCHEMAS['items.create'].parse(data);
      const { created, token } = await items.createOnce(input, key);
      if (created) await cache.invalidate(undefined, [LIST_TAG], token);
      return { created };
    },
    'items.aggregate': async data => {
      const { day } = JOB_SCHEMAS['items.aggregate'].parse(data);
      const target = day ?? new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      return { day: target, items: await items.aggregateDay(target) };
    },
  };
}
