import { ReadPolicy } from './config';
import { lsnToBigInt } from './lsn';

export type ReadTarget = 'replica' | 'primary';
export type ReadReason = 'replica' | 'policy' | 'no-replicas-configured' | 'no-healthy-replica' | 'token-not-reached' | 'replica-failed';

/** Where one read goes: a replica, the primary (and why), or the first of `candidates` whose live replay LSN reaches the token. */
export type ReadPlan =
  | { readonly target: 'replica'; readonly replica: string }
  | { readonly target: 'primary'; readonly reason: Exclude<ReadReason, 'replica'> }
  | { readonly target: 'check'; readonly candidates: string[] };

/** What the policy needs to know of a replica. */
export interface ReplicaView {
  readonly name: string;
  readonly healthy: boolean;
  readonly replayLsn: string | null;
}

/**
 * The routing policy, a pure function: `primary` sends every read to the primary; `replicas`
 * spreads reads round-robin (from `turn`) over the healthy replicas and, for a read that carries
 * a consistency token, picks one whose last known replay LSN has reached it. When none is known
 * to have, the healthy ones are candidates for a live check (judged per replica: one that caught
 * up says nothing about the others); none healthy, the primary.
 */
export function planRead(policy: ReadPolicy, replicas: readonly ReplicaView[], turn: number, token?: string): ReadPlan {
  if (policy === 'primary') return { target: 'primary', reason: 'policy' };
  if (replicas.length === 0) return { target: 'primary', reason: 'no-replicas-configured' };
  const healthy = replicas.filter(r => r.healthy);
  if (healthy.length === 0) return { target: 'primary', reason: 'no-healthy-replica' };
  if (token === undefined) return { target: 'replica', replica: healthy[turn % healthy.length].name };
  const ordered = healthy.map((_, i) => healthy[(turn + i) % healthy.length]);
  const wanted = lsnToBigInt(token);
  const reached = ordered.find(r => r.replayLsn !== null && lsnToBigInt(r.replayLsn) >= wanted);
  if (reached) return { target: 'replica', replica: reached.name };
  return { target: 'check', candidates: ordered.map(r => r.name) };
}
