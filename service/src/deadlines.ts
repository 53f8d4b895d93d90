/** A call being watched: `done()` once it has settled, so its deadline no longer fires. */
export class Watched {
  constructor(public readonly deadline: number, private onExpire?: () => void) {}

  public get settled(): boolean {
    return this.onExpire === undefined;
  }

  public done(): void {
    // Dropped at once: the callback holds the call's promise, which would live until the deadline.
    this.onExpire = undefined;
  }

  /** Runs the callback unless settled, and settles. */
  public expire(): void {
    const onExpire = this.onExpire;
    this.onExpire = undefined;
    onExpire?.();
  }
}

/** Entries settled at the head are dropped in batches of at least this many (an array shift per call would copy). */
const COMPACT_AT = 1024;

/**
 * Deadlines of calls that all get the same `timeoutMs`: they expire in the order the calls start,
 * so one timer, set for the oldest unsettled call, serves them all. A setTimeout and a
 * clearTimeout per call (and a Promise.race around it) were a measurable part of a cache hit's and
 * a replica read's CPU (issue 22); this costs one small object per call.
 */
export class Deadlines {
  private readonly entries: Watched[] = [];
  private head = 0;
  private timer?: NodeJS.Timeout;

  constructor(public readonly timeoutMs: number) {}

  /** Calls `onExpire` once `timeoutMs` have passed, unless `done()` was called first. */
  public watch(onExpire: () => void): Watched {
    const watched = new Watched(performance.now() + this.timeoutMs, onExpire);
    // Calls mostly settle in the order they start: the settled ones at the head go now, so the
    // entries are about the calls in flight, not every call of the last `timeoutMs`.
    while (this.head < this.entries.length && this.entries[this.head].settled) this.head++;
    this.compact();
    this.entries.push(watched);
    this.timer ??= this.arm(this.timeoutMs);
    return watched;
  }

  /** `promise`, or a rejection with `timeoutError()` once `timeoutMs` have passed without it settling. */
  public within<T>(promise: Promise<T>, timeoutError: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const watched = this.watch(() => reject(timeoutError()));
      promise.then(value => { watched.done(); resolve(value); }, (error: unknown) => { watched.done(); reject(error); });
    });
  }

  private arm(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.expire(), ms);
    // A deadline alone must not keep the process alive: the call it watches does, if anything.
    timer.unref();
    return timer;
  }

  /** Fires the expired unsettled entries, drops the settled ones at the head, and sets the timer for the next. */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head];
      if (!entry.settled && entry.deadline > now) break;
      this.head++;
      entry.expire();
    }
    this.compact();
    if (this.entries.length > this.head) this.timer = this.arm(Math.max(1, this.entries[this.head].deadline - now));
  }

  /** Drops the entries before the head, in batches (an array shift per call would copy the rest each time). */
  private compact(): void {
    if (this.head < COMPACT_AT && this.head < this.entries.length) return;
    this.entries.splice(0, this.head);
    this.head = 0;
  }
}
