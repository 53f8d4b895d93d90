import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { nestedDurationViolation } from '../core/budgets';
import { containerEnv, GuideMetrics, guideMetricsEnv, prefixedLink, QUEUE_ENV_PREFIX } from '../core/container-env';
import {
  DEFAULT_METRICS_SCRAPER, ICacheEndpoint, IClientAccessible, IDatabaseEndpoint, ILoadBalancerBackend,
  IMetricsTarget, MetricsEndpoint, PodPeer,
} from '../core/endpoints';
import { containerContract, ImageContract } from '../core/image-contract';
import { KNOWN_METRICS } from '../core/known-metrics';
import { commonLabels, imageVersion, namespaceOf, requireSameNamespace, resourceName, selectorLabels } from '../core/names';
import {
  autoscaledDeploymentSpec, ContainerResources, deploymentAutoscaler, disruptionBudget, guidesScalingBehavior, resolveResources,
  Placement, utilizationMetric,
} from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { annotateServiceAccount, applyPodOptions, PodOptions, resolvePodOptions } from '../core/pod-options';
import { validateProps } from '../core/prop-validation';
import { resolveRollout, RolloutPolicy, RolloutSpec } from '../core/rollout';
import { SecretKeyRef } from '../core/secret-refs';
import { ServicePoolBounds, servicePoolBounds } from '../core/service-pools';
import {
  pinnedImage, propError, requireIntInRange, requireOneOf, requirePinnedPeer, requirePort, requirePositive,
  requireReplicaRange, requireWholeDuration,
} from '../core/validation';
import { WiringEnv, wiringEnv } from '../core/wiring-env';
import { renderAdapterRules } from './metrics-adapter-rules';
import { resolveApiNames, ScaledApiNames } from './object-names';

/**
 * A per-pod metric the autoscaler targets as an average value, e.g. requests per second. It is
 * the per-second rate of a counter the pods serve; the construct emits the prometheus-adapter
 * rule that serves it (see {@link ScaledApi.adapterRules}).
 */
export interface PodMetricTarget {
  /** Name of the metric as the custom metrics API serves it, e.g. 'requests_per_second'. */
  readonly name: string;
  /** Average value per pod the autoscaler aims for. */
  readonly averageValue: number;
  /** The counter whose per-pod rate the metric is. @default 'http_requests_total' */
  readonly counter?: string;
}

/** One limit on how much the autoscaler may change the replica count in a period. */
export interface ScalingPolicy {
  /** Whether `value` counts pods or percent of the current replicas. */
  readonly type: 'Pods' | 'Percent';
  /** Pods, or percent, per period. */
  readonly value: number;
  /** The period the change is measured over, 1 s to 30 min. */
  readonly period: Duration;
}

/** How the autoscaler moves in one direction (up or down). */
export interface ScalingRules {
  /** How far back the autoscaler looks for a higher (down: lower) recommendation before acting. @default - 60 s up, 300 s down */
  readonly stabilizationWindow?: Duration;
  /** Limits on the change per period. @default - up: +50% or +2 pods per 60 s; down: -10% or -1 pod per 60 s */
  readonly policies?: ScalingPolicy[];
  /** Which policy applies when several do: the largest change, the smallest, or none (no scaling this way). @default - 'Max' up, 'Min' down */
  readonly selectPolicy?: 'Max' | 'Min' | 'Disabled';
}

/** Timings of one probe. */
export interface ProbeTiming {
  /** Wait after the container starts before the first probe. @default Duration.seconds(0) */
  readonly initialDelay?: Duration;
  /** Time between probes. @default - 5 s startup and readiness, 10 s liveness */
  readonly period?: Duration;
  /** Time a probe may take before it counts as failed; at most `period`. @default Duration.seconds(2) */
  readonly timeout?: Duration;
  /** Failures in a row before the kubelet acts. @default - 30 startup, 3 liveness, 2 readiness */
  readonly failureThreshold?: number;
}

/** Timings of the three probes; readiness must fail (period × failureThreshold) sooner than liveness does. */
export interface ProbeTimings {
  /** @default - 5 s period, 2 s timeout, 30 failures: up to 150 s to start */
  readonly startup?: ProbeTiming;
  /** @default - 10 s period, 2 s timeout, 3 failures */
  readonly liveness?: ProbeTiming;
  /** @default - 5 s period, 2 s timeout, 2 failures */
  readonly readiness?: ProbeTiming;
}

