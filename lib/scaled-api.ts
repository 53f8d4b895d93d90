import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { containerEnv, SecretKey } from './container-env';
import {
  DEFAULT_METRICS_SCRAPER, ICacheEndpoint, IClientAccessible, IDatabaseEndpoint, ILoadBalancerBackend,
  IMetricsTarget, MetricsEndpoint, PodPeer,
} from './endpoints';
import { commonLabels, imageVersion, namespaceOf, resourceName, selectorLabels } from './names';
import { autoscaledDeploymentSpec, ContainerResources, guidesScalingBehavior, resolveResources, SpreadPolicy } from './pod-defaults';
import { PodNetworkPolicy } from './pod-network-policy';
import {
  propError, rejectUnknownProps, requireIntInRange, requireOneOf, requirePinnedImage, requirePort, requirePositive, requireProp,
} from './validation';

/** A per-pod metric the autoscaler targets as an average value, e.g. requests per second. */
export interface PodMetricTarget {
  /** Name of the metric as the custom metrics API serves it. */
  readonly name: string;
  /** Average value per pod the autoscaler aims for. */
  readonly averageValue: number;
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
  /** Average memory utilization (percent of requests) the autoscaler aims for. @default 80 */
  readonly memoryUtilization?: number;
  /** An extra per-pod metric the autoscaler scales on. @default - CPU and memory only */
  readonly podMetric?: PodMetricTarget;
  /** Pods the PodDisruptionBudget keeps available during voluntary disruptions. @default 2 */
  readonly minAvailable?: number;
  /** Probe paths. @default - the guides' /api/v1/scaling/health/{liveness,readiness,startup} */
  readonly probes?: ProbePaths;
  /** Requests and limits of the API container. @default - 250m / 256Mi requested, 1 CPU / 1Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** What the scheduler does when pods cannot be spread evenly over zones and nodes. @default 'ScheduleAnyway' */
  readonly spread?: SpreadPolicy;
  /** Pause before the container gets SIGTERM, so endpoints are removed first. @default Duration.seconds(10) */
  readonly preStopDelay?: Duration;
  /** Time from the pod's deletion to SIGKILL, preStop pause included. @default Duration.seconds(45) */
  readonly terminationGracePeriod?: Duration;
  /** The PostgreSQL the API uses. @default - no database env and no database egress */
  readonly database?: IDatabaseEndpoint;
  /** The Redis the API uses. @default - no cache env and no cache egress */
  readonly cache?: ICacheEndpoint;
  /** Plain env vars; names that look like credentials are refused (use `secretEnv`). @default {} */
  readonly env?: Record<string, string>;
  /** Env vars read from Secrets, e.g. `ADMIN_TOKEN`. @default {} */
  readonly secretEnv?: Record<string, SecretKey>;
  /** Pods allowed to scrape the metrics port. @default - pods labelled app.kubernetes.io/name=prometheus in any namespace */
  readonly metricsScraper?: PodPeer;
  /** User id the container runs as. @default 10001 */
  readonly runAsUser?: number;
}

/** Every prop of {@link ScaledApiProps}: names outside it (typos from JavaScript) are refused at synth time. */
export const SCALED_API_PROPS: Record<keyof ScaledApiProps, true> = {
  image: true, port: true, metricsPort: true, metricsPath: true, minReplicas: true, maxReplicas: true, cpuUtilization: true,
  memoryUtilization: true, podMetric: true, minAvailable: true, probes: true, resources: true, spread: true,
  preStopDelay: true, terminationGracePeriod: true, database: true, cache: true, env: true, secretEnv: true,
  metricsScraper: true, runAsUser: true,
};

/** The probes of the API container, in the order the kubelet starts them. */
export type ProbeKind = 'startup' | 'liveness' | 'readiness';

