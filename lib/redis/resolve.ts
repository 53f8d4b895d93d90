import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { defaultRedisMaxmemory, redisMemoryViolation } from '../core/budgets';
import { DEFAULT_METRICS_SCRAPER, MAXMEMORY_POLICIES } from '../core/endpoints';
import { requireMode } from '../core/mode';
import { namespaceOf, resourceName, serviceDnsSuffix } from '../core/names';
import { ContainerResources, resolveResources } from '../core/pod-defaults';
import { mergePodOptions, resolvePodOptions } from '../core/pod-options';
import { validateProps } from '../core/prop-validation';
import { resolveStoreTls } from '../core/tls';
import {
  parseQuantity, pinnedImage, propError, requireIntInRange, requireOneOf, requirePinnedPeer, requireQuantity, requireWholeDuration,
} from '../core/validation';
import { REDIS_MODES } from './modes';
import { redisAclUsers, REDIS_USERS } from './redis-acl';
import { APPENDFSYNC_MODES } from './redis-conf';
import { RedisClusterProps, RedisClusterSettings, RedisSavePoint } from './settings';

const DEFAULT_RESOURCES: ContainerResources = { cpuRequest: '250m', memoryRequest: '1Gi', cpuLimit: '1', memoryLimit: '3Gi' };

/**
 * Validates the props of the RedisCluster `scope` (the mode's own first) and fills in every
 * default; throws naming the construct path, the prop, the value and the rule.
 */
export function resolveRedisClusterSettings(scope: Construct, props: RedisClusterProps = {}): RedisClusterSettings {
  validateProps(scope, 'RedisClusterProps', props);
  const name = resourceName(scope);
  const mode = requireMode(scope, 'mode', props.mode ?? 'cluster', REDIS_MODES);
  const topology = REDIS_MODES[mode].resolve(scope, props);
  const image = pinnedImage(scope, 'image', props.image ?? 'redis:7.2.11', props.imageDigest);
  const exporterImage = pinnedImage(scope, 'exporterImage', props.exporterImage ?? 'oliver006/redis_exporter:v1.62.0', props.exporterImageDigest);
  const resources = resolveResources(scope, 'resources', props.resources, DEFAULT_RESOURCES);
  const maxmemoryPolicy = requireOneOf(scope, 'maxmemoryPolicy', props.maxmemoryPolicy ?? 'allkeys-lru', MAXMEMORY_POLICIES);
  const appendfsync = requireOneOf(scope, 'appendfsync', props.appendfsync ?? 'everysec', APPENDFSYNC_MODES);
  const savePoints = resolveSavePoints(scope, props.savePoints ?? DEFAULT_SAVE_POINTS);
  const appendonly = props.appendonly ?? true;
  const maxmemoryBytes = resolveMaxmemory(scope, props, forkReasons(appendonly, savePoints, topology.replicasPerMaster));
  // Below 10 s the probes are noise; above Linux's own 2 hours a dead client holds its connection for hours.
  const tcpKeepaliveSeconds = requireWholeDuration(scope, 'tcpKeepalive', props.tcpKeepalive ?? Duration.seconds(60), 'seconds', 10, 7200);
  const clusterNodeTimeoutMs = requireWholeDuration(scope, 'clusterNodeTimeout', props.clusterNodeTimeout ?? Duration.seconds(5), 'milliseconds', 500, 60_000);
  const persistence = props.persistence ?? true;
  const storageSize = props.storageSize ?? '10Gi';
  if (persistence) requireQuantity(scope, 'storageSize', storageSize);
  // An emptyDir has no storage class: the prop would be dropped without a word.
  if (!persistence && props.storageClassName !== undefined) {
    throw propError(scope, 'storageClassName', props.storageClassName, 'needs \'persistence\' true: without it the data is on an emptyDir, which has no storage class');
  }
  const namespace = namespaceOf(scope);
  const passwordSecret = props.passwordSecret ?? { secretName: `${name}-auth`, key: 'password' };
  const queuePrefixes = props.queuePrefixes ?? ['{hscale}'];
  queuePrefixes.forEach((prefix, i) => {
    if (!/^[^\s:]{1,64}$/.test(prefix)) throw propError(scope, `queuePrefixes[${i}]`, prefix, 'must be 1-64 characters without spaces or \':\', as a WorkerPool\'s queuePrefix');
  });
  const tls = resolveStoreTls(scope, 'tls', props.tls);
  const aclUsers = redisAclUsers({ mode, queuePrefixes, tls: tls !== undefined })
    .map(user => (user.name === REDIS_USERS.app ? { ...user, secretKey: passwordSecret.key } : user));
  return {
    name, namespace, dnsSuffix: serviceDnsSuffix(scope), headlessServiceName: `${name}-nodes`,
    mode, topology, image, exporterImage, resources,
    maxmemoryBytes, maxmemoryPolicy, appendonly, appendfsync, savePoints, tcpKeepaliveSeconds, clusterNodeTimeoutMs,
    persistence, storageSize, storageClassName: props.storageClassName,
    placement: props.placement ?? 'required',
    passwordSecret, queuePrefixes, aclUsers, tls,
    metricsScraper: requirePinnedPeer(scope, 'metricsScraper', props.metricsScraper ?? DEFAULT_METRICS_SCRAPER),
    podOptions: resolveRedisPodOptions(scope, props),
  };
}

