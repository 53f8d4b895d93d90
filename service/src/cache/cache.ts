import { lsnToBigInt } from '../db/lsn';
import { Deadlines } from '../deadlines';
import { logger } from '../logger';
import { CacheClient } from './client';
import { assertCacheKey } from './keys';

export interface CacheStats {
  hits: number;
  misses: number;
  errors: number;
  invalidations: number;
  /** Version keys a write could not bump yet (Redis failed): retried until it answers. */
  pendingInvalidations: number;
  hitRatio: number | null;
}

/** The version of a key or tag, and the LSN a reader must have reached to load what the write that set it left. */
interface Version {
  readonly version: string;
  readonly token: string;
}

/** Hooks the metrics module listens on. */
export interface CacheObserver {
  onHit?(): void;
  onMiss?(): void;
  onError?(): void;
  onInvalidate?(): void;
}

/**
 * A read-through cache with TTLs and tag invalidation that needs no multi-key command, so it
 * works on Redis Cluster: a key and a tag each have a version key, and a cached value is stored in
 * its key's version key (one GET for a hit), with the versions of its tags. A write replaces the
 * version key's content with a new version, entry and all; a bumped tag makes every value stored
 * under its older version a miss (the next load overwrites it, or its TTL reclaims it); and a read
 * that loaded before a write stores nothing (it stores only over the own version it read, by a
 * compare-and-set on the server) or under a tag version no reader accepts. A write leaves its
 * consistency token in the invalidated keys: the next reader reloads with it, so a replica that
 * has not replayed the write cannot refill the cache with stale data.
 * Every Redis call has a timeout; on any Redis failure the loader's answer is served. After
 * `BREAKER_FAILURES` failures in a row Redis is skipped for `BREAKER_COOLDOWN_MS`, so a dead
 * Redis costs requests nothing rather than one timeout each.
 *
 * A write whose bump fails has committed all the same, so the bump is not dropped: it is kept and
 * retried every `INVALIDATION_RETRY_MS` until Redis takes it, and meanwhile this process reads the
 * keys it covers at the write's token and stores nothing under them. Dropped, the old entry would
 * be served by every instance for its whole TTL after an acknowledged write.
 */
export class ReadThroughCache {
  private readonly stats = { hits: 0, misses: 0, errors: 0, invalidations: 0 };
  /** Version keys whose bump Redis has not taken yet, with the newest write's token for each. */
  private readonly unbumped = new Map<string, string>();
  private retryTimer?: NodeJS.Timeout;
  private retrying = false;
  private consecutiveFailures = 0;
  private skipUntil = 0;
  private readonly deadlines: Deadlines;

  constructor(
    private readonly client: CacheClient | undefined,
    private readonly defaultTtlSeconds: number,
    private readonly timeoutMs = 250,
    private readonly observer: CacheObserver = {},
  ) {
    this.deadlines = new Deadlines(timeoutMs);
  }

  public get enabled(): boolean {
    return this.client !== undefined;
  }

  /** The value of `key` under `tags`, loading it (with the token of the latest write, if any) on a miss. */
  public async getOrLoad<T>(key: string, tags: string[], load: (token?: string) => Promise<T>, ttlSeconds = this.defaultTtlSeconds): Promise<T> {
    const found = await this.lookup(key, tags);
    if (found.json !== undefined) return JSON.parse(found.json) as T;
    const value = await load(found.token);
    if (found.store) this.store(key, found.store, JSON.stringify(value), ttlSeconds);
    return value;
  }

  /**
   * {@link getOrLoad}, answering the value's JSON text: a hit is the stored text itself, not parsed
   * and serialized again (both were a measurable part of a cache hit's CPU, issue 22).
   */
  public async getOrLoadJson(key: string, tags: string[], load: (token?: string) => Promise<unknown>, ttlSeconds = this.defaultTtlSeconds): Promise<string> {
    const found = await this.lookup(key, tags);
    if (found.json !== undefined) return found.json;
    const json = JSON.stringify(await load(found.token));
    if (found.store) this.store(key, found.store, json, ttlSeconds);
    return json;
  }

  /**
   * The entry of `key` when it is fresh and was stored under the tags' versions current now; else
   * the token a load must read at, and how it may store unless Redis failed (or is off) or a bump
   * of one of its keys is still pending.
   */
  private async lookup(key: string, tags: string[]): Promise<Lookup> {
    assertCacheKey(key);
    if (!this.client) return {};
    const pending = this.unbumped.size === 0 ? undefined : this.pendingToken(key, tags);
    if (pending) {
      this.count('misses');
      return { token: pending };
    }
    try {
      // The key's own version key (which holds its entry too) and its tags' are read together, one
      // round trip, before a load: a write that lands during the load changes the own version, so
      // the store that would follow does not happen, or bumps a tag, so what it stores is a miss.
      const [own, ...tagged] = await this.readTogether(key, tags);
      const found = parseVersionKey(own);
      const tagVersionKeys = tagged.map(parseVersionKey);
      const tagVersions = tags.map((tag, i) => `${tag}=${tagVersionKeys[i]?.version ?? 0}`).join(',');
      const json = found && entryValue(own!, found, tagVersions);
      this.count(json === undefined ? 'misses' : 'hits');
      const token = latest([found?.token, ...tagVersionKeys.map(parsed => parsed?.token)]);
      // A version key this format cannot read (none is written so) is left alone: nothing is stored over it.
      const store = own === null ? { seen: null, tagVersions } : found && { seen: found.head, tagVersions };
      return { json, token, store };
    } catch (error) {
      this.failed(error);
      return {};
    }
  }

