import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { RolloutSpec } from './rollout';
import { parseQuantity, propError, Quantity, requireQuantity } from './validation';

/** Requests and limits of one container, as Kubernetes quantities. */
export interface ContainerResources {
  /** CPU the scheduler reserves. */
  readonly cpuRequest: Quantity;
  /** Memory the scheduler reserves. */
  readonly memoryRequest: Quantity;
  /** CPU the container is throttled at. */
  readonly cpuLimit: Quantity;
  /** Memory the container is killed at. */
  readonly memoryLimit: Quantity;
}

/**
 * Fills `given` from `defaults`, checks every quantity and that no request exceeds its limit,
 * and returns the Kubernetes form. `prop` names the prop in errors, e.g. 'resources'.
 */
export function resolveResources(
  scope: Construct, prop: string, given: Partial<ContainerResources> | undefined, defaults: ContainerResources,
): k8s.ResourceRequirements {
  const resolved = { ...defaults, ...given };
  for (const [kind, request, limit] of [
    ['cpu', 'cpuRequest', 'cpuLimit'], ['memory', 'memoryRequest', 'memoryLimit'],
  ] as const) {
    const requested = requireQuantity(scope, `${prop}.${request}`, resolved[request]);
    const limited = requireQuantity(scope, `${prop}.${limit}`, resolved[limit]);
    if (requested > limited) {
      throw propError(scope, `${prop}.${request}`, resolved[request],
        `must be less than or equal to '${prop}.${limit}' (${resolved[limit]}) for ${kind}`);
    }
  }
  return {
    requests: { cpu: k8s.Quantity.fromString(resolved.cpuRequest), memory: k8s.Quantity.fromString(resolved.memoryRequest) },
    limits: { cpu: k8s.Quantity.fromString(resolved.cpuLimit), memory: k8s.Quantity.fromString(resolved.memoryLimit) },
  };
}

