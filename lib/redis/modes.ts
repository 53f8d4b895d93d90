import { CLUSTER_MODE } from './cluster-mode';
import { RedisModeModule, RedisModeObjects, RedisModePlan, RedisSharedObjects } from './mode';
import { SENTINEL_MODE } from './sentinel-mode';
import { RedisClusterSettings, RedisMode, RedisTopologyBase } from './settings';
import { STANDALONE_MODE } from './standalone-mode';

/** The module of every mode the `mode` prop names (each module's `name` its key); a new mode is a new module listed here. */
export const REDIS_MODES = {
  cluster: CLUSTER_MODE, sentinel: SENTINEL_MODE, standalone: STANDALONE_MODE,
} satisfies Record<RedisMode, RedisModeModule<RedisTopologyBase>>;

/** The mode the settings name: its plan, and the build of its own objects once the shared ones exist. */
export function plannedRedisMode(settings: RedisClusterSettings): { plan: RedisModePlan; build(shared: RedisSharedObjects): RedisModeObjects } {
  // The topology was resolved by this same mode's module, so it is the one its plan and build read.
  const mode: RedisModeModule<RedisTopologyBase> = REDIS_MODES[settings.mode];
  return { plan: mode.plan(settings.topology, settings), build: shared => mode.build(shared, settings.topology) };
}
