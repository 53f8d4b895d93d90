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
  propError, requireIntInRange, requireOneOf, requirePinnedImage, requirePort, requirePositive,
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

  constructor(scope: Construct, id: string, props: ScaledApiProps) {
    super(scope, id);
    this.name = resourceName(this);
    this.image = requirePinnedImage(this, 'image', props.image);
    this.port = requirePort(this, 'port', props.port ?? 8000);
    this.metricsPort = props.metricsPort === undefined ? undefined : requirePort(this, 'metricsPort', props.metricsPort);
    if (this.metricsPort === this.port) {
      throw propError(this, 'metricsPort', this.metricsPort, `must differ from 'port' (${this.port}); omit it to scrape the HTTP port`);
    }
    this.minReplicas = requireIntInRange(this, 'minReplicas', props.minReplicas ?? 3, 1, 1000);
    this.maxReplicas = requireIntInRange(this, 'maxReplicas', props.maxReplicas ?? 20, 1, 1000);
    if (this.minReplicas > this.maxReplicas) {
      throw propError(this, 'minReplicas', this.minReplicas, `must be less than or equal to 'maxReplicas' (${this.maxReplicas})`);
    }
    this.cpuUtilization = requireIntInRange(this, 'cpuUtilization', props.cpuUtilization ?? 70, 1, 100);
    this.memoryUtilization = requireIntInRange(this, 'memoryUtilization', props.memoryUtilization ?? 80, 1, 100);
    this.minAvailable = requireIntInRange(this, 'minAvailable', props.minAvailable ?? 2, 0, 1000);
    if (this.minAvailable >= this.minReplicas) {
      throw propError(this, 'minAvailable', this.minAvailable,
        `must be less than 'minReplicas' (${this.minReplicas}), or the PodDisruptionBudget blocks every eviction at the minimum scale`);
    }
    if (props.podMetric) {
      requirePositive(this, 'podMetric.averageValue', props.podMetric.averageValue);
    }
    const spread = requireOneOf(this, 'spread', props.spread ?? 'ScheduleAnyway', ['ScheduleAnyway', 'DoNotSchedule']);
    const preStopSeconds = props.preStopDelay?.toSeconds() ?? 10;
    const gracePeriodSeconds = props.terminationGracePeriod?.toSeconds() ?? 45;
    if (gracePeriodSeconds <= preStopSeconds) {
      throw propError(this, 'terminationGracePeriod', `${gracePeriodSeconds}s`,
        `must be longer than 'preStopDelay' (${preStopSeconds}s), or the process is killed before it can drain`);
    }
    const resources = resolveResources(this, 'resources', props.resources, {
      cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi',
    });

    const labels = commonLabels(this, 'api', 'api', imageVersion(this.image));
    this.podSelector = selectorLabels(this, 'api');
    const metadata = (name: string) => ({ name, labels, namespace: namespaceOf(this) });
    this.serviceName = this.name;
    this.headlessServiceName = `${this.name}-pods`;

    const backends: IClientAccessible[] = [props.database, props.cache].filter(b => b !== undefined);
    const env = containerEnv(this, [{ name: 'PORT', value: String(this.port) }], backends, props.env ?? {}, props.secretEnv ?? {});

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: metadata(this.name),
      automountServiceAccountToken: false,
    });

    const probes = { ...props.probes };
    const httpGet = (path: string) => ({ httpGet: { path, port: k8s.IntOrString.fromString('http') } });
    const containerPorts: k8s.ContainerPort[] = [{ name: 'http', containerPort: this.port, protocol: 'TCP' }];
    if (this.metricsPort !== undefined) {
      containerPorts.push({ name: 'metrics', containerPort: this.metricsPort, protocol: 'TCP' });
    }

    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata: metadata(this.name),
      spec: autoscaledDeploymentSpec({
        podSelector: this.podSelector, labels, serviceAccountName: this.serviceAccount.name,
        runAsUser: props.runAsUser ?? 10001, gracePeriodSeconds, spread,
        container: {
          name: 'api',
          image: this.image,
          ports: containerPorts,
          env,
          resources,
          // The pause lets kube-proxy, nginx's resolver and the endpoints controller drop the pod
          // before the process stops accepting connections.
          lifecycle: { preStop: { exec: { command: ['sleep', String(preStopSeconds)] } } },
          startupProbe: { ...httpGet(probes.startup ?? '/api/v1/scaling/health/startup'), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 30 },
          livenessProbe: { ...httpGet(probes.liveness ?? '/api/v1/scaling/health/liveness'), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
          readinessProbe: { ...httpGet(probes.readiness ?? '/api/v1/scaling/health/readiness'), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
        },
      }),
    });

    const servicePorts: k8s.ServicePort[] = containerPorts.map(p => ({
      name: p.name, port: p.containerPort, targetPort: k8s.IntOrString.fromString(p.name!), protocol: 'TCP',
    }));
    this.service = new k8s.KubeService(this, 'Service', {
      metadata: metadata(this.serviceName),
      spec: { type: 'ClusterIP', selector: this.podSelector, ports: servicePorts },
    });
    // DNS of a headless Service answers with the IP of every ready pod, so nginx balances per pod.
    this.headlessService = new k8s.KubeService(this, 'HeadlessService', {
      metadata: metadata(this.headlessServiceName),
      spec: { clusterIp: 'None', selector: this.podSelector, ports: servicePorts },
    });

    const metrics: k8s.MetricSpecV2[] = [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: this.cpuUtilization } } },
      { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: this.memoryUtilization } } },
    ];
    if (props.podMetric) {
      metrics.push({
        type: 'Pods',
        pods: {
          metric: { name: props.podMetric.name },
          target: { type: 'AverageValue', averageValue: k8s.Quantity.fromString(String(props.podMetric.averageValue)) },
        },
      });
    }
    this.autoscaler = new k8s.KubeHorizontalPodAutoscalerV2(this, 'Autoscaler', {
      metadata: metadata(this.name),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.name },
        minReplicas: this.minReplicas,
        maxReplicas: this.maxReplicas,
        metrics,
        behavior: guidesScalingBehavior(),
      },
    });

    this.disruptionBudget = new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: metadata(this.name),
      spec: {
        minAvailable: k8s.IntOrString.fromNumber(this.minAvailable),
        selector: { matchLabels: this.podSelector },
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });

    this.networkPolicy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels });
    backends.forEach(backend => this.networkPolicy.connectTo(backend));

    const metricsPortName = this.metricsPort === undefined ? 'http' : 'metrics';
    this.metricsEndpoints = [{
      exporter: 'hscale-service',
      workloadName: this.name,
      podSelector: this.podSelector,
      portName: metricsPortName,
      port: this.metricsPort ?? this.port,
      path: props.metricsPath ?? '/metrics',
      serviceName: this.serviceName,
      serviceLabels: labels,
    }];
    this.allowScraper(props.metricsScraper ?? DEFAULT_METRICS_SCRAPER);
  }

  /** Admits pods matching `client` (e.g. the load balancer) on the HTTP port. */
  public allowClient(client: PodPeer): void {
    this.networkPolicy.allowIngressFrom(client, [this.port]);
  }

  /** Admits pods matching `scraper` on the port that serves metrics. */
  public allowScraper(scraper: PodPeer): void {
    this.networkPolicy.allowIngressFrom(scraper, [this.metricsPort ?? this.port]);
  }
}
