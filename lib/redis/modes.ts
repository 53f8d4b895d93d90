import { CLUSTER_MODE } from './cluster-mode';
import { RedisModeModule, RedisModePlan } from './mode';
import { SENTINEL_MODE } from './sentinel-mode';
import { RedisClusterSettings } from './settings';
import { STANDALONE_MODE } from './standalone-mode';

/** Every Redis mode under the name the `mode` prop takes; a new mode is a new module listed here. */
export const REDIS_MODES = { cluster: CLUSTER_MODE, sentinel: SENTINEL_MODE, standalone: STANDALONE_MODE };

export type RedisMode = keyof typeof REDIS_MODES;
export const REDIS_MODE_NAMES = Object.keys(REDIS_MODES) as RedisMode[];

type TopologyOf<M> = M extends RedisModeModule<infer T> ? T : never;
/** The resolved settings of any one mode. */
export type RedisTopology = TopologyOf<typeof REDIS_MODES[RedisMode]>;

/** The plan of the mode the settings name. */
export function planRedisMode(settings: RedisClusterSettings): RedisModePlan {
  const mode: RedisModeModule<RedisTopology> = REDIS_MODES[settings.mode];
  return mode.plan(settings.topology, settings);
}
