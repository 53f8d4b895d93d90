import { CLUSTER_MODE } from './cluster-mode';
import { RedisModeModule, RedisModePlan } from './mode';
import { SENTINEL_MODE } from './sentinel-mode';
import { RedisClusterSettings, RedisMode, RedisTopologyBase } from './settings';
import { STANDALONE_MODE } from './standalone-mode';

/** The module of every mode the `mode` prop names; a new mode is a new module listed here. */
export const REDIS_MODES = {
  cluster: CLUSTER_MODE, sentinel: SENTINEL_MODE, standalone: STANDALONE_MODE,
} satisfies Record<RedisMode, RedisModeModule<RedisTopologyBase>>;

/** The plan of the mode the settings name. */
export function planRedisMode(settings: RedisClusterSettings): RedisModePlan {
  // The topology was resolved by this same mode's module, so it is the one its plan reads.
  const mode: RedisModeModule<RedisTopologyBase> = REDIS_MODES[settings.mode];
  return mode.plan(settings.topology, settings);
}
