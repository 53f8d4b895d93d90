import { PoolTimeoutError } from './errors';

/**
 * At most `max` holders at once; a caller waits at most `timeoutMs` for a slot, first come first
 * served, then fails with {@link PoolTimeoutError}. postgres.js would queue a query without a
 * bound, so a slow database would pile up requests until their clients gave up, instead of
 * answering 503 in bounded time.
 */
export class Semaphore {
  private held = 0;
  /** Callers waiting for a slot: each is handed the slot of the holder that releases. */
  private readonly waiting: Array<() => void> = [];

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
  public async acquire(): Promise<void> {
    if (this.held < this.max) {
      this.held++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const handOver = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(handOver), 1);
        reject(new PoolTimeoutError(this.name, this.timeoutMs));
      }, this.timeoutMs);
      this.waiting.push(handOver);
    });
  }

  /** Gives the slot back: to the first waiter if any (the count of holders stays the same), else to the pool. */
  public release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held--;
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
}
