/**
 * Subjects tested side by side: each subject's steps run in order, in the background, while other
 * subjects' steps run beside them; each step is a jest test that waits for its step's outcome.
 * Steps that disturb one another take a `ModeLock` in different modes.
 */

/** A lock held in one mode at a time, by any number of holders of that mode. A waiter for another mode holds back later arrivals, so neither mode starves. */
export class ModeLock<M extends string> {
  private mode: M | undefined;
  private holders = 0;
  private waiting: Array<{ readonly mode: M; readonly admit: () => void }> = [];

  /** Resolves, once the lock is held in `mode`, to the function that releases this hold. */
  public async acquire(mode: M): Promise<() => void> {
    if ((this.holders === 0 || this.mode === mode) && this.waiting.length === 0) this.admit(mode);
    else await new Promise<void>(admit => this.waiting.push({ mode, admit }));
    return () => this.release();
  }

  private admit(mode: M): void {
    this.mode = mode;
    this.holders++;
  }

  /** The last holder out lets in every waiter of the first waiter's mode. */
  private release(): void {
    if (--this.holders > 0 || this.waiting.length === 0) return;
    const next = this.waiting[0].mode;
    const admitted = this.waiting.filter(w => w.mode === next);
    this.waiting = this.waiting.filter(w => w.mode !== next);
    for (const waiter of admitted) {
      this.admit(next);
      waiter.admit();
    }
  }
}

type Outcome = { readonly failed: false } | { readonly failed: true; readonly error: unknown };

/**
 * One subject's steps, each the body of a jest test, run in order once `start()` is called. As jest
 * goes on to a describe's next test after a failure, a step that fails does not stop the next. A
 * step may name the `ModeLock` mode it needs: consecutive steps of one mode hold it throughout.
 */
export class StepSequence<M extends string> {
  private readonly steps: Array<{ readonly mode?: M; readonly run: () => Promise<void> }> = [];
  private finished: Promise<void> | undefined;

  constructor(private readonly lock: ModeLock<M>) {}

  /**
   * Adds `body` as the next step; returns the body of its jest test, which waits for the step's
   * outcome: `test(name, run.step(async () => { ... }))`.
   */
  public step(body: () => Promise<void>, mode?: M): () => Promise<void> {
    let settle!: (outcome: Outcome) => void;
    const outcome = new Promise<Outcome>(resolve => { settle = resolve; });
    this.steps.push({ mode, run: () => Promise.resolve().then(body).then(() => settle({ failed: false }), (error: unknown) => settle({ failed: true, error })) });
    return async () => {
      if (!this.finished) throw new Error('the steps were never started: call start() in a beforeAll');
      const settled = await outcome;
      if (settled.failed) throw settled.error;
    };
  }

  /** Runs the steps (once); resolves when the last has settled. */
  public start(): Promise<void> {
    this.finished ??= this.run();
    return this.finished;
  }

  private async run(): Promise<void> {
    let held: { readonly mode: M; readonly release: () => void } | undefined;
    for (const step of this.steps) {
      if (held && held.mode !== step.mode) {
        held.release();
        held = undefined;
      }
      if (step.mode && !held) held = { mode: step.mode, release: await this.lock.acquire(step.mode) };
      await step.run();
    }
    held?.release();
  }
}