/** `pod` for every kind of pod, with `sentinelPod` and `jobPod` laid over it (each only in its mode, which the schema checks). */
function resolveRedisPodOptions(scope: Construct, props: RedisClusterProps): RedisClusterSettings['podOptions'] {
  const pod = resolvePodOptions(scope, 'pod', props.pod);
  return {
    redis: pod,
    sentinel: mergePodOptions(pod, resolvePodOptions(scope, 'sentinelPod', props.sentinelPod)),
    job: mergePodOptions(pod, resolvePodOptions(scope, 'jobPod', props.jobPod)),
  };
}

/** `maxmemory` in bytes: by default what fits the memory limit with the node's forks; a given one must fit too. */
function resolveMaxmemory(scope: Construct, props: RedisClusterProps, forks: string[]): number {
  const memoryLimitBytes = parseQuantity(props.resources?.memoryLimit ?? DEFAULT_RESOURCES.memoryLimit)!;
  if (props.maxmemory === undefined) return defaultRedisMaxmemory(memoryLimitBytes, forks);
  const maxmemoryBytes = Math.floor(requireQuantity(scope, 'maxmemory', props.maxmemory));
  const violation = redisMemoryViolation({ maxmemoryBytes, memoryLimitBytes, forks });
  if (violation) throw propError(scope, 'maxmemory', props.maxmemory, `is over the memory budget: ${violation}`);
  return maxmemoryBytes;
}

/** What makes each node fork a child that shares its memory copy-on-write. */
function forkReasons(appendonly: boolean, savePoints: string[], replicasPerMaster: number): string[] {
  return [
    ...appendonly ? ['AOF rewrite'] : [],
    ...savePoints.length > 0 ? ['RDB save points'] : [],
    ...replicasPerMaster > 0 ? ['full sync to replicas'] : [],
  ];
}

const DEFAULT_SAVE_POINTS: RedisSavePoint[] = [
  { after: Duration.hours(1), changes: 1 }, { after: Duration.minutes(5), changes: 100 }, { after: Duration.minutes(1), changes: 10_000 },
];

/** The save points as redis.conf's `save` takes them, `<seconds> <changes>`. */
function resolveSavePoints(scope: Construct, savePoints: RedisSavePoint[]): string[] {
  return savePoints.map((point, i) => {
    const seconds = requireWholeDuration(scope, `savePoints[${i}].after`, point.after, 'seconds', 1, 86_400);
    return `${seconds} ${requireIntInRange(scope, `savePoints[${i}].changes`, point.changes, 1, 1_000_000_000)}`;
  });
}