  /** The newest token of the pending bumps that cover `key` or one of `tags`, if any. */
  private pendingToken(key: string, tags: string[]): string | undefined {
    return latest([ownVersionKey(key), ...tags.map(tagKey)].map(versionKey => this.unbumped.get(versionKey)));
  }

  /**
   * The key's own version key, then its tags', sent at once: a tag lives in a slot of its own, so
   * each is a GET of its own (no multi-key command spans slots on a cluster).
   */
  private readTogether(key: string, tags: string[]): Promise<Array<string | null>> {
    const own = this.call(c => c.get(ownVersionKey(key)));
    if (tags.length === 0) return own.then(raw => [raw]);
    return Promise.all([own, ...tags.map(tag => this.call(c => c.get(tagKey(tag))))]);
  }

  /**
   * Stores `json` as the value of `key` in its own version key, in the background, if that still
   * holds what the lookup read (no write since): what a write sets there replaces the entry.
   */
  private store(key: string, plan: StorePlan, json: string, ttlSeconds: number): void {
    const ttl = Math.min(ttlSeconds, VERSION_TTL_SECONDS);
    const entry = `${plan.seen ?? ABSENT_HEAD},"expires":${Date.now() + ttl * 1000},"tags":"${plan.tagVersions}","value":${json}}`;
    this.call(c => c.setIfUnchanged(ownVersionKey(key), plan.seen, entry, ttl)).catch(error => this.failed(error));
  }

  /**
   * Bumps the version of `key` and of `tags`, leaving the write's `token` for the next reader. A
   * bump Redis does not take is kept and retried until it does (see the class comment).
   */
  public async invalidate(key: string | undefined, tags: string[], token: string): Promise<void> {
    if (key !== undefined) assertCacheKey(key);
    if (!this.client) return;
    const versionKeys = [...(key ? [ownVersionKey(key)] : []), ...tags.map(tagKey)];
    const failed = await this.bump(versionKeys.map(versionKey => [versionKey, token]));
    if (failed.length === 0) return this.count('invalidations');
    for (const [versionKey, failedToken] of failed) this.unbumped.set(versionKey, latest([this.unbumped.get(versionKey), failedToken])!);
    if (this.retryTimer) return;
    logger.warn({ pending: this.unbumped.size }, 'cache invalidation failed; retried until Redis takes it');
    this.retryTimer = setInterval(() => void this.retryBumps(), INVALIDATION_RETRY_MS).unref();
  }

  /** Sets a new version on each key, with its token; answers the bumps that failed. */
  private async bump(bumps: Array<[versionKey: string, token: string]>): Promise<Array<[string, string]>> {
    const results = await Promise.all(bumps.map(([versionKey, token]) =>
      this.call(c => c.set(versionKey, JSON.stringify(newVersion(token)), VERSION_TTL_SECONDS)).then(() => true, error => {
        this.failed(error);
        return false;
      })));
    return bumps.filter((_, i) => !results[i]);
  }

  /** One retry of the pending bumps: those Redis takes are done, and with none left the timer stops. */
  private async retryBumps(): Promise<void> {
    if (this.retrying) return;
    this.retrying = true;
    try {
      const bumps = [...this.unbumped];
      const failed = new Set((await this.bump(bumps)).map(([versionKey]) => versionKey));
      // A newer write may have failed its bump meanwhile: keep the entry it left.
      for (const [versionKey, token] of bumps) if (!failed.has(versionKey) && this.unbumped.get(versionKey) === token) this.unbumped.delete(versionKey);
      if (this.unbumped.size === 0) this.stopRetrying();
    } finally {
      this.retrying = false;
    }
  }

  private stopRetrying(): void {
    clearInterval(this.retryTimer);
    this.retryTimer = undefined;
  }

  public getStats(): CacheStats {
    const lookups = this.stats.hits + this.stats.misses;
    return { ...this.stats, pendingInvalidations: this.unbumped.size, hitRatio: lookups === 0 ? null : this.stats.hits / lookups };
  }

  public async ping(): Promise<number> {
    const started = Date.now();
    await this.call(c => c.ping());
    return Date.now() - started;
  }

  private count(what: 'hits' | 'misses' | 'invalidations'): void {
    this.stats[what]++;
    ({ hits: this.observer.onHit, misses: this.observer.onMiss, invalidations: this.observer.onInvalidate })[what]?.();
  }