/** Pod-level context of the Pod Security Standards `restricted` profile. */
export function restrictedPodSecurityContext(uid: number, fsGroup?: number): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    ...(fsGroup !== undefined ? { fsGroup, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level context of the `restricted` profile, with a read-only root filesystem. */
export function restrictedContainerSecurityContext(): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * How a construct places its pods over zones and nodes: as a preference the scheduler breaks
 * when it must ('preferred': topology spread `ScheduleAnyway`, preferred anti-affinity), or as a
 * rule it keeps by leaving a pod pending ('required'). A Deployment's rule is an even spread over
 * zones and nodes (`DoNotSchedule`); a StatefulSet's is one pod per node (required anti-affinity),
 * its zone spread staying a preference (a single zone must not leave a member pending).
 */
export type Placement = 'preferred' | 'required';

const ZONE_KEY = 'topology.kubernetes.io/zone';
const NODE_KEY = 'kubernetes.io/hostname';

/** Spreads pods matching `selector` evenly (skew at most 1) over the values of `topologyKey`. */
function spreadOver(topologyKey: string, selector: Record<string, string>, placement: Placement, matchLabelKeys?: string[]): k8s.TopologySpreadConstraint {
  return {
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: placement === 'required' ? 'DoNotSchedule' : 'ScheduleAnyway',
    labelSelector: { matchLabels: selector },
    ...(matchLabelKeys ? { matchLabelKeys } : {}),
  };
}

/**
 * Spreads a Deployment's pods matching `selector` evenly over zones and then over nodes. Each
 * ReplicaSet's pods are spread on their own (`matchLabelKeys: [pod-template-hash]`, Kubernetes
 * 1.27+): during a rollout the old pods, about to go, would otherwise count and skew where the
 * new ones land.
 */
export function zoneAndNodeSpread(selector: Record<string, string>, placement: Placement): k8s.TopologySpreadConstraint[] {
  return [ZONE_KEY, NODE_KEY].map(key => spreadOver(key, selector, placement, ['pod-template-hash']));
}

/**
 * Where a StatefulSet's pods go: over zones as a preference, whatever `placement` says, since a
 * pod follows its volume, which a zone holds, so a hard zone rule could only leave it pending (and
 * a single-zone cluster, or nodes without zone labels, still schedule); on different nodes as
 * `placement` says ('required': a replica never shares its primary's or its master's node).
 */
export function statefulSetPlacement(selector: Record<string, string>, placement: Placement): Pick<k8s.PodSpec, 'affinity' | 'topologySpreadConstraints'> {
  return {
    topologySpreadConstraints: [spreadOver(ZONE_KEY, selector, 'preferred')],
    affinity: nodeAntiAffinity(selector, placement),
  };
}

/** Keeps pods matching `selector` on different nodes: as a preference, or as a hard rule. */
export function nodeAntiAffinity(selector: Record<string, string>, placement: Placement): k8s.Affinity {
  const term: k8s.PodAffinityTerm = { topologyKey: NODE_KEY, labelSelector: { matchLabels: selector } };
  return {
    podAntiAffinity: placement === 'required'
      ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
      : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
  };
}

/** A writable emptyDir volume and its mount, for a path a server writes under a read-only root. */
export function scratchVolume(name: string, mountPath: string, sizeLimit = '64Mi'): { volume: k8s.Volume; mount: k8s.VolumeMount } {
  return {
    volume: { name, emptyDir: { sizeLimit: k8s.Quantity.fromString(sizeLimit) } },
    mount: { name, mountPath },
  };
}

/**
 * Room on the node for one container's logs, which count against its ephemeral-storage limit: the
 * kubelet rotates them at 10 Mi and keeps 5 files (`containerLogMaxSize`, `containerLogMaxFiles`).
 */
export const CONTAINER_LOG_ROOM_MIB = 50;

/** Whole MiB of a quantity, rounded up. */
function mebibytes(quantity: k8s.Quantity): number {
  const bytes = parseQuantity(String(quantity.value));
  if (bytes === undefined) throw new Error(`not a quantity: ${quantity.value}`);
  return Math.ceil(bytes / 2 ** 20);
}

/**
 * Gives every container of `spec` an ephemeral-storage request and limit: room for its logs, plus
 * the size limits of the disk-backed emptyDirs it mounts (among the containers, the first to mount
 * one counts it; an init container, which runs alone, counts all it mounts). The kubelet evicts a
 * pod whose emptyDirs and logs outgrow the sum of its containers' limits, so the sum holds every
 * emptyDir at its own limit; the request is the limit, so the pod lands only on a node with that
 * room. Memory-backed emptyDirs count as the containers' memory instead.
 */
export function withEphemeralStorage(spec: k8s.PodSpec): k8s.PodSpec {
  const diskVolumes = new Map<string, number>();
  for (const v of spec.volumes ?? []) {
    if (!v.emptyDir || v.emptyDir.medium === 'Memory') continue;
    if (!v.emptyDir.sizeLimit) throw new Error(`emptyDir ${v.name} has no sizeLimit`);
    diskVolumes.set(v.name, mebibytes(v.emptyDir.sizeLimit));
  }
  const counted = new Set<string>();
  const withStorage = (c: k8s.Container, shared: boolean): k8s.Container => {
    const mounted = (c.volumeMounts ?? []).map(m => m.name).filter(name => diskVolumes.has(name) && !(shared && counted.has(name)));
    if (shared) mounted.forEach(name => counted.add(name));
    const storage = k8s.Quantity.fromString(`${mounted.reduce((mib, name) => mib + diskVolumes.get(name)!, CONTAINER_LOG_ROOM_MIB)}Mi`);
    return {
      ...c,
      resources: {
        requests: { ...c.resources?.requests, 'ephemeral-storage': storage },
        limits: { ...c.resources?.limits, 'ephemeral-storage': storage },
      },
    };
  };
  return {
    ...spec,
    ...(spec.initContainers ? { initContainers: spec.initContainers.map(c => withStorage(c, false)) } : {}),
    containers: spec.containers.map(c => withStorage(c, true)),
  };
}

/** Requests and limits written out, for the small fixed-size containers (exporters, jobs, Sentinels). */
export function fixedResources(cpuRequest: string, memoryRequest: string, cpuLimit: string, memoryLimit: string): k8s.ResourceRequirements {
  return {
    requests: { cpu: k8s.Quantity.fromString(cpuRequest), memory: k8s.Quantity.fromString(memoryRequest) },
    limits: { cpu: k8s.Quantity.fromString(cpuLimit), memory: k8s.Quantity.fromString(memoryLimit) },
  };
}

/** A rolling update that never takes a ready pod away before its replacement is ready. */
export function noUnavailableRollingUpdate(): k8s.DeploymentStrategy {
  return {
    type: 'RollingUpdate',
    rollingUpdate: { maxSurge: k8s.IntOrString.fromString('25%'), maxUnavailable: k8s.IntOrString.fromNumber(0) },
  };
}

/** What differs between the autoscaled Deployments of the constructs (API, workers). */
export interface AutoscaledPodOptions {
  readonly podSelector: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly serviceAccountName: string;
  readonly runAsUser: number;
  readonly gracePeriodSeconds: number;
  readonly placement: Placement;
  /** The one container; it gets the restricted context and a writable `/tmp`. */
  readonly container: k8s.Container;
  /** How a new version replaces the pods. @default - {@link noUnavailableRollingUpdate} */
  readonly rollout?: RolloutSpec;
}

/**
 * The spec of a Deployment whose replica count an autoscaler owns (a fixed one would reset it on
 * every apply): rolling updates that keep every ready pod, restricted pods without a service
 * account token, spread over zones and nodes, and a scratch `/tmp` for a read-only root.
 */
export function autoscaledDeploymentSpec(o: AutoscaledPodOptions): k8s.DeploymentSpec {
  const tmp = scratchVolume('tmp', '/tmp');
  return {
    selector: { matchLabels: o.podSelector },
    revisionHistoryLimit: 5,
    ...(o.rollout ?? { strategy: noUnavailableRollingUpdate() }),
    template: {
      metadata: { labels: o.labels },
      spec: withEphemeralStorage({
        serviceAccountName: o.serviceAccountName,
        automountServiceAccountToken: false,
        securityContext: restrictedPodSecurityContext(o.runAsUser),
        terminationGracePeriodSeconds: o.gracePeriodSeconds,
        topologySpreadConstraints: zoneAndNodeSpread(o.podSelector, o.placement),
        affinity: nodeAntiAffinity(o.podSelector, 'preferred'),
        volumes: [tmp.volume],
        containers: [{
          imagePullPolicy: 'IfNotPresent',
          ...o.container,
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [tmp.mount, ...(o.container.volumeMounts ?? [])],
        }],
      }),
    },
  };
}

/**
 * The guides' asymmetric autoscaling: up fast (the larger of +50% and +2 pods a minute, after one
 * calm minute), down slowly (the smaller of -10% and -1 pod a minute, after five calm minutes).
 */
export function guidesScalingBehavior(): k8s.HorizontalPodAutoscalerBehaviorV2 {
  return {
    scaleUp: {
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }, { type: 'Pods', value: 2, periodSeconds: 60 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: 300,
      selectPolicy: 'Min',
      policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }, { type: 'Pods', value: 1, periodSeconds: 60 }],
    },
  };
}

