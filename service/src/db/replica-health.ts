import { logger } from '../logger';
import { lsnToBigInt } from './lsn';

/** What the router knows of one replica, from its last check. */
export interface ReplicaState {
  readonly name: string;
  healthy: boolean;
  /** Found not in recovery at its last check: it leads (promoted, or never a replica), and takes no reads as a replica. */
  leading: boolean;
  lagMs: number | null;
  lagBytes: number | null;
  replayLsn: string | null;
  lastError?: string;
  lastCheckedAt?: string;
}

/**
 * Replica health from LSNs. The primary's LSN is sampled every check; a replica's lag is the age
 * of the oldest sample it has not replayed (an idle primary gives lag 0, where replay timestamps
 * would grow for ever). A replica that is down, lags more than `maxLagMs`, or has not replayed the
 * floor (the primary's LSN at start, after the migrations) takes no reads.
 */
export class ReplicaHealth {
  private readonly samples: Array<{ at: number; lsn: bigint }> = [];
  private readonly byName: Map<string, ReplicaState>;
  private readonly live: ReplicaState[];
  private floor = 0n;

  constructor(
    names: string[],
    private readonly maxLagMs: number,
    private readonly onChange: (name: string, healthy: boolean, why: string) => void = () => undefined,
  ) {
    this.byName = new Map(names.map(name => [name, { name, healthy: false, leading: false, lagMs: null, lagBytes: null, replayLsn: null }]));
    this.live = [...this.byName.values()];
  }

  /** The LSN a replica must have replayed before it takes reads. */
  public setFloor(lsn: bigint): void {
    this.floor = lsn;
  }

  /** Notes the primary's current LSN, keeping the samples a lag judgement can need: a little more than the bound. */
  public recordPrimary(lsn: bigint, now = Date.now()): void {
    if (this.samples.at(-1)?.lsn !== lsn) this.samples.push({ at: now, lsn });
    while (this.samples.length > 1 && this.samples[1].at < now - this.maxLagMs * 2 - 10_000) this.samples.shift();
  }

  /**
   * The primary did not answer a sample: it is down, or being replaced. Its samples go: a promoted
   * replica may never reach an LSN the old primary wrote but did not send, which would eject every
   * replica while reads need them most. Lag is judged again from the next primary's samples.
   */
  public primaryUnanswered(): void {
    this.samples.length = 0;
  }

  /** The newest primary LSN sampled, if any. */
  public get latestPrimary(): bigint | undefined {
    return this.samples.at(-1)?.lsn;
  }

  /**
   * A check's answer: the replica's replay LSN, or null when the server is not in recovery: it leads
   * (Patroni lists every member, and promotes one), so it takes no reads as a replica until a check
   * finds it in recovery again (rejoined after a failover).
   */
  public replayed(name: string, lsn: string | null, now = Date.now()): void {
    const state = this.state(name);
    state.leading = lsn === null;
    if (lsn === null) return this.down(name, new Error('not in recovery: a primary, read through the primary\'s address only'));
    const replayed = lsnToBigInt(lsn);
    const newest = this.samples.at(-1);
    const behind = this.samples.find(s => s.lsn > replayed);
    state.replayLsn = lsn;
    state.lagBytes = newest && newest.lsn > replayed ? Number(newest.lsn - replayed) : 0;
    state.lagMs = behind ? now - behind.at : 0;
    state.lastCheckedAt = new Date(now).toISOString();
    const lagging = state.lagMs > this.maxLagMs;
    const beforeStart = replayed < this.floor;
    this.setHealthy(state, !lagging && !beforeStart,
      beforeStart ? 'has not replayed the primary\'s state at start (migrations)' : lagging ? `replay lag ${state.lagMs} ms` : 'replaying');
  }

  /** A replay LSN read outside the checks (a read waiting for a token): newer, it is kept; health is the checks' to judge. */
  public noteReplay(name: string, lsn: string): void {
    const state = this.state(name);
    if (!state.replayLsn || lsnToBigInt(lsn) > lsnToBigInt(state.replayLsn)) state.replayLsn = lsn;
  }

  /** The replica failed a check or a query: no reads until a check finds it well. */
  public down(name: string, error: unknown): void {
    const state = this.state(name);
    state.lastError = String((error as Error).message ?? error);
    state.lagMs = null;
    this.setHealthy(state, false, state.lastError);
  }

  /** The live state of `name` (the policy reads it on every query). */
  public state(name: string): ReplicaState {
    const state = this.byName.get(name);
    if (!state) throw new Error(`no replica named ${JSON.stringify(name)}`);
    return state;
  }

  /** A copy of every replica's state, in the configured order. */
  public states(): ReplicaState[] {
    return [...this.byName.values()].map(s => ({ ...s }));
  }

  /** The live states, not copied, for a read's routing (a copy of every state per read was measurable, issue 22). */
  public view(): readonly Readonly<ReplicaState>[] {
    return this.live;
  }

  private setHealthy(state: ReplicaState, healthy: boolean, why: string): void {
    if (state.healthy !== healthy) {
      logger.info({ replica: state.name, healthy, why }, 'replica state changed');
      this.onChange(state.name, healthy, why);
    }
    state.healthy = healthy;
  }
}
