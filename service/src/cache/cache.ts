import { lsnToBigInt } from '../db/lsn';
import { logger } from '../logger';
import { CacheClient } from './client';

export interface CacheStats {
  hits: number;
  misses: number;
  errors: number;
  invalidations: number;
  hitRatio: number | null;
}

/** A cached value, or the marker a write leaves: the LSN a reader must have reached to reload it. */
type Entry = { value: unknown } | { minToken: string };

/** Hooks the metrics module listens on. */
export interface CacheObserver {
  onHit?(): void;
  onMiss?(): void;
  onError?(): void;
  onInvalidate?(): void;
}

/**
 * A read-through cache with TTLs and tag invalidation that needs no multi-key command, so it
 * works on Redis Cluster: a tag is one key holding a version, and a cached value's key embeds
 * the versions of its tags, so bumping a tag orphans every value under it (their TTL reclaims
 * them). A write leaves its consistency token in the invalidated keys: the next reader reloads
 * with it, so a replica that has not replayed the write cannot refill the cache with stale data.
 * Every Redis call has a timeout; on any Redis failure the loader's answer is served. After
 * `BREAKER_FAILURES` failures in a row Redis is skipped for `BREAKER_COOLDOWN_MS`, so a dead
 * Redis costs requests nothing rather than one timeout each.
 */
export class ReadThroughCache {
  private readonly stats = { hits: 0, misses: 0, errors: 0, invalidations: 0 };
  private consecutiveFailures = 0;
  private skipUntil = 0;

  constructor(
    private readonly client: CacheClient | undefined,
    private readonly defaultTtlSeconds: number,
    private readonly timeoutMs = 250,
    private readonly observer: CacheObserver = {},
  ) {}

  public get enabled(): boolean {
    return this.client !== undefined;
  }

  /** The value of `key` under `tags`, loading it (with the token of the latest write, if any) on a miss. */
  public async getOrLoad<T>(key: string, tags: string[], load: (token?: string) => Promise<T>, ttlSeconds = this.defaultTtlSeconds): Promise<T> {
    if (!this.client) return load();
    let fullKey: string | undefined;
    let token: string | undefined;
    try {
      const tagEntries = await Promise.all(tags.map(tag => this.call(c => c.get(tagKey(tag)))));
      const versions = tagEntries.map(raw => (raw ? JSON.parse(raw) as { version: string; token: string } : undefined));
      fullKey = `${key}|${versions.map((v, i) => `${tags[i]}=${v?.version ?? 0}`).join(',')}`;
      token = latest(versions.map(v => v?.token));
      const raw = await this.call(c => c.get(fullKey!));
      if (raw) {
        const entry = JSON.parse(raw) as Entry;
        if ('value' in entry) {
          this.count('hits');
          return entry.value as T;
        }
        token = latest([token, entry.minToken]);
      }
      this.count('misses');
    } catch (error) {
      this.failed(error);
      return load();
    }
    const value = await load(token);
    this.call(c => c.set(fullKey!, JSON.stringify({ value }), ttlSeconds)).catch(error => this.failed(error));
    return value;
  }

  /** Drops `key` and bumps `tags`, leaving the write's `token` for the next reader. */
  public async invalidate(key: string | undefined, tags: string[], token: string): Promise<void> {
    if (!this.client) return;
    try {
      await Promise.all([
        ...(key ? [this.call(c => c.set(`${key}|`, JSON.stringify({ minToken: token }), this.defaultTtlSeconds))] : []),
        ...tags.map(tag => this.call(c => c.set(tagKey(tag), JSON.stringify({ version: `${Date.now()}.${Math.random().toString(36).slice(2, 8)}`, token }), 86_400))),
      ]);
      this.count('invalidations');
    } catch (error) {
      this.failed(error);
    }
  }

  public getStats(): CacheStats {
    const lookups = this.stats.hits + this.stats.misses;
    return { ...this.stats, hitRatio: lookups === 0 ? null : this.stats.hits / lookups };
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
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([fn(this.client!), new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      })]);
      this.consecutiveFailures = 0;
      return result;
    } catch (error) {
      // After the cooldown one failure re-opens the breaker at once: the count stays at the threshold.
      if (++this.consecutiveFailures >= BREAKER_FAILURES) this.skipUntil = Date.now() + BREAKER_COOLDOWN_MS;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  public async close(): Promise<void> {
    await this.client?.close().catch(error => logger.warn({ err: String(error) }, 'redis close failed'));
  }
}

/** Redis failures in a row after which it is skipped for a while. */
export const BREAKER_FAILURES = 5;
export const BREAKER_COOLDOWN_MS = 1000;

/** Tag keys live in their own hash slot each; `{}` keeps the tag name as the hash tag. */
function tagKey(tag: string): string {
  return `hscale:tag:{${tag}}`;
}

function latest(tokens: Array<string | undefined>): string | undefined {
  const present = tokens.filter((t): t is string => !!t);
  if (present.length === 0) return undefined;
  return present.reduce((a, b) => (lsnToBigInt(b) > lsnToBigInt(a) ? b : a));
}
