import { Deadlines } from '../deadlines';
import { PoolTimeoutError } from './errors';

/** A caller waiting for a slot: handed one, or failed once `deadline` (ms, performance.now()) has passed. */
interface Waiter {
  readonly deadline: number;
  readonly resolve: (pipelined: boolean) => void;
  readonly reject: (error: Error) => void;
}

/** A call of {@link Semaphore.run} holding a slot, in the order the slots were taken. */
interface Holder {
  released: boolean;
}

/** Holders kept in order are dropped from the head in batches of at least this many (a shift per call would copy). */
const COMPACT_AT = 1024;

/**
 * At most `max` holders at once; a caller waits at most `timeoutMs` for a slot, first come first
 * served, then fails with {@link PoolTimeoutError}. postgres.js would queue a query without a
 * bound, so a slow database would pile up requests until their clients gave up, instead of
 * answering 503 in bounded time.
 *
 * With `perConnection` above 1 (PG_POOL_PIPELINE) the pool's `max / perConnection` connections
 * each carry up to that many queries (postgres.js pipelines them, given `max_pipeline`), and a
 * query taking a slot beyond one per connection may land behind a slow one. Such a query is
 * refused like a waiter ({@link PoolTimeoutError}) when `timeoutMs` after it took its slot a
 * query that took one before it is still running: so no query waits longer than the pool timeout
 * for its connection, pipelined or not (issue 22).
 *
 * Every waiter has the same timeout, so deadlines come in the order callers queue: one timer, set
 * for the first waiter's deadline, serves them all. A timer per waiter (a setTimeout and a
 * clearTimeout for each of the dozens of requests queued under load) was a measurable part of a
 * replica read's CPU (issue 22).
 */
export class Semaphore {
  private held = 0;
  /** Callers waiting for a slot, oldest first: each is handed the slot of the holder that releases. */
  private readonly waiting: Waiter[] = [];
  private timer?: NodeJS.Timeout;
  /** The holders of run(), oldest first from `head`: the ones a pipelined query may wait behind. */
  private readonly holders: Holder[] = [];
  private head = 0;
  /** When each pipelined holder is checked for an older one still running. */
  private readonly pipelineChecks: Deadlines;
  private readonly connections: number;

  constructor(public readonly name: string, public readonly max: number, private readonly timeoutMs: number, perConnection = 1) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`semaphore '${name}': max (${max}) must be a positive integer`);
    if (!Number.isInteger(perConnection) || perConnection < 1 || max % perConnection !== 0) {
      throw new Error(`semaphore '${name}': perConnection (${perConnection}) must be a positive integer dividing max (${max})`);
    }
    this.connections = max / perConnection;
    this.pipelineChecks = new Deadlines(timeoutMs);
  }

  /** Holders now. */
  public get busy(): number {
    return this.held;
  }

  /** Callers waiting now. */
  public get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves once a slot is this caller's, with whether it is one beyond one per connection (a
   * query in it may be pipelined behind another); rejects after `timeoutMs` without one.
   */
  public acquire(): Promise<boolean> {
    if (this.held < this.max) {
      this.held++;
      return Promise.resolve(this.held > this.connections);
    }
    return new Promise<boolean>((resolve, reject) => {
      this.waiting.push({ deadline: performance.now() + this.timeoutMs, resolve, reject });
      this.timer ??= setTimeout(() => this.expire(), this.timeoutMs);
    });
  }

  /** Gives the slot back: to the first waiter if any (the count of holders stays the same), else to the pool. */
  public release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve(this.held > this.connections);
    else this.held--;
    // No waiter left to time out: a timer still set would hold the process open at shutdown.
    if (this.waiting.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Runs `fn` holding a slot; pipelined, refused once it may have waited behind an older holder for `timeoutMs`. */
  public async run<T>(fn: () => Promise<T>): Promise<T> {
    const pipelined = await this.acquire();
    const holder: Holder = { released: false };
    this.holders.push(holder);
    try {
      return await (pipelined ? this.unqueued(holder, fn()) : fn());
    } finally {
      holder.released = true;
      this.dropReleased();
      this.release();
    }
  }

  /** `call`, or a {@link PoolTimeoutError} if `timeoutMs` from now a holder older than `holder` still runs. */
  private unqueued<T>(holder: Holder, call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const watched = this.pipelineChecks.watch(() => {
        this.dropReleased();
        if (this.holders[this.head] !== holder) reject(new PoolTimeoutError(this.name, this.timeoutMs));
      });
      call.then(value => { watched.done(); resolve(value); }, (error: unknown) => { watched.done(); reject(error); });
    });
  }

  /** Drops the released holders at the head, so it is the oldest still running. */
  private dropReleased(): void {
    while (this.head < this.holders.length && this.holders[this.head].released) this.head++;
    if (this.head >= COMPACT_AT || this.head === this.holders.length) {
      this.holders.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Fails the waiters whose deadline has passed, then sets the timer for the next one's, if any. */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.waiting.length > 0 && this.waiting[0].deadline <= now) {
      this.waiting.shift()!.reject(new PoolTimeoutError(this.name, this.timeoutMs));
    }
    if (this.waiting.length > 0) this.timer = setTimeout(() => this.expire(), this.waiting[0].deadline - now);
  }
}
