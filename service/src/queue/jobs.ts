import { z } from 'zod';
import { ReadThroughCache } from '../cache/cache';
import { LIST_TAG } from '../cache/keys';
import { ItemRepository } from '../db/items';
import { JobHandler, JobRejected } from './worker';

const createItemJob = z.strictObject({
  type: z.literal('items.create'),
  name: z.string().trim().min(1).max(200),
  payload: z.json().default({}),
});

/**
 * The reference worker's jobs, on the same repository and cache as the API: `items.create`
 * (`{"type":"items.create","name":"...","payload":{...}}`) creates an item and drops the cached
 * lists, as a POST would.
 */
export function itemJobs(items: ItemRepository, cache: ReadThroughCache): Record<string, JobHandler> {
  return {
    'items.create': async job => {
      const parsed = createItemJob.safeParse(job);
      if (!parsed.success) throw new JobRejected(parsed.error.issues.map(i => `${i.path.join('.') || 'job'}: ${i.message}`).join('; '));
      const { token } = await items.create(parsed.data);
      await cache.invalidate(undefined, [LIST_TAG], token);
    },
  };
}
