import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { commonLabels, configHash, imageVersion, selectorLabels } from '../core/names';
import { fixedResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, withEphemeralStorage } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { requireDnsLabel, requireIntInRange } from '../core/validation';
import { RedisModeModule, RedisSharedObjects } from './mode';
import { REDIS_USERS } from './redis-acl';
import { renderClusterCreateScript, renderRedisStartScript } from './redis-conf';
import { RedisClusterSettings, RedisTopologyBase } from './settings';
import {
  aclPasswordEnv, clientAuthEnv, CONFIG_MOUNT, configVolume, kedaTlsMetadata, objectMeta, podAddresses, REDIS_PORT, REDIS_UID, scriptTls, tlsMounts,
} from './shared';

const BUS_PORT = REDIS_PORT + 10000;

/** Redis Cluster: the keyspace sharded over masters, each with its replicas. */
export interface ClusterTopology extends RedisTopologyBase {
  /** Masters, each serving a share of the slots. */
  readonly shards: number;
  /** Replicas of each master. */
  readonly replicasPerShard: number;
}

/** Redis Cluster, created by an idempotent Job once every node answers. */
export const CLUSTER_MODE: RedisModeModule<ClusterTopology> = {
  name: 'cluster',
  ownProps: ['shards', 'replicasPerShard', 'clusterNodeTimeout', 'jobPod'],
  resolve(scope, props) {
    const shards = requireIntInRange(scope, 'shards', props.shards ?? 3, 3, 1000);
    const replicasPerShard = requireIntInRange(scope, 'replicasPerShard', props.replicasPerShard ?? 1, 0, 10);
    return { nodeCount: shards * (1 + replicasPerShard), replicasPerMaster: replicasPerShard, shards, replicasPerShard };
  },

  plan(topology, settings) {
    const createScript = renderClusterCreateScript(scriptTls(settings));
    return {
      clusterEnabled: true,
      peerPorts: [REDIS_PORT, BUS_PORT],
      replicated: topology.replicasPerShard > 0,
      extraRedisPorts: [{ name: 'cluster-bus', containerPort: BUS_PORT, protocol: 'TCP' }],
      configFiles: { 'start.sh': renderRedisStartScript('cluster', scriptTls(settings)), 'create-cluster.sh': createScript },
      // Every node's stable DNS name, so a node whose peers all came back with new IPs can find them.
      redisEnv: [{ name: 'REDIS_NODES', value: podAddresses(settings, settings.name, settings.headlessServiceName, topology.nodeCount, REDIS_PORT).join(' ') }],
      sentinelHosts: [],
    };
  },

  build(shared, topology) {
    const settings = shared.settings;
    return {
      ...createClusterJob(shared, topology, settings, renderClusterCreateScript(scriptTls(settings))),
      jobNamePatterns: [createJobName(settings.name, `[0-9a-f]{${CREATE_JOB_HASH_LENGTH}}`)],
      // Clients learn the other nodes from the ones they are given, and follow redirects to them.
      clientLinks: [{ peer: { podSelector: shared.podSelector }, ports: [REDIS_PORT] }],
      clientEnv: [{ name: 'REDIS_CLUSTER_NODES', value: shared.nodes.join(',') }, ...clientAuthEnv(settings)],
      // KEDA asks any node, which redirects it to the list's slot.
      listLengthTrigger: (listName, listLength) => ({
        type: 'redis-cluster', metadata: { addresses: shared.nodes.join(','), listName, listLength: String(listLength), ...kedaTlsMetadata(settings) },
      }),
    };
  },
};

/** Hex digits of the spec hash that ends the create Job's name. */
const CREATE_JOB_HASH_LENGTH = 10;

/** The create Job's name, `<cluster>-create-<hash>`; a pattern in place of the hash matches every version's. */
function createJobName(cluster: string, hash: string): string {
  return `${cluster}-create-${hash}`;
}

/**
 * The Job that waits for every node and creates the cluster unless it exists; the nodes admit it.
 * Its name ends with a hash of what it runs (its spec, its script and its pod options): a Job's
 * pod template is immutable, so a changed Job is a new one, and applying an unchanged one again
 * is a no-op, also while the finished Job waits out its TTL.
 */
function createClusterJob(
  shared: RedisSharedObjects, topology: ClusterTopology, settings: RedisClusterSettings, script: string,
): { createJob: k8s.KubeJob; createJobNetworkPolicy: PodNetworkPolicy } {
  const jobSelector = selectorLabels(shared.scope, 'cluster-create');
  const jobLabels = commonLabels(shared.scope, 'redis-cluster-create', 'cluster-create', imageVersion(settings.image));
  // The Job holds the operator's password: it reaches the nodes' Redis port and DNS, and nothing reaches it.
  const createJobNetworkPolicy = new PodNetworkPolicy(shared.scope, 'CreateClusterNetworkPolicy', { podSelector: jobSelector, labels: jobLabels, role: 'create' });
  createJobNetworkPolicy.allowEgressTo({ peer: { podSelector: shared.podSelector }, ports: [REDIS_PORT] });
  shared.networkPolicy.allowIngressFrom({ podSelector: jobSelector }, [REDIS_PORT]);
  const spec = createClusterJobSpec(shared, topology, settings, jobLabels);
  const hash = configHash(JSON.stringify({ spec, script, pod: settings.podOptions.job })).slice(0, CREATE_JOB_HASH_LENGTH);
  // The Job's name is also its pods' job-name label value: at most 63 characters.
  const name = requireDnsLabel(shared.scope, 'id', createJobName(settings.name, hash));
  return { createJob: new k8s.KubeJob(shared.scope, 'CreateCluster', { metadata: objectMeta(settings, name, jobLabels), spec }), createJobNetworkPolicy };
}

function createClusterJobSpec(shared: RedisSharedObjects, topology: ClusterTopology, settings: RedisClusterSettings, jobLabels: Record<string, string>): k8s.JobSpec {
  // With TLS it verifies the nodes against the CA, and holds no key.
  const tls = tlsMounts(settings, true);
  return {
    backoffLimit: 10,
    ttlSecondsAfterFinished: 3600,
    activeDeadlineSeconds: 1800,
    template: {
      metadata: { labels: jobLabels },
      spec: withEphemeralStorage({
        restartPolicy: 'OnFailure',
        automountServiceAccountToken: false,
        securityContext: restrictedPodSecurityContext(REDIS_UID),
        containers: [{
          name: 'create-cluster',
          image: settings.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '/etc/redis/create-cluster.sh'],
          env: [
            { name: 'REDIS_NODES', value: shared.nodes.join(' ') },
            { name: 'REPLICAS_PER_SHARD', value: String(topology.replicasPerShard) },
            { name: 'WAIT_SECONDS', value: '600' },
            // The operator user: cluster commands and INFO, no key; the Job holds no other password.
            ...aclPasswordEnv(settings, REDIS_USERS.operator),
          ],
          resources: fixedResources('10m', '32Mi', '200m', '128Mi'),
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [CONFIG_MOUNT, ...tls.mounts],
        }],
        volumes: [configVolume(shared.configMap.name), ...tls.volumes],
      }),
    },
  };
}
