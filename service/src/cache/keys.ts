import { encodeCursor } from '../db/items';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The cache key of one item: the id, lowercased, is the hash tag, so the key and its write marker
 * share a cluster slot. It is the only tag a key may carry, and only ever a UUID: the slot of
 * `{hscale}` (every BullMQ key) is out of reach of any request.
 */
export function itemKey(id: string): string {
  const canonical = id.toLowerCase();
  if (!UUID.test(canonical)) throw new Error(`an item key needs a UUID, not ${JSON.stringify(id.slice(0, 64))}`);
  return `item:{${canonical}}`;
}

/** The cache key of a page: the limit and the cursor re-encoded from its decoded position, so one page has one key. */
export function listKey(limit: number, cursor?: [string, string]): string {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`a page key needs a positive integer limit, not ${limit}`);
  return `items:list:${limit}:${cursor ? encodeCursor({ created_key: cursor[0], id: cursor[1] }) : ''}`;
}

/**
 * Throws unless `key` is a key the cache may store under: base64url, digits and `:`, or an item key
 * ({@link itemKey}). Checked on every lookup and invalidation, so no route can add a key that
 * carries a hash tag (or anything a client wrote unchecked).
 */
export function assertCacheKey(key: string): void {
  if (/^[A-Za-z0-9_:.-]{1,512}$/.test(key)) return;
  const tagged = /^item:\{([^}]*)\}$/.exec(key);
  if (tagged && UUID.test(tagged[1])) return;
  throw new Error(`not a cache key: ${JSON.stringify(key.slice(0, 80))}`);
}

/** The tag every cached list carries; a write bumps it. */
export const LIST_TAG = 'items';
