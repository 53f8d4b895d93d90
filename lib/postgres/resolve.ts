import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { postgresMemoryViolation, PostgresMemoryBudget } from '../core/budgets';
import { DEFAULT_METRICS_SCRAPER } from '../core/endpoints';
import { resourceName, serviceDnsSuffix } from '../core/names';
import { resolveResources } from '../core/pod-defaults';
import { resolvePodOptions } from '../core/pod-options';
import { requireSecretName } from '../core/secret-refs';
import { resolveStoreTls } from '../core/tls';
import { parseQuantity, pinnedImage, propError, requireIntInRange, requireOneOf, requirePinnedPeer, requireQuantity } from '../core/validation';
import { PgEngineSettings, PgMemberSettings } from './engine';
import { PARAMETER_NAME, parsePgSize, SYNCHRONOUS_COMMIT_LEVELS } from './postgres-conf';
import { PG_ACCESS_MODES, PgReplicaSetProps } from './settings';
import { PG_SHARED_MEMORY_SIZE } from './shared';

// What every engine's `resolve` shares: the props all engines read, and those of the engines that
// run the servers in StatefulSets of their own (statefulset, patroni).

const DEFAULT_MEMORY_LIMIT = '4Gi';

const PRIVATE_NETWORKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/**
 * Validates the props every engine reads and fills in their defaults; `scope` is the PgReplicaSet,
 * whose path errors name. The engine gives its default image and the Secret its clients read.
 */
export function resolvePgEngineSettings(
  scope: Construct, props: PgReplicaSetProps,
  engine: { readonly defaultImage: string; readonly credentialsSecret: string; readonly agent?: PostgresMemoryBudget['agent'] },
): PgEngineSettings {
  const name = resourceName(scope);
  const replicas = requireIntInRange(scope, 'replicas', props.replicas ?? 2, 0, 15);
  const synchronousReplicas = requireIntInRange(scope, 'synchronousReplicas', props.synchronousReplicas ?? 0, 0, 15);
  if (synchronousReplicas > replicas) {
    throw propError(scope, 'synchronousReplicas', synchronousReplicas,
      `must be less than or equal to 'replicas' (${replicas}), or no commit could ever be confirmed`);
  }
  const synchronousCommit = requireOneOf(scope, 'synchronousCommit', props.synchronousCommit ?? 'on', SYNCHRONOUS_COMMIT_LEVELS);
  const storageSize = props.storageSize ?? '20Gi';
  const walRetention = resolveWalRetention(scope, props, requireQuantity(scope, 'storageSize', storageSize));
  const parameters = requireParameterNames(scope, props.parameters ?? {});
  const maxConnections = requireIntInRange(scope, 'maxConnections', props.maxConnections ?? 400, 10, 10000);
  const resources = resolveResources(scope, 'resources', props.resources, {
    cpuRequest: '500m', memoryRequest: '1Gi', cpuLimit: '2', memoryLimit: DEFAULT_MEMORY_LIMIT,
  });
  requireMemoryBudget(scope, props, maxConnections, resources, engine.agent);
  return {
    name, replicas, synchronousReplicas, synchronousCommit, credentialsSecret: engine.credentialsSecret,
    image: pinnedImage(scope, 'image', props.image ?? engine.defaultImage, props.imageDigest),
    storageSize, storageClassName: props.storageClassName, placement: props.placement ?? 'required',
    resources, maxConnections, sharedBuffers: props.sharedBuffers ?? '1GB', workMem: props.workMem ?? '4MB',
    ...walRetention, parameters, dnsSuffix: serviceDnsSuffix(scope), pod: resolvePodOptions(scope, 'pod', props.pod),
  };
}

/** The props {@link resolveMemberSettings} reads beyond those of every engine: the engines that run their own StatefulSets own them. */
export const MEMBER_PROPS = ['credentialsSecret', 'exporterImage', 'exporterImageDigest', 'accessMode', 'podNetworks', 'metricsScraper', 'tls'] as const satisfies readonly (keyof PgReplicaSetProps)[];