/** How one probe checks the API over its HTTP port. */
export interface ProbeSettings {
  readonly path: string;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/** Each probe's defaults: the guides' paths, and timings tuned to the reference service. */
const PROBE_DEFAULTS: Record<ProbeKind, ProbeSettings> = {
  // Up to 150 s to start before the kubelet restarts the container.
  startup: { path: '/api/v1/scaling/health/startup', periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30 },
  liveness: { path: '/api/v1/scaling/health/liveness', periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
  readiness: { path: '/api/v1/scaling/health/readiness', periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
};

/** The props of a ScaledApi, validated and defaulted. */
export interface ScaledApiSettings {
  readonly name: string;
  readonly image: string;
  readonly port: number;
  readonly metricsPort?: number;
  readonly metricsPath: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuUtilization: number;
  readonly memoryUtilization: number;
  readonly podMetric?: PodMetricTarget;
  readonly minAvailable: number;
  readonly spread: SpreadPolicy;
  readonly preStopSeconds: number;
  readonly gracePeriodSeconds: number;
  readonly resources: k8s.ResourceRequirements;
  readonly probes: Record<ProbeKind, ProbeSettings>;
  readonly runAsUser: number;
  /** The linked database and cache: their env goes into the container, their ports into the egress rules. */
  readonly backends: IClientAccessible[];
  readonly env: k8s.EnvVar[];
  readonly metricsScraper: PodPeer;
}

/** Validates and defaults the props of the ScaledApi at `scope`. */
export function resolveScaledApiSettings(scope: Construct, props: ScaledApiProps): ScaledApiSettings {
  rejectUnknownProps(scope, props, SCALED_API_PROPS);
  const name = resourceName(scope);
  const image = requirePinnedImage(scope, 'image', requireProp(scope, props, 'image', 'the container image, e.g. \'registry.example.com/api:1.4.2\''));
  const ports = resolvePorts(scope, props);
  const backends: IClientAccessible[] = [props.database, props.cache].filter(b => b !== undefined);
  return {
    name,
    image,
    ...ports,
    metricsPath: props.metricsPath ?? '/metrics',
    ...resolveScaling(scope, props),
    spread: requireOneOf(scope, 'spread', props.spread ?? 'ScheduleAnyway', ['ScheduleAnyway', 'DoNotSchedule']),
    ...resolveTermination(scope, props),
    resources: resolveResources(scope, 'resources', props.resources, {
      cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi',
    }),
    probes: resolveProbes(props.probes ?? {}),
    runAsUser: props.runAsUser ?? 10001,
    backends,
    env: containerEnv(scope, [{ name: 'PORT', value: String(ports.port) }], backends, props.env ?? {}, props.secretEnv ?? {}),
    metricsScraper: props.metricsScraper ?? DEFAULT_METRICS_SCRAPER,
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

type ScalingSettings = Pick<ScaledApiSettings, 'minReplicas' | 'maxReplicas' | 'cpuUtilization' | 'memoryUtilization' | 'minAvailable' | 'podMetric'>;

function resolveScaling(scope: Construct, props: ScaledApiProps): ScalingSettings {
  const minReplicas = requireIntInRange(scope, 'minReplicas', props.minReplicas ?? 3, 1, 1000);
  const maxReplicas = requireIntInRange(scope, 'maxReplicas', props.maxReplicas ?? 20, 1, 1000);
  if (minReplicas > maxReplicas) {
    throw propError(scope, 'minReplicas', minReplicas, `must be less than or equal to 'maxReplicas' (${maxReplicas})`);
  }
  const cpuUtilization = requireIntInRange(scope, 'cpuUtilization', props.cpuUtilization ?? 70, 1, 100);
  const memoryUtilization = requireIntInRange(scope, 'memoryUtilization', props.memoryUtilization ?? 80, 1, 100);
  const minAvailable = requireIntInRange(scope, 'minAvailable', props.minAvailable ?? 2, 0, 1000);
  if (minAvailable >= minReplicas) {
    throw propError(scope, 'minAvailable', minAvailable,
      `must be less than 'minReplicas' (${minReplicas}), or the PodDisruptionBudget blocks every eviction at the minimum scale`);
  }
  if (props.podMetric) {
    requirePositive(scope, 'podMetric.averageValue', props.podMetric.averageValue);
  }
  return { minReplicas, maxReplicas, cpuUtilization, memoryUtilization, minAvailable, podMetric: props.podMetric };
}

function resolveTermination(scope: Construct, props: ScaledApiProps): Pick<ScaledApiSettings, 'preStopSeconds' | 'gracePeriodSeconds'> {
  const preStopSeconds = props.preStopDelay?.toSeconds() ?? 10;
  const gracePeriodSeconds = props.terminationGracePeriod?.toSeconds() ?? 45;
  if (gracePeriodSeconds <= preStopSeconds) {
    throw propError(scope, 'terminationGracePeriod', `${gracePeriodSeconds}s`,
      `must be longer than 'preStopDelay' (${preStopSeconds}s), or the process is killed before it can drain`);
  }
  return { preStopSeconds, gracePeriodSeconds };
}

function resolveProbes(paths: ProbePaths): Record<ProbeKind, ProbeSettings> {
  const probe = (kind: ProbeKind): ProbeSettings => ({ ...PROBE_DEFAULTS[kind], path: paths[kind] ?? PROBE_DEFAULTS[kind].path });
  return { startup: probe('startup'), liveness: probe('liveness'), readiness: probe('readiness') };
}

/**
 * The stateless API tier: a Deployment owned by a HorizontalPodAutoscaler, with a Service,
 * a headless Service for per-pod load balancing, a PodDisruptionBudget, probes, spread,
 * `restricted` security contexts and a NetworkPolicy that admits only linked clients.
 */
export class ScaledApi extends Construct implements ILoadBalancerBackend, IMetricsTarget {
  public readonly name: string;
  public readonly image: string;
  public readonly port: number;
  public readonly metricsPort?: number;
  public readonly minReplicas: number;
  public readonly maxReplicas: number;
  public readonly cpuUtilization: number;
  public readonly memoryUtilization: number;
  public readonly minAvailable: number;
  public readonly podSelector: Record<string, string>;
  public readonly serviceName: string;
  public readonly headlessServiceName: string;
  public readonly metricsEndpoints: MetricsEndpoint[];

  public readonly serviceAccount: k8s.KubeServiceAccount;
  public readonly deployment: k8s.KubeDeployment;
  public readonly service: k8s.KubeService;
  public readonly headlessService: k8s.KubeService;
  public readonly autoscaler: k8s.KubeHorizontalPodAutoscalerV2;
  public readonly disruptionBudget: k8s.KubePodDisruptionBudget;
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
    this.serviceName = this.name;
    this.headlessServiceName = `${this.name}-pods`;

    this.serviceAccount = this.createServiceAccount();
    this.deployment = this.createDeployment();
    this.service = this.createService('Service', this.serviceName, { type: 'ClusterIP' });
    // DNS of a headless Service answers with the IP of every ready pod, so nginx balances per pod.
    this.headlessService = this.createService('HeadlessService', this.headlessServiceName, { clusterIp: 'None' });
    this.autoscaler = this.createAutoscaler();
    this.disruptionBudget = this.createDisruptionBudget();
    this.networkPolicy = this.createNetworkPolicy();
    this.metricsEndpoints = [this.metricsEndpoint()];
    this.allowScraper(settings.metricsScraper);
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
      metadata: this.metadata(this.name),
      spec: autoscaledDeploymentSpec({
        podSelector: this.podSelector, labels: this.labels, serviceAccountName: this.serviceAccount.name,
        runAsUser: this.settings.runAsUser, gracePeriodSeconds: this.settings.gracePeriodSeconds, spread: this.settings.spread,
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
    return new k8s.KubeHorizontalPodAutoscalerV2(this, 'Autoscaler', {
      metadata: this.metadata(this.name),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.name },
        minReplicas: this.minReplicas,
        maxReplicas: this.maxReplicas,
        metrics: this.autoscalerMetrics(),
        behavior: this.autoscalerBehavior(),
      },
    });
  }

  private autoscalerMetrics(): k8s.MetricSpecV2[] {
    const { podMetric } = this.settings;
    const metrics: k8s.MetricSpecV2[] = [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: this.cpuUtilization } } },
      { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: this.memoryUtilization } } },
    ];
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

