import { Duration } from 'cdk8s';
import { propError } from '../core/validation';
import { RedisModeModule } from './mode';
import { renderRedisStartScript } from './redis-conf';
import { RedisClusterProps, RedisTopologyBase } from './settings';
import { REDIS_PORT, redisPasswordEnv } from './shared';

/** The props of the other modes, which a single Redis has no use for. */
const PROPS_OF_OTHER_MODES = [
  'shards', 'replicasPerShard', 'clusterNodeTimeout', 'replicas', 'sentinels', 'quorum', 'masterName', 'sentinelDownAfter',
] as const satisfies ReadonlyArray<keyof RedisClusterProps>;

/**
 * One Redis, on its own volume, without replicas: for a cache that may be lost for the minutes
 * a pod takes to come back (the service then reads from the database). The shared PDB lets its
 * one pod be evicted, so node drains never wait for it.
 */
export const STANDALONE_MODE: RedisModeModule<RedisTopologyBase> = {
  resolveTopology(scope, props) {
    // A prop of another mode here is a mistake (a copied config, a forgotten mode), not a no-op to ignore.
    for (const prop of PROPS_OF_OTHER_MODES) {
      const value = props[prop];
      if (value !== undefined) {
        throw propError(scope, prop, value instanceof Duration ? value.toHumanString() : value,
          'does not apply to mode \'standalone\', which runs one Redis without replicas');
      }
    }
    return { nodeCount: 1 };
  },

  plan(_topology, settings) {
    return {
      clusterEnabled: false,
      peerPorts: [],
      replicated: false,
      extraRedisPorts: [],
      configFiles: { 'start.sh': renderRedisStartScript('standalone') },
      redisEnv: [],
      sentinelHosts: [],
      build: shared => ({
        clientLinks: [{ peer: { podSelector: shared.podSelector }, ports: [REDIS_PORT] }],
        // No password in the URL: the clients take REDIS_PASSWORD beside it, which needs no escaping.
        clientEnv: [{ name: 'REDIS_URL', value: `redis://${shared.nodes[0]}` }, redisPasswordEnv(settings.passwordSecret)],
      }),
    };
  },
};
