import { PoolTimeoutError } from './errors';

/** A caller waiting for a slot: handed one, or failed once `deadline` (ms, performance.now()) has passed. */
interface Waiter {
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * At most `max` holders at once; a caller waits at most `timeoutMs` for a slot, first come first
 * served, then fails with {@link PoolTimeoutError}. postgres.js would queue a query without a
 * bound, so a slow database would pile up requests until their clients gave up, instead of
 * answering 503 in bounded time.
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

  constructor(public readonly name: string, public readonly max: number, private readonly timeoutMs: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`semaphore '${name}': max (${max}) must be a positive integer`);
  }

  /** Holders now. */
  public get busy(): number {
    return this.held;
  }

  /** Callers waiting now. */
  public get queued(): number {
    return this.waiting.length;
  }

  /** Resolves once a slot is this caller's; rejects after `timeoutMs` without one. */
  public acquire(): Promise<void> {
    if (this.held < this.max) {
      this.held++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ deadline: performance.now() + this.timeoutMs, resolve, reject });
      this.timer ??= setTimeout(() => this.expire(), this.timeoutMs);
    });
  }

  /** Gives the slot back: to the first waiter if any (the count of holders stays the same), else to the pool. */
  public release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.held--;
    // No waiter left to time out: a timer still set would hold the process open at shutdown.
    if (this.waiting.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Runs `fn` holding a slot. */
  public async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
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