/** The settings of an engine that runs the servers in StatefulSets of its own, with their exporter sidecars, pg_hba.conf and NetworkPolicies. */
export function resolveMemberSettings(scope: Construct, props: PgReplicaSetProps, defaultImage: string, agent?: PostgresMemoryBudget['agent']): PgMemberSettings {
  const credentialsSecret = props.credentialsSecret ? requireSecretName(scope, 'credentialsSecret', props.credentialsSecret) : `${resourceName(scope)}-credentials`;
  return {
    ...resolvePgEngineSettings(scope, props, { defaultImage, credentialsSecret, agent }),
    exporterImage: pinnedImage(scope, 'exporterImage', props.exporterImage ?? 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0', props.exporterImageDigest),
    accessMode: requireOneOf(scope, 'accessMode', props.accessMode ?? 'ReadWriteOnce', PG_ACCESS_MODES),
    podNetworks: props.podNetworks ?? PRIVATE_NETWORKS,
    metricsScraper: requirePinnedPeer(scope, 'metricsScraper', props.metricsScraper ?? DEFAULT_METRICS_SCRAPER),
    tls: resolveStoreTls(scope, 'tls', props.tls),
  };
}

/**
 * shared_buffers, /dev/shm and a work_mem for each connection must fit the memory limit, or a peak is an
 * OOM kill; and the request must hold shared_buffers, or the scheduler packs the pod where the
 * buffers alone push the node into memory pressure.
 */
function requireMemoryBudget(
  scope: Construct, props: PgReplicaSetProps, maxConnections: number, resources: k8s.ResourceRequirements, agent: PostgresMemoryBudget['agent'],
): void {
  const sizes = { sharedBuffers: props.sharedBuffers ?? '1GB', workMem: props.workMem ?? '4MB' };
  const [sharedBuffersBytes, workMemBytes] = Object.entries(sizes).map(([prop, value]) => {
    const parsed = parsePgSize(value);
    if (parsed === undefined || parsed === 0) throw propError(scope, prop, value, 'must be a PostgreSQL size with a unit, e.g. \'4MB\', \'1GB\'');
    return parsed;
  });
  const memoryLimitBytes = parseQuantity(String(resources.limits!.memory!.value))!;
  const sharedMemoryBytes = parseQuantity(PG_SHARED_MEMORY_SIZE)!;
  const violation = postgresMemoryViolation({ sharedBuffersBytes, sharedMemoryBytes, maxConnections, workMemBytes, memoryLimitBytes, agent });
  if (violation) throw propError(scope, 'maxConnections', maxConnections, `is over the memory budget: ${violation}`);
  const memoryRequest = String(resources.requests!.memory!.value);
  if (parseQuantity(memoryRequest)! < sharedBuffersBytes) {
    throw propError(scope, 'resources.memoryRequest', memoryRequest, `must be at least 'sharedBuffers' (${sizes.sharedBuffers}), which PostgreSQL holds from its start`);
  }
}

/** `walKeepSize` and `maxSlotWalKeepSize`, which together must leave at least half of the volume to the data. */
function resolveWalRetention(scope: Construct, props: PgReplicaSetProps, storageBytes: number) {
  const sizes = { walKeepSize: props.walKeepSize ?? '1GB', maxSlotWalKeepSize: props.maxSlotWalKeepSize ?? '4GB' };
  const bytes = Object.entries(sizes).map(([prop, value]) => {
    const parsed = parsePgSize(value);
    if (parsed === undefined || parsed === 0) throw propError(scope, prop, value, 'must be a PostgreSQL size with a unit, e.g. \'512MB\', \'4GB\'');
    return parsed;
  });
  if (bytes[0] + bytes[1] > storageBytes / 2) {
    throw propError(scope, 'maxSlotWalKeepSize', sizes.maxSlotWalKeepSize,
      `plus 'walKeepSize' (${sizes.walKeepSize}) must be at most half of 'storageSize' (${props.storageSize ?? '20Gi'}), or WAL kept for a lost replica can fill the volume`);
  }
  return sizes;
}

function requireParameterNames(scope: Construct, parameters: Record<string, string>): Record<string, string> {
  for (const name of Object.keys(parameters)) {
    if (!PARAMETER_NAME.test(name)) {
      throw propError(scope, `parameters.${name}`, name, 'is not a PostgreSQL parameter name (lower case letters, digits and underscores, optionally prefixed by an extension name and a dot)');
    }
  }
  return parameters;
}
