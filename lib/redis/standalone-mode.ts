import { RedisModeModule } from './mode';
import { renderRedisStartScript } from './redis-conf';
import { RedisTopologyBase } from './settings';
import { clientAuthEnv, kedaTlsMetadata, REDIS_PORT, scriptTls } from './shared';

/**
 * One Redis, on its own volume, without replicas: for a cache that may be lost for the minutes
 * a pod takes to come back (the service then reads from the database). The shared PDB lets its
 * one pod be evicted, so node drains never wait for it.
 */
export const STANDALONE_MODE: RedisModeModule<RedisTopologyBase> = {
  name: 'standalone',
  // Every prop standalone mode reads, the other modes read too.
  ownProps: [],
  resolve() {
    return { nodeCount: 1, replicasPerMaster: 0 };
  },

  plan(_topology, settings) {
    return {
      clusterEnabled: false,
      peerPorts: [],
      replicated: false,
      extraRedisPorts: [],
      configFiles: { 'start.sh': renderRedisStartScript('standalone', scriptTls(settings)) },
      redisEnv: [],
      sentinelHosts: [],
    };
  },

  build({ settings, nodes, podSelector }) {
    return {
      clientLinks: [{ peer: { podSelector }, ports: [REDIS_PORT] }],
      // No credentials in the URL: the clients take REDIS_USERNAME and REDIS_PASSWORD beside it, which need no escaping.
      clientEnv: [{ name: 'REDIS_URL', value: `${settings.tls ? 'rediss' : 'redis'}://${nodes[0]}` }, ...clientAuthEnv(settings)],
      listLengthTrigger: (listName, listLength) => ({ type: 'redis', metadata: { address: nodes[0], listName, listLength: String(listLength), ...kedaTlsMetadata(settings) } }),
    };
  },
};
