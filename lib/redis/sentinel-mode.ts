import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { commonLabels, imageVersion, selectorLabels } from '../core/names';
import { disruptionBudget, fixedResources, restrictedContainerSecurityContext, scratchVolume, withEphemeralStorage } from '../core/pod-defaults';
import { tlsFiles } from '../core/tls';
import { propError, requireDnsLabel, requireIntInRange, requireWholeDuration } from '../core/validation';
import { RedisModeModule, RedisModeObjects, RedisSharedObjects } from './mode';
import { REDIS_USERS } from './redis-acl';
import {
  renderRedisStartScript, renderSentinelConf, renderSentinelMasterSettings, renderSentinelStartScript, SentinelConfOptions,
} from './redis-conf';
import { RedisClusterProps, RedisClusterSettings, RedisTopologyBase } from './settings';
import {
  aclPasswordEnv, announceEnv, clientAuthEnv, CONFIG_MOUNT, configVolume, createHeadlessService, createPeerNetworkPolicy, namedServicePort,
  kedaTlsMetadata, objectMeta, podAddresses, podHost, podTemplateMetadata, REDIS_PORT, redisPodBasics, scriptTls, SENTINEL_PORT, sentinelPasswordEnv,
  startScriptEnv, TLS_DIR, tlsMounts,
} from './shared';

/** One master with replicas, failed over by a group of Sentinels. */
export interface SentinelTopology extends RedisTopologyBase {
  /** Replicas of the master. */
  readonly replicas: number;
  /** Sentinel processes. */
  readonly sentinels: number;
  /** Sentinels that must agree the master is down. */
  readonly quorum: number;
  /** Name clients ask the Sentinels for. */
  readonly masterName: string;
  /** Milliseconds the master may be unreachable before it is failed over. */
  readonly downAfterMs: number;
}

/** The Sentinels' StatefulSet and Service name, their addresses, and the env that finds the master. */
interface SentinelGroup {
  readonly name: string;
  readonly hosts: string[];
  readonly masterEnv: k8s.EnvVar[];
}

/** A master with replicas, which start by asking the Sentinels who the master is. */
export const SENTINEL_MODE: RedisModeModule<SentinelTopology> = {
  name: 'sentinel',
  ownProps: ['replicas', 'sentinels', 'quorum', 'masterName', 'sentinelDownAfter', 'sentinelPod'],
  resolve: resolveSentinelTopology,

  plan(topology, settings) {
    const group = sentinelGroup(topology, settings);
    return {
      clusterEnabled: false,
      peerPorts: [REDIS_PORT],
      replicated: true,
      extraRedisPorts: [],
      configFiles: sentinelConfigFiles(topology, settings),
      redisEnv: group.masterEnv,
      sentinelHosts: group.hosts,
      masterName: topology.masterName,
    };
  },

  build: (shared, topology) => buildSentinels(shared, topology, shared.settings, sentinelGroup(topology, shared.settings)),
};

function resolveSentinelTopology(scope: Construct, props: RedisClusterProps): SentinelTopology {
  const replicas = requireIntInRange(scope, 'replicas', props.replicas ?? 2, 1, 100);
  const sentinels = props.sentinels ?? 3;
  if (!Number.isInteger(sentinels) || sentinels < 3) {
    throw propError(scope, 'sentinels', sentinels, 'must be an integer of 3 or more, so a majority survives the loss of one');
  }
  const quorum = requireIntInRange(scope, 'quorum', props.quorum ?? 2, 1, 1000);
  if (quorum > sentinels) {
    throw propError(scope, 'quorum', quorum, `must be less than or equal to 'sentinels' (${sentinels}), or no failover can ever be agreed`);
  }
  const masterName = requireDnsLabel(scope, 'masterName', props.masterName ?? 'hscale');
  // Like clusterNodeTimeout: below 0.5 s a busy master is failed over; above a minute it is down that long unnoticed.
  const downAfterMs = requireWholeDuration(scope, 'sentinelDownAfter', props.sentinelDownAfter ?? Duration.seconds(5), 'milliseconds', 500, 60_000);
  return { nodeCount: 1 + replicas, replicasPerMaster: replicas, replicas, sentinels, quorum, masterName, downAfterMs };
}

function sentinelGroup(topology: SentinelTopology, settings: RedisClusterSettings): SentinelGroup {
  const name = `${settings.name}-sentinel`;
  const hosts = podAddresses(settings, name, name, topology.sentinels, SENTINEL_PORT);
  return {
    name,
    hosts,
    masterEnv: [
      { name: 'SENTINEL_HOSTS', value: hosts.join(' ') },
      { name: 'MASTER_NAME', value: topology.masterName },
      { name: 'INITIAL_MASTER_HOST', value: podHost(settings, settings.name, settings.headlessServiceName, 0) },
      // Named, not left to REDIS_PORT: the master's port is a peer's, which may differ from this pod's own (npm run local).
      { name: 'INITIAL_MASTER_PORT', value: String(REDIS_PORT) },
      // Redis pods and Sentinels both ask the Sentinels, which require it.
      sentinelPasswordEnv(settings),
    ],
  };
}