/**
 * Connection pools of the service, in the guides' SQLAlchemy terms. The service's postgres.js
 * pools have one bound, `max`, and open connections on demand and close idle ones, so a pool
 * gets `size + overflow` as its `max` (`PG_POOL_MAX`, `PG_REPLICA_POOL_MAX`).
 */
export interface DatabasePool {
  /** Connections the primary pool keeps. @default 10 */
  readonly primarySize?: number;
  /** Extra connections the primary pool may open under load. @default 0 */
  readonly primaryOverflow?: number;
  /** Connections each replica's pool keeps. @default 10 */
  readonly replicaSize?: number;
  /** Extra connections each replica's pool may open under load. @default 0 */
  readonly replicaOverflow?: number;
  /** Longest a query waits for a free connection before the request fails with 503 (`PG_POOL_TIMEOUT_MS`). @default Duration.seconds(30) */
  readonly timeout?: Duration;
}

/** HTTP paths of the three probes. */
export interface ProbePaths {
  /** Path of the liveness probe. @default '/api/v1/scaling/health/liveness' */
  readonly liveness?: string;
  /** Path of the readiness probe. @default '/api/v1/scaling/health/readiness' */
  readonly readiness?: string;
  /** Path of the startup probe. @default '/api/v1/scaling/health/startup' */
  readonly startup?: string;
}

/** Props of a {@link ScaledApi}. */
export interface ScaledApiProps {
  /** Container image, pinned by a tag other than `latest` or by digest. */
  readonly image: string;
  /** Digest of `image` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly imageDigest?: string;
  /** Port the container serves HTTP on (injected as `PORT`). @default 8000 */
  readonly port?: number;
  /** Separate port that serves Prometheus metrics. @default - metrics are scraped from the HTTP port */
  readonly metricsPort?: number;
  /** HTTP path of the Prometheus metrics. @default '/metrics' */
  readonly metricsPath?: string;
  /** Fewest pods the autoscaler keeps. @default 3 */
  readonly minReplicas?: number;
  /** Most pods the autoscaler may run. @default 20 */
  readonly maxReplicas?: number;
  /** Average CPU utilization (percent of requests) the autoscaler aims for. @default 70 */
  readonly cpuUtilization?: number;
  /**
   * Average memory utilization (percent of requests) the autoscaler aims for; `false` scales on CPU (and `podMetric`) only.
   * Off by default: a Node.js process's memory follows V8's heap sizing, not its load (the heap grows toward its limit and
   * is rarely given back), so a memory target adds pods that never scale in again. Set one for a runtime whose memory tracks load.
   * @default false
   */
  readonly memoryUtilization?: number | false;
  /** An extra per-pod metric the autoscaler scales on. @default - CPU (and memory when `memoryUtilization` is set) only */
  readonly podMetric?: PodMetricTarget;
  /** How fast the autoscaler adds pods. @default - 60 s window; the larger of +50% and +2 pods per 60 s */
  readonly scaleUp?: ScalingRules;
  /** How fast the autoscaler removes pods. @default - 300 s window; the smaller of -10% and -1 pod per 60 s */
  readonly scaleDown?: ScalingRules;
  /** Pods the PodDisruptionBudget keeps available during voluntary disruptions. @default 2 */
  readonly minAvailable?: number;
  /** Probe paths. @default - the guides' /api/v1/scaling/health/{liveness,readiness,startup} */
  readonly probes?: ProbePaths;
  /** Probe timings, each field overridable per probe. @default - see {@link ProbeTimings} */
  readonly probeTimings?: ProbeTimings;
  /** Requests and limits of the API container. @default - 250m / 256Mi requested, 1 CPU / 1Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** Whether pods spread over zones and nodes as a preference or as a rule that leaves a pod pending. @default 'preferred' */
  readonly placement?: Placement;
  /** Pause before the container gets SIGTERM, so endpoints are removed first. @default Duration.seconds(10) */
  readonly preStopDelay?: Duration;
  /** Time from the pod's deletion to SIGKILL, preStop pause included. @default Duration.seconds(45) */
  readonly terminationGracePeriod?: Duration;
  /** The PostgreSQL the API uses. @default - no database env and no database egress */
  readonly database?: IDatabaseEndpoint;
  /** Connection pool sizes passed to the service; needs `database`. @default - the service's own: 10 per pool */
  readonly databasePool?: DatabasePool;
  /** Prefix of the guides' metric names the service serves beside its own (`METRICS_PREFIX`), e.g. 'fastnext'. @default - not served */
  readonly metricsPrefix?: string;
  /** A guide whose unprefixed metric names the service serves beside its own (`GUIDE_METRICS`): bet-intel's `requests_total`, `cache_hit_rate`. @default - not served */
  readonly guideMetrics?: GuideMetrics;
  /** The Redis the API uses. @default - no cache env and no cache egress */
  readonly cache?: ICacheEndpoint;
  /**
   * The Redis of the queues the API enqueues to (`WORKER_QUEUES`), when it is not `cache`: its env is
   * `QUEUE_REDIS_*` and its port is opened, so the cache may evict while the queue never does.
   * @default - the API enqueues on `cache`
   */
  readonly queueBroker?: IClientAccessible;
  /** Plain env vars; names that look like credentials are refused (use `secretEnv`). @default {} */
  readonly env?: Record<string, string>;
  /** Env vars read from Secrets, e.g. `ADMIN_TOKEN`. @default {} */
  readonly secretEnv?: Record<string, SecretKeyRef>;
  /** Pods allowed to scrape the metrics port. @default - pods labelled app.kubernetes.io/name=prometheus in the namespace 'monitoring' (a namespaceSelector must pin kubernetes.io/metadata.name) */
  readonly metricsScraper?: PodPeer;
  /** User id the container runs as. @default 10001 */
  readonly runAsUser?: number;
  /** Node pools, tolerations, priority, pull Secrets, pod labels and annotations, and the ServiceAccount's annotations. @default - none */
  readonly pod?: PodOptions;
  /** How a new version replaces the pods. @default - 25% surge, none unavailable, no wait between pods */
  readonly rollout?: RolloutPolicy;
  /** Names of the Deployment, HPA, PDB and Service, each a DNS-1123 label. @default - each named <chart>-<id> */
  readonly names?: ScaledApiNames;
  /** Env var names under which the image also gets facts of the wiring (database, cache, queue, autoscaler), e.g. a guide's `POSTGRES_SERVER`. @default - none */
  readonly wiringEnv?: WiringEnv;
}