/** A Prometheus exporter sidecar serving on the port named `metrics`, restricted like every container. */
export function exporterSidecar(o: {
  readonly image: string;
  readonly port: number;
  readonly healthPath: string;
  readonly env?: k8s.EnvVar[];
  readonly args?: string[];
  readonly cpuLimit?: string;
  readonly volumeMounts?: k8s.VolumeMount[];
}): k8s.Container {
  return {
    name: 'exporter',
    image: o.image,
    imagePullPolicy: 'IfNotPresent',
    ...(o.args ? { args: o.args } : {}),
    ...(o.env ? { env: o.env } : {}),
    ports: [{ name: 'metrics', containerPort: o.port, protocol: 'TCP' }],
    resources: fixedResources('10m', '32Mi', o.cpuLimit ?? '100m', '128Mi'),
    securityContext: restrictedContainerSecurityContext(),
    livenessProbe: { httpGet: { path: o.healthPath, port: k8s.IntOrString.fromString('metrics') }, periodSeconds: 30 },
    ...(o.volumeMounts ? { volumeMounts: o.volumeMounts } : {}),
  };
}

/** The scaling a Deployment's HorizontalPodAutoscaler applies. */
export interface DeploymentScaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly metrics: k8s.MetricSpecV2[];
  readonly behavior?: k8s.HorizontalPodAutoscalerBehaviorV2;
}

/** An autoscaling/v2 HorizontalPodAutoscaler of `deployment`, with construct id 'Autoscaler'. */
export function deploymentAutoscaler(
  scope: Construct, metadata: k8s.ObjectMeta, deployment: k8s.KubeDeployment, scaling: DeploymentScaling,
): k8s.KubeHorizontalPodAutoscalerV2 {
  const { minReplicas, maxReplicas, metrics, behavior } = scaling;
  return new k8s.KubeHorizontalPodAutoscalerV2(scope, 'Autoscaler', {
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.name },
      minReplicas, maxReplicas, metrics, ...(behavior ? { behavior } : {}),
    },
  });
}

/** The HPA metric that keeps the pods' average use of `resource` at `averageUtilization` percent of their requests. */
export function utilizationMetric(resource: 'cpu' | 'memory', averageUtilization: number): k8s.MetricSpecV2 {
  return { type: 'Resource', resource: { name: resource, target: { type: 'Utilization', averageUtilization } } };
}

/**
 * A PodDisruptionBudget over the pods of `selector`, letting one go at a time unless told
 * otherwise. Unhealthy pods may always be evicted (`AlwaysAllow`): a pod that is not ready
 * protects no availability, and under the default a crash-looping pod blocks every node drain.
 */
export function disruptionBudget(
  scope: Construct, id: string, metadata: k8s.ObjectMeta, selector: Record<string, string>,
  allowance: { readonly maxUnavailable: number } | { readonly minAvailable: number } = { maxUnavailable: 1 },
): k8s.KubePodDisruptionBudget {
  const limit = 'minAvailable' in allowance
    ? { minAvailable: k8s.IntOrString.fromNumber(allowance.minAvailable) }
    : { maxUnavailable: k8s.IntOrString.fromNumber(allowance.maxUnavailable) };
  return new k8s.KubePodDisruptionBudget(scope, id, {
    metadata,
    spec: { ...limit, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
  });
}