function sentinelConfigFiles(topology: SentinelTopology, settings: RedisClusterSettings): Record<string, string> {
  const options: SentinelConfOptions = {
    port: SENTINEL_PORT, bind: '* -::*', dir: '/run/sentinel', masterName: topology.masterName, quorum: topology.quorum,
    downAfterMs: topology.downAfterMs, failoverTimeoutMs: 60_000, parallelSyncs: 1, tls: settings.tls && tlsFiles(TLS_DIR),
  };
  const tls = scriptTls(settings);
  return {
    'start.sh': renderRedisStartScript('sentinel', tls),
    'sentinel.conf': renderSentinelConf(options),
    'sentinel-master.conf': renderSentinelMasterSettings(options),
    'sentinel-start.sh': renderSentinelStartScript(tls),
  };
}

/** The Sentinels' StatefulSet, headless Service, PDB and NetworkPolicy, and the client wiring through them. */
function buildSentinels(
  shared: RedisSharedObjects, topology: SentinelTopology, settings: RedisClusterSettings, group: SentinelGroup,
): RedisModeObjects {
  const selector = selectorLabels(shared.scope, 'sentinel');
  const labels = commonLabels(shared.scope, 'redis-sentinel', 'sentinel', imageVersion(settings.image));
  const sentinelStatefulSet = createSentinelStatefulSet(shared, topology, settings, group, { selector, labels });
  const sentinelService = createHeadlessService(shared.scope, 'SentinelService', objectMeta(settings, group.name, labels), selector,
    [namedServicePort('sentinel', SENTINEL_PORT)]);
  const sentinelDisruptionBudget = disruptionBudget(shared.scope, 'SentinelDisruptionBudget', objectMeta(settings, group.name, labels), selector);
  const sentinels = { podSelector: selector };
  const redisPods = { podSelector: shared.podSelector };
  // Sentinels talk to each other and to every Redis node; Redis nodes ask Sentinels for the master at start.
  const sentinelNetworkPolicy = createPeerNetworkPolicy(shared.scope, 'SentinelNetworkPolicy',
    { podSelector: selector, labels, role: 'sentinel' }, [SENTINEL_PORT]);
  sentinelNetworkPolicy.allowIngressFrom(redisPods, [SENTINEL_PORT]);
  sentinelNetworkPolicy.allowEgressTo({ peer: redisPods, ports: [REDIS_PORT] });
  shared.networkPolicy.allowIngressFrom(sentinels, [REDIS_PORT]);
  shared.networkPolicy.allowEgressTo({ peer: sentinels, ports: [SENTINEL_PORT] });
  return {
    sentinelStatefulSet,
    sentinelService,
    sentinelDisruptionBudget,
    sentinelNetworkPolicy,
    clientLinks: [{ peer: redisPods, ports: [REDIS_PORT] }, { peer: sentinels, ports: [SENTINEL_PORT] }],
    clientEnv: [
      { name: 'REDIS_SENTINELS', value: group.hosts.join(',') },
      { name: 'REDIS_SENTINEL_MASTER', value: topology.masterName },
      sentinelPasswordEnv(settings, 'REDIS_SENTINEL_PASSWORD'),
      ...clientAuthEnv(settings),
    ],
    // KEDA asks the Sentinels which node is the master, then reads the list there.
    listLengthTrigger: (listName, listLength) => ({
      type: 'redis-sentinel', metadata: {
        addresses: group.hosts.join(','), sentinelMaster: topology.masterName, listName, listLength: String(listLength), ...kedaTlsMetadata(settings),
      },
    }),
  };
}

function createSentinelStatefulSet(
  shared: RedisSharedObjects, topology: SentinelTopology, settings: RedisClusterSettings, group: SentinelGroup,
  pods: { selector: Record<string, string>; labels: Record<string, string> },
): k8s.KubeStatefulSet {
  const run = scratchVolume('run', '/run/sentinel');
  const tls = tlsMounts(settings, false);
  return new k8s.KubeStatefulSet(shared.scope, 'Sentinel', {
    metadata: objectMeta(settings, group.name, pods.labels),
    spec: {
      serviceName: group.name,
      replicas: group.hosts.length,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: pods.selector },
      template: {
        metadata: podTemplateMetadata(pods.labels, shared.configHash),
        spec: withEphemeralStorage({
          ...redisPodBasics(settings, pods.selector),
          volumes: [configVolume(shared.configMap.name), run.volume, ...tls.volumes],
          containers: [{
            name: 'sentinel',
            image: settings.image,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '/etc/redis/sentinel-start.sh'],
            env: [
              ...announceEnv(settings, group.name),
              { name: 'SENTINEL_PORT', value: String(SENTINEL_PORT) },
              { name: 'REDIS_PORT', value: String(REDIS_PORT) },
              { name: 'QUORUM', value: String(topology.quorum) },
              // Its own login to Redis; SENTINEL_PASSWORD, which it requires, comes with the master env.
              ...startScriptEnv(run.mount.mountPath, aclPasswordEnv(settings, REDIS_USERS.sentinel)),
              ...group.masterEnv,
            ],
            ports: [{ name: 'sentinel', containerPort: SENTINEL_PORT, protocol: 'TCP' }],
            resources: fixedResources('50m', '64Mi', '250m', '128Mi'),
            securityContext: restrictedContainerSecurityContext(),
            volumeMounts: [CONFIG_MOUNT, run.mount, ...tls.mounts],
            livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('sentinel') }, periodSeconds: 10 },
            readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('sentinel') }, periodSeconds: 5 },
          }],
        }),
      },
    },
  });
}