/** The probes of the API container, in the order the kubelet starts them. */
export type ProbeKind = 'startup' | 'liveness' | 'readiness';

/** How one probe checks the API over its HTTP port. */
export interface ProbeSettings {
  readonly path: string;
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/** Each probe's defaults: the guides' paths, and timings tuned to the reference service. */
const PROBE_DEFAULTS: Record<ProbeKind, ProbeSettings> = {
  // Up to 150 s to start before the kubelet restarts the container.
  startup: { path: '/api/v1/scaling/health/startup', initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30 },
  liveness: { path: '/api/v1/scaling/health/liveness', initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
  readiness: { path: '/api/v1/scaling/health/readiness', initialDelaySeconds: 0, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
};

/** The props of a ScaledApi, validated and defaulted. */
export interface ScaledApiSettings {
  readonly name: string;
  readonly names: Required<ScaledApiNames>;
  readonly image: string;
  readonly port: number;
  readonly metricsPort?: number;
  readonly metricsPath: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuUtilization: number;
  /** Undefined when the autoscaler does not scale on memory. */
  readonly memoryUtilization?: number;
  readonly podMetric?: Required<PodMetricTarget>;
  readonly behavior: k8s.HorizontalPodAutoscalerBehaviorV2;
  readonly minAvailable: number;
  readonly placement: Placement;
  readonly preStopSeconds: number;
  readonly gracePeriodSeconds: number;
  readonly resources: k8s.ResourceRequirements;
  readonly probes: Record<ProbeKind, ProbeSettings>;
  readonly runAsUser: number;
  /** The linked database and cache: their env goes into the container, their ports into the egress rules. */
  readonly backends: IClientAccessible[];
  /** Whether the linked database has replicas to read from, so replica lag is worth a panel. */
  readonly readsReplicas: boolean;
  /** Connections each pod may open to the primary and to each replica (the service's pool bounds). */
  readonly poolBounds: ServicePoolBounds;
  readonly env: k8s.EnvVar[];
  readonly metricsScraper: PodPeer;
  readonly pod: PodOptions;
  readonly rollout: RolloutSpec;
}

/** Validates and defaults the props of the ScaledApi at `scope`. */
export function resolveScaledApiSettings(scope: Construct, props: ScaledApiProps): ScaledApiSettings {
  validateProps(scope, 'ScaledApiProps', props);
  for (const link of ['database', 'cache', 'queueBroker'] as const) requireSameNamespace(scope, link, props[link]);
  const name = resourceName(scope);
  const image = pinnedImage(scope, 'image', props.image, props.imageDigest);
  const ports = resolvePorts(scope, props);
  const queue = props.queueBroker !== undefined && props.queueBroker !== props.cache ? prefixedLink(props.queueBroker, QUEUE_ENV_PREFIX) : undefined;
  const backends: IClientAccessible[] = [props.database, props.cache, queue].filter(b => b !== undefined);
  const scaling = resolveScaling(scope, props);
  const derived = wiringEnv(scope, props.wiringEnv ?? {}, { ...scaling, database: props.database, cache: props.cache, queueEnv: queue?.clientEnv });
  return {
    name,
    names: resolveApiNames(scope, props.names ?? {}, name),
    image,
    ...ports,
    metricsPath: props.metricsPath ?? '/metrics',
    readsReplicas: (props.database?.replicaHosts.length ?? 0) > 0,
    poolBounds: servicePoolBounds(scope, props.databasePool),
    ...scaling,
    placement: requireOneOf(scope, 'placement', props.placement ?? 'preferred', ['preferred', 'required']),
    ...resolveTermination(scope, props),
    resources: resolveResources(scope, 'resources', props.resources, {
      cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi',
    }),
    probes: resolveProbes(scope, props.probes ?? {}, props.probeTimings ?? {}),
    runAsUser: props.runAsUser ?? 10001,
    backends,
    env: containerEnv(scope, [
      { name: 'PORT', value: String(ports.port) }, ...metricsPrefixEnv(scope, props.metricsPrefix),
      ...guideMetricsEnv(scope, props.guideMetrics),
      ...databasePoolEnv(scope, props),
    ], backends, props.env ?? {}, props.secretEnv ?? {}, derived),
    metricsScraper: requirePinnedPeer(scope, 'metricsScraper', props.metricsScraper ?? DEFAULT_METRICS_SCRAPER),
    pod: resolvePodOptions(scope, 'pod', props.pod),
    rollout: resolveRollout(scope, 'rollout', props.rollout),
  };
}

function resolvePorts(scope: Construct, props: ScaledApiProps): Pick<ScaledApiSettings, 'port' | 'metricsPort'> {
  const port = requirePort(scope, 'port', props.port ?? 8000);
  const metricsPort = props.metricsPort === undefined ? undefined : requirePort(scope, 'metricsPort', props.metricsPort);
  if (metricsPort === port) {
    throw propError(scope, 'metricsPort', metricsPort, `must differ from 'port' (${port}); omit it to scrape the HTTP port`);
  }
  return { port, metricsPort };
}

type ScalingSettings = Pick<ScaledApiSettings,
  'minReplicas' | 'maxReplicas' | 'cpuUtilization' | 'memoryUtilization' | 'minAvailable' | 'podMetric' | 'behavior'>;

function resolveScaling(scope: Construct, props: ScaledApiProps): ScalingSettings {
  const minReplicas = requireIntInRange(scope, 'minReplicas', props.minReplicas ?? 3, 1, 1000);
  const maxReplicas = requireIntInRange(scope, 'maxReplicas', props.maxReplicas ?? 20, 1, 1000);
  requireReplicaRange(scope, minReplicas, maxReplicas);
  const cpuUtilization = requireIntInRange(scope, 'cpuUtilization', props.cpuUtilization ?? 70, 1, 100);
  const memoryUtilization = props.memoryUtilization === false || props.memoryUtilization === undefined
    ? undefined : requireIntInRange(scope, 'memoryUtilization', props.memoryUtilization, 1, 100);
  const minAvailable = requireIntInRange(scope, 'minAvailable', props.minAvailable ?? 2, 0, 1000);
  if (minAvailable >= minReplicas) {
    throw propError(scope, 'minAvailable', minAvailable,
      `must be less than 'minReplicas' (${minReplicas}), or the PodDisruptionBudget blocks every eviction at the minimum scale`);
  }
  const podMetric = props.podMetric && resolvePodMetric(scope, props.podMetric);
  const defaults = guidesScalingBehavior();
  const behavior = {
    scaleUp: resolveScalingRules(scope, 'scaleUp', props.scaleUp ?? {}, defaults.scaleUp!),
    scaleDown: resolveScalingRules(scope, 'scaleDown', props.scaleDown ?? {}, defaults.scaleDown!),
  };
  return { minReplicas, maxReplicas, cpuUtilization, memoryUtilization, minAvailable, podMetric, behavior };
}

// A Prometheus metric name without colons (those are for recording rules).
const METRIC_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/;
const METRIC_NAME_RULE = 'must be a Prometheus metric name: letters, digits and \'_\', not starting with a digit';

function resolvePodMetric(scope: Construct, metric: PodMetricTarget): Required<PodMetricTarget> {
  const counter = metric.counter ?? 'http_requests_total';
  for (const [prop, value] of [['podMetric.name', metric.name], ['podMetric.counter', counter]]) {
    if (!METRIC_NAME.test(value)) throw propError(scope, prop, value, METRIC_NAME_RULE);
  }
  if (metric.name === counter) {
    throw propError(scope, 'podMetric.name', metric.name, 'must differ from \'podMetric.counter\': the adapter serves the counter\'s rate under a new name');
  }
  return { name: metric.name, averageValue: requirePositive(scope, 'podMetric.averageValue', metric.averageValue), counter };
}

const SELECT_POLICIES = ['Max', 'Min', 'Disabled'] as const;

/** One direction of the autoscaler's behaviour, each field given or taken from `defaults`. */
function resolveScalingRules(
  scope: Construct, prop: 'scaleUp' | 'scaleDown', rules: ScalingRules, defaults: k8s.HpaScalingRulesV2,
): k8s.HpaScalingRulesV2 {
  const stabilizationWindowSeconds = rules.stabilizationWindow === undefined
    ? defaults.stabilizationWindowSeconds : requireWholeDuration(scope, `${prop}.stabilizationWindow`, rules.stabilizationWindow, 'seconds', 0, 3600);
  const selectPolicy = requireOneOf(scope, `${prop}.selectPolicy`, rules.selectPolicy ?? defaults.selectPolicy!, SELECT_POLICIES);
  if (rules.policies?.length === 0) {
    throw propError(scope, `${prop}.policies`, '[]', 'must hold at least one policy; set \'selectPolicy\' to \'Disabled\' to stop scaling this way');
  }
  const policies = rules.policies?.map((policy, i) => ({
    type: requireOneOf(scope, `${prop}.policies[${i}].type`, policy.type, ['Pods', 'Percent']),
    value: requireIntInRange(scope, `${prop}.policies[${i}].value`, policy.value, 1, 1000),
    periodSeconds: requireWholeDuration(scope, `${prop}.policies[${i}].period`, policy.period, 'seconds', 1, 1800),
  })) ?? defaults.policies;
  return { stabilizationWindowSeconds, selectPolicy, policies };
}

function metricsPrefixEnv(scope: Construct, prefix: string | undefined): k8s.EnvVar[] {
  if (prefix === undefined) return [];
  // The service refuses the same names at start (service/src/config.ts): refuse them at synth instead.
  if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/.test(prefix)) {
    throw propError(scope, 'metricsPrefix', prefix, 'must be 1 to 64 letters, digits or \'_\', not starting with a digit, e.g. \'fastnext\'');
  }
  return [{ name: 'METRICS_PREFIX', value: prefix }];
}

/** The service's pool bounds (service/src/db/router.ts) from the guides' size + overflow, and its pool timeout. */
function databasePoolEnv(scope: Construct, props: ScaledApiProps): k8s.EnvVar[] {
  const pool = props.databasePool;
  if (pool === undefined) return [];
  if (props.database === undefined) {
    throw propError(scope, 'databasePool', Object.keys(pool).join(', '), 'needs \'database\': the pools hold the service\'s connections to it');
  }
  const timeoutMs = requireWholeDuration(scope, 'databasePool.timeout', pool.timeout ?? Duration.seconds(30), 'milliseconds', 1, 600_000);
  const bounds = servicePoolBounds(scope, pool);
  return [
    { name: 'PG_POOL_MAX', value: String(bounds.primaryPerPod) },
    { name: 'PG_REPLICA_POOL_MAX', value: String(bounds.replicaPerPod) },
    { name: 'PG_POOL_TIMEOUT_MS', value: String(timeoutMs) },
    // What the service reports as the guides' `<prefix>_db_pool_size` (SQLAlchemy's pool.size(), overflow not counted).
    { name: 'PG_POOL_SIZE', value: String(pool.primarySize ?? 10) },
  ];
}

function resolveTermination(scope: Construct, props: ScaledApiProps): Pick<ScaledApiSettings, 'preStopSeconds' | 'gracePeriodSeconds'> {
  const preStopSeconds = requireWholeDuration(scope, 'preStopDelay', props.preStopDelay ?? Duration.seconds(10), 'seconds', 0, 3600);
  const gracePeriodSeconds = requireWholeDuration(scope, 'terminationGracePeriod', props.terminationGracePeriod ?? Duration.seconds(45), 'seconds', 1, 86_400);
  if (gracePeriodSeconds <= preStopSeconds) {
    throw propError(scope, 'terminationGracePeriod', `${gracePeriodSeconds}s`,
      `must be longer than 'preStopDelay' (${preStopSeconds}s), or the process is killed before it can drain`);
  }
  return { preStopSeconds, gracePeriodSeconds };
}

function resolveProbes(scope: Construct, paths: ProbePaths, timings: ProbeTimings): Record<ProbeKind, ProbeSettings> {
  const probe = (kind: ProbeKind) => resolveProbe(scope, kind, paths[kind], timings[kind] ?? {});
  const probes = { startup: probe('startup'), liveness: probe('liveness'), readiness: probe('readiness') };
  const window = (kind: ProbeKind) => probes[kind].periodSeconds * probes[kind].failureThreshold;
  const violation = nestedDurationViolation({
    inner: `the readiness failure window ('probeTimings.readiness' period × failureThreshold, ${window('readiness')}s)`,
    innerSeconds: window('readiness'),
    outer: `the liveness one ('probeTimings.liveness', ${window('liveness')}s)`,
    outerSeconds: window('liveness'),
    because: 'a pod that stops answering must leave the Service before the kubelet restarts it, or it is restarted while still sent requests',
  });
  if (violation) throw new Error(`${scope.node.path}: ${violation}`);
  return probes;
}

function resolveProbe(scope: Construct, kind: ProbeKind, path: string | undefined, timing: ProbeTiming): ProbeSettings {
  const defaults = PROBE_DEFAULTS[kind];
  const prop = `probeTimings.${kind}`;
  const seconds = (field: 'initialDelay' | 'period' | 'timeout', fallback: number, min: number) => {
    const duration = timing[field];
    return duration === undefined ? fallback : requireWholeDuration(scope, `${prop}.${field}`, duration, 'seconds', min, 3600);
  };
  const periodSeconds = seconds('period', defaults.periodSeconds, 1);
  const timeoutSeconds = seconds('timeout', defaults.timeoutSeconds, 1);
  if (timeoutSeconds > periodSeconds) {
    throw propError(scope, `${prop}.timeout`, `${timeoutSeconds}s`, `must be at most '${prop}.period' (${periodSeconds}s), or probes run later than their period`);
  }
  return {
    path: path ?? defaults.path,
    initialDelaySeconds: seconds('initialDelay', defaults.initialDelaySeconds, 0),
    periodSeconds,
    timeoutSeconds,
    failureThreshold: requireIntInRange(scope, `${prop}.failureThreshold`, timing.failureThreshold ?? defaults.failureThreshold, 1, 1000),
  };
}

/**
 * The stateless API tier: a Deployment owned by a HorizontalPodAutoscaler, with a Service,
 * a headless Service for per-pod load balancing, a PodDisruptionBudget, probes, spread,
 * `restricted` security contexts and a NetworkPolicy that admits only linked clients.
 */
export class ScaledApi extends Construct implements ILoadBalancerBackend, IMetricsTarget {
  /** Name of its objects, `<chart>-<id>` unless `names` gives others. */
  public readonly name: string;
  /** The API image, pinned (with its digest when given). */
  public readonly image: string;
  /** The container port the API serves HTTP on. */
  public readonly port: number;
  /** The port of `/metrics`, when it is not `port`. */
  public readonly metricsPort?: number;
  /** The autoscaler's minimum. */
  public readonly minReplicas: number;
  /** The autoscaler's maximum, which connection budgets count. */
  public readonly maxReplicas: number;
  /** The autoscaler's CPU target, percent of the requests. */
  public readonly cpuUtilization: number;
  /** Undefined when the autoscaler does not scale on memory (the default, or `memoryUtilization: false`). */
  public readonly memoryUtilization?: number;
  /** Pods the PodDisruptionBudget keeps available. */
  public readonly minAvailable: number;
  /** Labels of the API pods. */
  public readonly podSelector: Record<string, string>;
  /** The name of each object, as `names` gave it or <chart>-<id>. */
  public readonly names: Required<ScaledApiNames>;
  /** Name of the ClusterIP Service. */
  public readonly serviceName: string;
  /** Name of the headless Service, which nginx resolves to each pod. */
  public readonly headlessServiceName: string;
  /** The API's `/metrics`, for Observability. */
  public readonly metricsEndpoints: MetricsEndpoint[];

  /** The API pods' ServiceAccount (no token mounted). */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The API Deployment. */
  public readonly deployment: k8s.KubeDeployment;
  /** The ClusterIP Service in front of the API pods. */
  public readonly service: k8s.KubeService;
  /** The headless Service, which names each API pod. */
  public readonly headlessService: k8s.KubeService;
  /** The HorizontalPodAutoscaler of the Deployment. */
  public readonly autoscaler: k8s.KubeHorizontalPodAutoscalerV2;
  /**
   * With `podMetric`: a ConfigMap whose `config.yaml` holds the prometheus-adapter rules that serve
   * the metric to the autoscaler. The adapter reads one config file: merge these rules into its own.
   */
  public readonly adapterRules?: k8s.KubeConfigMap;
  /** The API pods' PodDisruptionBudget. */
  public readonly disruptionBudget: k8s.KubePodDisruptionBudget;
  /** The API pods' NetworkPolicy: each link opens its port here. */
  public readonly networkPolicy: PodNetworkPolicy;

  private readonly settings: ScaledApiSettings;
  private readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: ScaledApiProps) {
    super(scope, id);
    const settings = resolveScaledApiSettings(this, props);
    this.settings = settings;
    this.name = settings.name;
    this.image = settings.image;
    this.port = settings.port;
    this.metricsPort = settings.metricsPort;
    this.minReplicas = settings.minReplicas;
    this.maxReplicas = settings.maxReplicas;
    this.cpuUtilization = settings.cpuUtilization;
    this.memoryUtilization = settings.memoryUtilization;
    this.minAvailable = settings.minAvailable;
    this.labels = commonLabels(this, 'api', 'api', imageVersion(this.image));
    this.podSelector = selectorLabels(this, 'api');
    this.names = settings.names;
    this.serviceName = this.names.service;
    this.headlessServiceName = `${this.names.service}-pods`;

    this.serviceAccount = this.createServiceAccount();
    this.deployment = this.createDeployment();
    annotateServiceAccount(this.serviceAccount, settings.pod.serviceAccountAnnotations);
    applyPodOptions(this, 'pod', this.deployment, settings.pod);
    this.service = this.createService('Service', this.serviceName, { type: 'ClusterIP' });
    // DNS of a headless Service answers with the IP of every ready pod, so nginx balances per pod.
    this.headlessService = this.createService('HeadlessService', this.headlessServiceName, { clusterIp: 'None' });
    this.autoscaler = this.createAutoscaler();
    this.adapterRules = settings.podMetric && this.createAdapterRules(settings.podMetric);
    this.disruptionBudget = this.createDisruptionBudget();
    this.networkPolicy = this.createNetworkPolicy();
    this.metricsEndpoints = [this.metricsEndpoint()];
    this.allowScraper(settings.metricsScraper);
    props.database?.addConnectionPool({ client: this.node.path, maxPods: this.maxReplicas, ...settings.poolBounds });
  }

  /**
   * What this API gives its image (env, ports, writable paths) and expects of it (probe paths, the
   * metrics port, path and names that Observability reads); docs/image-contract.md.
   */
  public get imageContract(): ImageContract {
    const { port, path } = this.metricsEndpoints[0];
    return containerContract(this.deployment, { metrics: { port, path, names: KNOWN_METRICS['hscale-service'] } });
  }

  /** Admits pods matching `client` (e.g. the load balancer) on the HTTP port. */
  public allowClient(client: PodPeer): void {
    this.networkPolicy.allowIngressFrom(client, [this.port]);
  }

  /** Admits pods matching `scraper` on the port that serves metrics. */
  public allowScraper(scraper: PodPeer): void {
    this.networkPolicy.allowIngressFrom(scraper, [this.metricsPort ?? this.port]);
  }

  private metadata(name: string): k8s.ObjectMeta {
    return { name, labels: this.labels, namespace: namespaceOf(this) };
  }

  private createServiceAccount(): k8s.KubeServiceAccount {
    return new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: this.metadata(this.name),
      automountServiceAccountToken: false,
    });
  }

  private createDeployment(): k8s.KubeDeployment {
    const { env, resources, preStopSeconds, probes } = this.settings;
    return new k8s.KubeDeployment(this, 'Deployment', {
      metadata: this.metadata(this.names.deployment),
      spec: autoscaledDeploymentSpec({
        podSelector: this.podSelector, labels: this.labels, serviceAccountName: this.serviceAccount.name,
        runAsUser: this.settings.runAsUser, gracePeriodSeconds: this.settings.gracePeriodSeconds, placement: this.settings.placement,
        rollout: this.settings.rollout,
        container: {
          name: 'api',
          image: this.image,
          ports: this.containerPorts(),
          env,
          resources,
          // The pause lets kube-proxy, nginx's resolver and the endpoints controller drop the pod
          // before the process stops accepting connections.
          lifecycle: { preStop: { exec: { command: ['sleep', String(preStopSeconds)] } } },
          startupProbe: httpProbe(probes.startup),
          livenessProbe: httpProbe(probes.liveness),
          readinessProbe: httpProbe(probes.readiness),
        },
      }),
    });
  }

  private containerPorts(): k8s.ContainerPort[] {
    const ports: k8s.ContainerPort[] = [{ name: 'http', containerPort: this.port, protocol: 'TCP' }];
    if (this.metricsPort !== undefined) {
      ports.push({ name: 'metrics', containerPort: this.metricsPort, protocol: 'TCP' });
    }
    return ports;
  }

  private createService(id: string, name: string, kind: Pick<k8s.ServiceSpec, 'type' | 'clusterIp'>): k8s.KubeService {
    const ports: k8s.ServicePort[] = this.containerPorts().map(p => ({
      name: p.name, port: p.containerPort, targetPort: k8s.IntOrString.fromString(p.name!), protocol: 'TCP',
    }));
    return new k8s.KubeService(this, id, {
      metadata: this.metadata(name),
      spec: { ...kind, selector: this.podSelector, ports },
    });
  }

  private createAutoscaler(): k8s.KubeHorizontalPodAutoscalerV2 {
    return deploymentAutoscaler(this, this.metadata(this.names.autoscaler), this.deployment, {
      minReplicas: this.minReplicas, maxReplicas: this.maxReplicas, metrics: this.autoscalerMetrics(), behavior: this.settings.behavior,
    });
  }

  private autoscalerMetrics(): k8s.MetricSpecV2[] {
    const { podMetric } = this.settings;
    const metrics = [utilizationMetric('cpu', this.cpuUtilization)];
    if (this.memoryUtilization !== undefined) {
      metrics.push(utilizationMetric('memory', this.memoryUtilization));
    }
    if (podMetric) {
      metrics.push({
        type: 'Pods',
        pods: {
          metric: { name: podMetric.name },
          target: { type: 'AverageValue', averageValue: k8s.Quantity.fromString(String(podMetric.averageValue)) },
        },
      });
    }
    return metrics;
  }

  private createAdapterRules(podMetric: Required<PodMetricTarget>): k8s.KubeConfigMap {
    return new k8s.KubeConfigMap(this, 'AdapterRules', {
      metadata: this.metadata(`${this.name}-adapter-rules`),
      data: { 'config.yaml': renderAdapterRules([podMetric]) },
    });
  }

  private createDisruptionBudget(): k8s.KubePodDisruptionBudget {
    return disruptionBudget(this, 'DisruptionBudget', this.metadata(this.names.disruptionBudget), this.podSelector, { minAvailable: this.minAvailable });
  }

  private createNetworkPolicy(): PodNetworkPolicy {
    const policy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels: this.labels });
    this.settings.backends.forEach(backend => policy.connectTo(backend));
    return policy;
  }

  private metricsEndpoint(): MetricsEndpoint {
    return {
      exporter: 'hscale-service',
      workloadName: this.names.deployment,
      autoscalerName: this.names.autoscaler,
      disruptionBudgetName: this.names.disruptionBudget,
      podSelector: this.podSelector,
      portName: this.metricsPort === undefined ? 'http' : 'metrics',
      port: this.metricsPort ?? this.port,
      path: this.settings.metricsPath,
      serviceName: this.serviceName,
      serviceLabels: this.labels,
      withoutReplicas: !this.settings.readsReplicas,
    };
  }
}

/** A probe of the container's HTTP port. */
function httpProbe({ path, initialDelaySeconds, periodSeconds, timeoutSeconds, failureThreshold }: ProbeSettings): k8s.Probe {
  return {
    httpGet: { path, port: k8s.IntOrString.fromString('http') },
    // 0 is the kubelet's own default: left out, manifests written before the prop stay as they were.
    ...(initialDelaySeconds > 0 ? { initialDelaySeconds } : {}),
    periodSeconds, timeoutSeconds, failureThreshold,
  };
}
