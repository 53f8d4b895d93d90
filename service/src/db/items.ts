import { z } from 'zod';
import { IdempotencyKeyReusedError } from '../idempotency';
import { NotFoundError, VersionConflictError } from './errors';
import { QueryRouter } from './router';

/** What a client gives for a new item, by POST or by a queued job; unknown fields are refused. */
export const newItemInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  payload: z.json().default({}),
});

/** An update: the new fields and the version the client read (optimistic concurrency). */
export const itemUpdateInput = newItemInput.extend({ version: z.number().int().min(1) });

export interface Item {
  readonly id: string;
  readonly name: string;
  readonly payload: unknown;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ItemPage {
  readonly items: Item[];
  readonly nextCursor: string | null;
}

interface ItemRow {
  id: string;
  name: string;
  payload: unknown;
  version: number;
  created_at: Date;
  updated_at: Date;
  created_key: string;
}

const COLUMNS = 'id, name, payload, version, created_at, updated_at, created_at::text as created_key';

function toItem(row: ItemRow): Item {
  return {
    id: row.id, name: row.name, payload: row.payload, version: row.version,
    createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString(),
  };
}

/** The cursor is the (created_at, id) of the last item, exact to the microsecond, base64url-encoded. */
export function encodeCursor(row: { created_key: string; id: string }): string {
  return Buffer.from(JSON.stringify([row.created_key, row.id.toLowerCase()])).toString('base64url');
}

/** PostgreSQL's text form of a timestamptz, as `created_at::text` gives it: `2026-01-02 03:04:05.123456+00`. */
const TIMESTAMPTZ_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The keyset position of a cursor (its id lowercased), or undefined unless the cursor is exactly
 * what {@link encodeCursor} makes of some position: Node's base64url decoder skips junk and stops
 * at `=`, so the text must also be the canonical encoding of the bytes it decodes to. Only then
 * can no two cursor texts name one page (each a cache key of its own), nor carry a Redis hash tag.
 */
export function decodeCursor(cursor: string): [string, string] | undefined {
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && TIMESTAMPTZ_TEXT.test(value[0])
      && !Number.isNaN(Date.parse(value[0].replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00'))) && typeof value[1] === 'string' && UUID.test(value[1])) {
      return [value[0], value[1].toLowerCase()];
    }
  } catch {
    // not JSON: not a cursor this API made
  }
  return undefined;
}

/** The items repository: writes on the primary (returning the consistency token), reads through the router. */
export class ItemRepository {
  constructor(private readonly router: QueryRouter) {}

  public async create(input: { name: string; payload: unknown }): Promise<{ item: Item; token: string }> {
    const { result, token } = await this.router.write(async tx =>
      tx<ItemRow[]>`insert into items (name, payload) values (${input.name}, ${tx.json(input.payload as never)}) returning ${tx.unsafe(COLUMNS)}`);
    return { item: toItem(result[0]), token };
  }

  /**
   * Creates the item keyed `key` unless that key already did, and returns the item it created:
   * a queue job run twice (its worker died before acknowledging) or a POST resent by the load
   * balancer (its pod died before answering) inserts once. A concurrent insert with the same key
   * waits on the unique index until the first commits, so the select after it sees that row.
   * With `requestHash`, a key first used with another hash throws {@link IdempotencyKeyReusedError}.
   */
  public async createOnce(input: { name: string; payload: unknown }, key: string, requestHash?: string): Promise<{ item: Item; created: boolean; token: string }> {
    const { result, token } = await this.router.write(async tx => {
      const [inserted] = await tx<ItemRow[]>`insert into items (name, payload, job_key, request_hash) values (${input.name}, ${tx.json(input.payload as never)}, ${key}, ${requestHash ?? null})
        on conflict (job_key) do nothing returning ${tx.unsafe(COLUMNS)}`;
      if (inserted) return { row: inserted, created: true };
      const [existing] = await tx<Array<ItemRow & { request_hash: string | null }>>`select ${tx.unsafe(COLUMNS)}, request_hash from items where job_key = ${key}`;
      if (requestHash !== undefined && existing.request_hash !== requestHash) throw new IdempotencyKeyReusedError();
      return { row: existing, created: false };
    });
    return { item: toItem(result.row), created: result.created, token };
  }

  /** Counts the items created on `day` (YYYY-MM-DD, UTC) into item_daily_counts; running it again overwrites the count. */
  public async aggregateDay(day: string): Promise<number> {
    const { result } = await this.router.write(async tx => tx<Array<{ items: string }>>`
      insert into item_daily_counts (day, items)
        select ${day}::date, count(*) from items
          where created_at >= ${day}::date::timestamp at time zone 'UTC' and created_at < (${day}::date + 1)::timestamp at time zone 'UTC'
      on conflict (day) do update set items = excluded.items, computed_at = now()
      returning items`);
    return Number(result[0].items);
  }

  public async get(id: string, token?: string): Promise<Item> {
    const rows = await this.router.read(sql => sql<ItemRow[]>`select ${sql.unsafe(COLUMNS)} from items where id = ${id}`, token);
    if (rows.length === 0) throw new NotFoundError(`item ${id} does not exist`);
    return toItem(rows[0]);
  }

  /** Keyset page; the cursor's timestamp is sent as text, since a Date parameter would drop its microseconds. */
  public async list(limit: number, cursor: [string, string] | undefined, token?: string): Promise<ItemPage> {
    const rows = await this.router.read(sql => (cursor
      ? sql<ItemRow[]>`select ${sql.unsafe(COLUMNS)} from items where (created_at, id) > (${cursor[0]}::text::timestamptz, ${cursor[1]}::uuid) order by created_at, id limit ${limit + 1}`
      : sql<ItemRow[]>`select ${sql.unsafe(COLUMNS)} from items order by created_at, id limit ${limit + 1}`), token);
    const page = rows.slice(0, limit);
    return { items: page.map(toItem), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]) : null };
  }

  /** Updates when `version` is the current one (optimistic concurrency). */
  public async update(id: string, input: { name: string; payload: unknown; version: number }): Promise<{ item: Item; token: string }> {
    const { result, token } = await this.router.write(async tx => {
      const rows = await tx<ItemRow[]>`update items set name = ${input.name}, payload = ${tx.json(input.payload as never)}, version = version + 1, updated_at = now()
        where id = ${id} and version = ${input.version} returning ${tx.unsafe(COLUMNS)}`;
      if (rows.length > 0) return rows[0];
      const [current] = await tx<Array<{ version: number }>>`select version from items where id = ${id}`;
      if (!current) throw new NotFoundError(`item ${id} does not exist`);
      throw new VersionConflictError(current.version);
    });
    return { item: toItem(result), token };
  }

  public async delete(id: string): Promise<{ token: string }> {
    const { result, token } = await this.router.write(async tx => tx`delete from items where id = ${id}`);
    if (result.count === 0) throw new NotFoundError(`item ${id} does not exist`);
    return { token };
  }
}
