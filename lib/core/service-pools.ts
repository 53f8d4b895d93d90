import { Construct } from 'constructs';
import { propError, requireIntInRange } from './validation';

/** The reference service's two pool bounds (`PG_POOL_MAX`, `PG_REPLICA_POOL_MAX`), shared by the API and the workers. */
export interface ServicePoolBounds {
  /** Connections each pod may open to the primary. */
  readonly primaryPerPod: number;
  /** Connections each pod may open to each replica. */
  readonly replicaPerPod: number;
}

/** A pool's size and overflow, in the guides' SQLAlchemy terms (ScaledApi's `databasePool`). */
export interface ServicePoolSizes {
  readonly primarySize?: number;
  readonly primaryOverflow?: number;
  readonly replicaSize?: number;
  readonly replicaOverflow?: number;
}

/** Each pool's `size + overflow`; without sizes, the service's own defaults (10 each, service/src/db/config.ts). */
export function servicePoolBounds(scope: Construct, pool: ServicePoolSizes = {}): ServicePoolBounds {
  return {
    primaryPerPod: poolMax(scope, 'primary', pool.primarySize, pool.primaryOverflow),
    replicaPerPod: poolMax(scope, 'replica', pool.replicaSize, pool.replicaOverflow),
  };
}

// The service accepts 1 to 1000 connections per pool.
const MAX_POOL_CONNECTIONS = 1000;

function poolMax(scope: Construct, pool: 'primary' | 'replica', size = 10, overflow = 0): number {
  requireIntInRange(scope, `databasePool.${pool}Size`, size, 1, MAX_POOL_CONNECTIONS);
  requireIntInRange(scope, `databasePool.${pool}Overflow`, overflow, 0, MAX_POOL_CONNECTIONS - 1);
  if (size + overflow > MAX_POOL_CONNECTIONS) {
    throw propError(scope, `databasePool.${pool}Overflow`, overflow,
      `plus '${pool}Size' (${size}) must be at most ${MAX_POOL_CONNECTIONS}, the most connections one pool of the service holds`);
  }
  return size + overflow;
}
