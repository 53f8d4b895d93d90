import { z } from 'zod';
import { ReadThroughCache } from '../cache/cache';
import { LIST_TAG } from '../cache/keys';
import { ItemRepository, newItemInput } from '../db/items';
import { describeIssues } from '../validation';
import { JobHandler, JobRejected } from './worker';

const createItemJob = newItemInput.extend({ type: z.literal('items.create') });

/**
 * The reference worker's jobs, on the same repository and cache as the API: `items.create`
 * (`{"type":"items.create","name":"...","payload":{...}}`) creates an item and drops the cached
 * lists, as a POST would.
 */
export function itemJobs(items: ItemRepository, cache: ReadThroughCache): Record<string, JobHandler> {
  return {
    'items.create': async job => {
      const parsed = createItemJob.safeParse(job);
      if (!parsed.success) throw new JobRejected(describeIssues(parsed.error, 'job'));
      const { token } = await items.create(parsed.data);
      await cache.invalidate(undefined, [LIST_TAG], token);
    },
  };
}
