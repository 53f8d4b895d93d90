import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { DEFAULT_METRICS_SCRAPER, MAXMEMORY_POLICIES } from '../core/endpoints';
import { namespaceOf, resourceName, serviceDnsSuffix } from '../core/names';
import { ContainerResources, resolveResources } from '../core/pod-defaults';
import { mergePodOptions, resolvePodOptions } from '../core/pod-options';
import { validateProps } from '../core/prop-validation';
import {
  parseQuantity, propError, requireOneOf, requirePinnedImage, requirePinnedPeer, requireQuantity, requireWholeDuration,
} from '../core/validation';
import { REDIS_MODES } from './modes';
import { APPENDFSYNC_MODES } from './redis-conf';
import { REDIS_MODE_NAMES, RedisClusterProps, RedisClusterSettings } from './settings';

const DEFAULT_RESOURCES: ContainerResources = { cpuRequest: '250m', memoryRequest: '1Gi', cpuLimit: '1', memoryLimit: '3Gi' };

/**
 * Validates the props of the RedisCluster `scope` (the mode's own first) and fills in every
 * default; throws naming the construct path, the prop, the value and the rule.
 */
export function resolveRedisClusterSettings(scope: Construct, props: RedisClusterProps = {}): RedisClusterSettings {
  validateProps(scope, 'RedisClusterProps', props);
  const name = resourceName(scope);
  const mode = requireOneOf(scope, 'mode', props.mode ?? 'cluster', REDIS_MODE_NAMES);
  const topology = REDIS_MODES[mode].resolveTopology(scope, props);
  const image = requirePinnedImage(scope, 'image', props.image ?? 'redis:7.2.11');
  const exporterImage = requirePinnedImage(scope, 'exporterImage', props.exporterImage ?? 'oliver006/redis_exporter:v1.62.0');
  const resources = resolveResources(scope, 'resources', props.resources, DEFAULT_RESOURCES);
  const maxmemoryBytes = resolveMaxmemory(scope, props);
  const maxmemoryPolicy = requireOneOf(scope, 'maxmemoryPolicy', props.maxmemoryPolicy ?? 'allkeys-lru', MAXMEMORY_POLICIES);
  const appendfsync = requireOneOf(scope, 'appendfsync', props.appendfsync ?? 'everysec', APPENDFSYNC_MODES);
  const savePoints = resolveSavePoints(scope, props.savePoints ?? ['3600 1', '300 100', '60 10000']);
  // Below 10 s the probes are noise; above Linux's own 2 hours a dead client holds its connection for hours.
  const tcpKeepaliveSeconds = requireWholeDuration(scope, 'tcpKeepalive', props.tcpKeepalive ?? Duration.seconds(60), 'seconds', 10, 7200);
  const clusterNodeTimeoutMs = requireWholeDuration(scope, 'clusterNodeTimeout', props.clusterNodeTimeout ?? Duration.seconds(5), 'milliseconds', 500, 60_000);
  const persistence = props.persistence ?? true;
  const storageSize = props.storageSize ?? '10Gi';
  if (persistence) requireQuantity(scope, 'storageSize', storageSize);
  const namespace = namespaceOf(scope);
  return {
    name, namespace, dnsSuffix: serviceDnsSuffix(scope), headlessServiceName: `${name}-nodes`,
    mode, topology, image, exporterImage, resources,
    maxmemoryBytes, maxmemoryPolicy, appendonly: props.appendonly ?? true, appendfsync, savePoints, tcpKeepaliveSeconds, clusterNodeTimeoutMs,
    persistence, storageSize, storageClassName: props.storageClassName,
    requireAntiAffinity: props.requireAntiAffinity ?? false,
    passwordSecret: props.passwordSecret ?? { name: `${name}-auth`, key: 'password' },
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

/** `maxmemory` in bytes: 70% of the memory limit unless given, and never above the limit. */
function resolveMaxmemory(scope: Construct, props: RedisClusterProps): number {
  const memoryLimitText = props.resources?.memoryLimit ?? DEFAULT_RESOURCES.memoryLimit;
  const memoryLimit = parseQuantity(memoryLimitText)!;
  const maxmemoryBytes = props.maxmemory === undefined
    ? Math.floor(memoryLimit * 0.7)
    : Math.floor(requireQuantity(scope, 'maxmemory', props.maxmemory));
  if (maxmemoryBytes > memoryLimit) {
    throw propError(scope, 'maxmemory', props.maxmemory,
      `must be less than or equal to the memory limit (${memoryLimitText}), with headroom for forks and buffers`);
  }
  return maxmemoryBytes;
}

function resolveSavePoints(scope: Construct, savePoints: string[]): string[] {
  savePoints.forEach((point, i) => {
    if (!/^[1-9][0-9]* [1-9][0-9]*$/.test(point)) {
      throw propError(scope, `savePoints[${i}]`, point, 'must be \'<seconds> <changes>\' with both numbers above 0');
    }
  });
  return savePoints;
}
