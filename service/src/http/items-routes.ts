import { Request, Response, Router } from 'express';
import { z } from 'zod';
import { AuthConfig } from '../auth/config';
import { ReadThroughCache } from '../cache/cache';
import { itemKey, LIST_TAG, listKey } from '../cache/keys';
import { decodeCursor, ItemRepository, itemUpdateInput, newItemInput } from '../db/items';
import { parseConsistencyToken } from '../db/lsn';
import { requestHash, scopedIdempotencyKey } from '../idempotency';
import { requireWriterForWrites } from './auth';
import { HttpError } from './errors';
import { idempotencyKeyOf } from './idempotency';

export const CONSISTENCY_HEADER = 'X-Consistency-Token';

// Ids are lowercased: a UUID in another case names the same item, its cache key included.
const idParam = z.strictObject({ id: z.uuid().transform(id => id.toLowerCase()) });
/** The pattern z.uuid() checks. */
const UUID_PATTERN = z.regexes.uuid();

/**
 * The `:id` of an item route, lowercased. A valid id costs one test of the pattern z.uuid() uses
 * (the schema's parse was a measurable part of a cache hit, issue 22); anything else is answered by
 * the schema, with its message.
 */
function itemIdOf(req: Request): string {
  const id = req.params.id;
  return typeof id === 'string' && UUID_PATTERN.test(id) ? id.toLowerCase() : idParam.parse(req.params).id;
}

/** Sends JSON text as res.json would send what it is the text of (same type and charset). */
function sendJson(res: Response, json: string): void {
  res.set('Content-Type', 'application/json; charset=utf-8').send(json);
}
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** The consistency token a read carries, if any; a token that does not parse is the client's error (one past the primary, the router's). */
function tokenOf(req: Request): string | undefined {
  const header = req.get(CONSISTENCY_HEADER);
  if (header === undefined) return undefined;
  const token = parseConsistencyToken(header);
  if (!token) throw new HttpError(400, 'invalid_consistency_token', `${CONSISTENCY_HEADER} must be a PostgreSQL LSN such as 16/B374D848`);
  return token;
}

/**
 * `/api/v1/items` (`base`): CRUD with keyset pagination, optimistic concurrency, read-your-writes
 * tokens and a read-through cache, added to `router` (the app's own, in the service: a mounted
 * router is a second routing pass for every request, a measurable part of a cache hit, issue 22).
 * Reads are public; writes need a write token (`requireWriterForWrites`).
 */
export function itemRoutes(router: Router, base: string, items: ItemRepository, cache: ReadThroughCache, auth: AuthConfig): void {
  // The reads first: every layer a request passes before its own costs it (issue 22), and an item
  // read is the hottest path. The write check follows them, before any write route, so a write
  // method on any path under `base` (PATCH included, which no route takes) still needs a token.
  router.get(`${base}/:id`, async (req, res) => {
    const id = itemIdOf(req);
    const token = tokenOf(req);
    // A cached item is sent as the JSON text stored, never parsed and serialized again.
    if (token) res.json(await items.get(id, token));
    else sendJson(res, await cache.getOrLoadJson(itemKey(id), [], t => items.get(id, t)));
  });

  router.get(base, async (req, res) => {
    const query = listQuery.parse(req.query);
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && !cursor) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned');
    const token = tokenOf(req);
    // A read that carries a token skips the cache: it asks for data at least as new as the token.
    if (token) res.json(await items.list(query.limit, cursor, token));
    else sendJson(res, await cache.getOrLoadJson(listKey(query.limit, cursor), [LIST_TAG], t => items.list(query.limit, cursor, t)));
  });

  router.use(base, requireWriterForWrites(auth));

  router.post(base, async (req, res) => {
    const body = newItemInput.parse(req.body ?? {});
    const key = idempotencyKeyOf(req);
    // A repeated key (of the same caller, with the same body) is answered with the item its first POST created, as 201 again.
    const { item, token } = key === undefined ? await items.create(body)
      : await items.createOnce(body, `idempotency:${scopedIdempotencyKey(req.subject!, key)}`, requestHash(req.body));
    await cache.invalidate(undefined, [LIST_TAG], token);
    res.status(201).set(CONSISTENCY_HEADER, token).location(`${base}/${item.id}`).json(item);
  });

  router.put(`${base}/:id`, async (req, res) => {
    const id = itemIdOf(req);
    const body = itemUpdateInput.parse(req.body ?? {});
    const { item, token } = await items.update(id, body);
    await cache.invalidate(itemKey(id), [LIST_TAG], token);
    res.set(CONSISTENCY_HEADER, token).json(item);
  });

  router.delete(`${base}/:id`, async (req, res) => {
    const id = itemIdOf(req);
    const { token } = await items.delete(id);
    await cache.invalidate(itemKey(id), [LIST_TAG], token);
    res.status(204).set(CONSISTENCY_HEADER, token).end();
  });
}
