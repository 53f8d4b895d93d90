import postgres from 'postgres';
import { BenchContext, Scenario } from '../support/context';
import { HttpClient, loops, metricSum } from '../support/http';
import { median, seededRandom, zipfSampler } from '../support/stats';

const CONCURRENCY = 16;
const WRITE_SHARE = 0.05;
const ZIPF_EXPONENT = 1.0;
const WARMUP_OPS = 5000;
const WINDOW_OPS = 5000;
const WINDOWS = Number(process.env.BENCH_ROUNDS ?? 3);
const WINDOW_MAX_MS = 25_000;

interface Counters { hits: number; misses: number; dbReads: number; dbWrites: number }

interface Window {
  reads: number;
  writes: number;
  tokenReads: number;
  failed: number;
  /** Reads with the write's token that returned an older version than the write made. */
  tokenViolations: number;
  /** Plain (cached) reads sent after a write was acknowledged that returned an older version. */
  staleReads: number;
  /** Reads that must miss: the item's first read, or its first since a write (the ceiling of the hit ratio). */
  unavoidableMisses: number;
}

/** The state the load keeps of each item: its version as of the last acknowledged write. */
class Items {
  private readonly acked = new Map<string, { version: number; at: number }>();
  private readonly writing = new Set<string>();
  /** Items read since their last write: a cache that keeps everything has them. */
  private readonly cached = new Set<string>();

  constructor(private readonly versions: Map<string, number>) {}

  public version(id: string): number {
    return this.acked.get(id)?.version ?? this.versions.get(id) ?? 1;
  }

  /** The version a read sent at `sentAt` must at least see: the last write acknowledged before it. */
  public floor(id: string, sentAt: number): number {
    const acked = this.acked.get(id);
    return acked && acked.at < sentAt ? acked.version : 0;
  }

  public tryLock(id: string): boolean {
    if (this.writing.has(id)) return false;
    this.writing.add(id);
    return true;
  }

  public release(id: string, version?: number): void {
    if (version !== undefined) {
      this.acked.set(id, { version, at: performance.now() });
      this.cached.delete(id);
    }
    this.writing.delete(id);
  }

  /** Records a read; false when it could not have been a hit. */
  public read(id: string): boolean {
    if (this.cached.has(id)) return true;
    this.cached.add(id);
    return false;
  }
}

async function counters(client: HttpClient): Promise<Counters> {
  const stats = await client.json<{ hits: number; misses: number }>('/api/v1/cache/stats');
  const metrics = (await client.send('GET', '/metrics')).body;
  return { hits: stats.hits, misses: stats.misses, dbReads: metricSum(metrics, 'db_reads_total'), dbWrites: metricSum(metrics, 'db_writes_total') };
}

/** One operation of the mix: a plain read, or a write followed by a read with its token. */
async function operation(client: HttpClient, items: Items, id: string, write: boolean, w: Window, auth: Record<string, string>): Promise<void> {
  if (write && items.tryLock(id)) {
    let written: number | undefined;
    try {
      const put = await client.send('PUT', `/api/v1/items/${id}`, { name: `write ${items.version(id) + 1}`, payload: { at: Date.now() }, version: items.version(id) }, auth);
      w.writes++;
      if (put.status !== 200 || !put.token) { w.failed++; return; }
      written = (JSON.parse(put.body) as { version: number }).version;
      const check = await client.send('GET', `/api/v1/items/${id}`, undefined, { 'X-Consistency-Token': put.token });
      w.tokenReads++;
      if (check.status !== 200) w.failed++;
      else if ((JSON.parse(check.body) as { version: number }).version < written) w.tokenViolations++;
    } finally {
      items.release(id, written);
    }
    return;
  }
  const sentAt = performance.now();
  if (!items.read(id)) w.unavoidableMisses++;
  const read = await client.send('GET', `/api/v1/items/${id}`);
  w.reads++;
  if (read.status !== 200) { w.failed++; return; }
  if ((JSON.parse(read.body) as { version: number }).version < items.floor(id, sentAt)) w.staleReads++;
}