  /** How fast the autoscaler adds and removes pods. */
  private autoscalerBehavior(): k8s.HorizontalPodAutoscalerBehaviorV2 {
    return guidesScalingBehavior();
  }

  private createDisruptionBudget(): k8s.KubePodDisruptionBudget {
    return new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: this.metadata(this.name),
      spec: {
        minAvailable: k8s.IntOrString.fromNumber(this.minAvailable),
        selector: { matchLabels: this.podSelector },
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
  }

  private createNetworkPolicy(): PodNetworkPolicy {
    const policy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels: this.labels });
    this.settings.backends.forEach(backend => policy.connectTo(backend));
    return policy;
  }

  private metricsEndpoint(): MetricsEndpoint {
    return {
      exporter: 'hscale-service',
      workloadName: this.name,
      podSelector: this.podSelector,
      portName: this.metricsPort === undefined ? 'http' : 'metrics',
      port: this.metricsPort ?? this.port,
      path: this.settings.metricsPath,
      serviceName: this.serviceName,
      serviceLabels: this.labels,
    };
  }
}

/** A probe of the container's HTTP port. */
function httpProbe({ path, periodSeconds, timeoutSeconds, failureThreshold }: ProbeSettings): k8s.Probe {
  return { httpGet: { path, port: k8s.IntOrString.fromString('http') }, periodSeconds, timeoutSeconds, failureThreshold };
}