  private failed(error: unknown): void {
    this.stats.errors++;
    this.observer.onError?.();
    logger.debug({ err: String(error) }, 'cache unavailable, served from the database');
  }

  private async call<T>(fn: (client: CacheClient) => Promise<T>): Promise<T> {
    if (Date.now() < this.skipUntil) throw new Error(`redis skipped for ${BREAKER_COOLDOWN_MS} ms after ${BREAKER_FAILURES} failures in a row`);
    try {
      const result = await this.deadlines.within(fn(this.client!), () => new Error(`redis did not answer within ${this.timeoutMs} ms`));
      this.consecutiveFailures = 0;
      return result;
    } catch (error) {
      // After the cooldown one failure re-opens the breaker at once: the count stays at the threshold.
      if (++this.consecutiveFailures >= BREAKER_FAILURES) this.skipUntil = Date.now() + BREAKER_COOLDOWN_MS;
      throw error;
    }
  }

  /** Closes the client after one last try of the pending bumps (what Redis does not take then is lost: the entries' TTL bounds it). */
  public async close(): Promise<void> {
    if (this.unbumped.size > 0) await this.retryBumps();
    this.stopRetrying();
    await this.client?.close().catch(error => logger.warn({ err: String(error) }, 'redis close failed'));
  }
}

/** Redis failures in a row after which it is skipped for a while. */
export const BREAKER_FAILURES = 5;
export const BREAKER_COOLDOWN_MS = 1000;
/** How often bumps Redis did not take are tried again. */
export const INVALIDATION_RETRY_MS = 250;

/**
 * How long a version outlives the write that set it: longer than any value's TTL, since a version
 * gone back to 0 would bring back values stored under 0.
 */
export const VERSION_TTL_SECONDS = 86_400;

function newVersion(token: string): Version {
  return { version: `${Date.now()}.${Math.random().toString(36).slice(2, 8)}`, token };
}

/**
 * What a lookup found: the entry's value as JSON text on a hit; else the newest write's token, and
 * how a load stores (none: store nothing).
 */
interface Lookup {
  readonly json?: string;
  readonly token?: string;
  readonly store?: StorePlan;
}

/** How a load's value is stored: over what the lookup saw in the own version key, keeping its head, under the tags' versions. */
interface StorePlan {
  /** The head the version key held ({@link VersionKey}), or null: it held nothing. */
  readonly seen: string | null;
  readonly tagVersions: string;
}

/**
 * What a version key holds. A write sets `{"version":"<v>","token":"<lsn>"}` (the head; the format
 * before this one reads the same head, so pods of both serve side by side during a rollout), and
 * a load stores its value after the head of the version it read, in the same key: `<head>,
 * "expires":<ms>,"tags":"<tag>=<version>,...","value":<the value's JSON>}`. So a hit is one GET,
 * and a write replaces the entry with its own head. A tag's key holds a head only.
 */
interface VersionKey {
  readonly head: string;
  readonly version: string;
  readonly token: string;
  /** Set when the key holds an entry. */
  readonly entry?: { readonly expires: number; readonly tags: string; readonly valueAt: number };
}

const VERSION_KEY = /^(\{"version":"([^"\\]*)","token":"([^"\\]*)")(?:,"expires":(\d+),"tags":"([^"\\]*)","value":)?/;

/** The head of a version key that held nothing: version 0, no token. */
const ABSENT_HEAD = '{"version":"0","token":""';

/** What `raw`, a version key's text, holds; undefined when it is none or not of this format. */
function parseVersionKey(raw: string | null | undefined): VersionKey | undefined {
  const match = raw ? VERSION_KEY.exec(raw) : null;
  if (!match) return undefined;
  const [matched, head, version, token, expires, tags] = match;
  return { head, version, token, entry: expires === undefined ? undefined : { expires: Number(expires), tags, valueAt: matched.length } };
}

/** The value's JSON text of an entry still fresh and stored under `tagVersions`, or undefined. */
function entryValue(raw: string, found: VersionKey, tagVersions: string): string | undefined {
  const entry = found.entry;
  if (!entry || entry.tags !== tagVersions || entry.expires <= Date.now() || raw.length <= entry.valueAt + 1 || !raw.endsWith('}')) return undefined;
  return raw.slice(entry.valueAt, -1);
}

/** A key's own version lives beside it: with the key's hash tag, in its cluster slot. */
function ownVersionKey(key: string): string {
  return `${key}|version`;
}

/** Tag keys live in their own hash slot each; `{}` keeps the tag name as the hash tag. */
function tagKey(tag: string): string {
  return `hscale:tag:{${tag}}`;
}

function latest(tokens: Array<string | undefined>): string | undefined {
  const present = tokens.filter((t): t is string => !!t);
  if (present.length === 0) return undefined;
  return present.reduce((a, b) => (lsnToBigInt(b) > lsnToBigInt(a) ? b : a));
}