/** Zipf reads over the seeded items with 5% writes, against the service with the Redis Cluster cache. */
export const cacheEffectiveness: Scenario = {
  id: 'cache-effectiveness',
  title: '4 cache effectiveness',
  async run(context: BenchContext) {
    const stack = await context.stack();
    const { direct } = await context.backends();
    const client = new HttpClient(direct.cached.url, CONCURRENCY);
    const sql = postgres(stack.pg.databaseUrl, { max: 1, onnotice: () => undefined });
    const versions = new Map((await sql<Array<{ id: string; version: number }>>`select id, version from items`).map(r => [r.id, r.version]));
    await sql.end();
    const items = new Items(versions);
    const random = seededRandom(13);
    const rank = zipfSampler(stack.items.length, ZIPF_EXPONENT, random);
    /** `ops` operations of the mix, or with `everyItem` one read of each item (what a long-running cache holds). */
    const phase = async (ops: number, everyItem = false): Promise<Window & Counters> => {
      const w: Window = { reads: 0, writes: 0, tokenReads: 0, failed: 0, tokenViolations: 0, staleReads: 0, unavoidableMisses: 0 };
      const before = await counters(client);
      const deadline = performance.now() + WINDOW_MAX_MS;
      await loops(CONCURRENCY, ops, () => performance.now() > deadline, i =>
        (everyItem ? operation(client, items, stack.items[i], false, w, stack.writeHeaders) : operation(client, items, stack.items[rank()], random() < WRITE_SHARE, w, stack.writeHeaders)));
      const after = await counters(client);
      return { ...w, hits: after.hits - before.hits, misses: after.misses - before.misses, dbReads: after.dbReads - before.dbReads, dbWrites: after.dbWrites - before.dbWrites };
    };
    try {
      const warmup = await phase(WARMUP_OPS);
      // Zipf's long tail takes ~50,000 operations to be read once each; a cache in service for a while has it.
      await phase(stack.items.length, true);
      const windows: Array<Window & Counters> = [];
      for (let i = 0; i < WINDOWS; i++) windows.push(await phase(WINDOW_OPS));
      const hitRatios = windows.map(w => w.hits / (w.hits + w.misses));
      const ceilings = windows.map(w => 1 - w.unavoidableMisses / w.reads);
      // Database work per request of the mix (plain reads and writes); the token reads are the check, not the load.
      const perRequest = windows.map(w => (w.dbReads - w.tokenReads + w.dbWrites) / (w.reads + w.writes));
      const sum = (f: (w: Window) => number) => [warmup, ...windows].reduce((n, w) => n + f(w), 0);
      return {
        figures: [
          { name: 'hit ratio (warm)', value: median(hitRatios), unit: '', runs: hitRatios, goal: { op: '>=', target: 0.9 }, note: 'guides claim 0.85' },
          { name: 'hit ratio a cache keeping everything would reach (same requests)', value: median(ceilings), unit: '', runs: ceilings, note: 'misses: first read of an item, first read after its write' },
          { name: `hit ratio from cold (first ${WARMUP_OPS} operations)`, value: warmup.hits / (warmup.hits + warmup.misses), unit: '' },
          { name: 'database queries per request (warm)', value: median(perRequest), unit: '', runs: perRequest, note: 'without cache: 1 per request' },
          { name: 'database load saved (warm)', value: 1 - median(perRequest), unit: '', note: 'guides claim 0.85' },
          { name: 'token reads returning an older version', value: sum(w => w.tokenViolations), unit: '', goal: { op: '<=', target: 0 } },
          { name: 'plain reads after an acknowledged write returning an older version', value: sum(w => w.staleReads), unit: '', goal: { op: '<=', target: 0 } },
          { name: 'writes / token reads checked', value: sum(w => w.writes), unit: '', note: `${sum(w => w.tokenReads)} token reads` },
          { name: 'failed requests', value: sum(w => w.failed), unit: '', goal: { op: '<=', target: 0 } },
        ],
        method: [
          `${stack.items.length} seeded items; each operation picks an item by Zipf rank (exponent ${ZIPF_EXPONENT}, seeded), and is a write (PUT with the known version) with probability ${WRITE_SHARE}, else a read (GET without token).`,
          `${CONCURRENCY} concurrent loops against the service with the Redis Cluster cache (direct, no nginx); ${WARMUP_OPS} operations from a cold cache, then one read of every item (the warm state of a cache in service for a while: Zipf's tail needs ~50,000 operations to be read once), then ${WINDOWS} windows of ${WINDOW_OPS}; figures from the service's /api/v1/cache/stats and /metrics (db_reads_total, db_writes_total) before and after each window.`,
          'Every acknowledged write is followed by a GET carrying its X-Consistency-Token; it must return at least the written version. A plain read sent after a write was acknowledged must too (the cache is invalidated before the write answers).',
        ],
        data: { warmup, windows },
      };
    } finally {
      client.close();
    }
  },
};
