import { ApiObject, Chart, Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { containerEnv, SecretKey } from './container-env';
import {
  DEFAULT_METRICS_SCRAPER, IClientAccessible, IDatabaseEndpoint, IMetricsTarget, IQueueBroker, MetricsEndpoint, PodPeer,
} from './endpoints';
import { commonLabels, imageVersion, namespaceOf, resourceName, selectorLabels } from './names';
import { autoscaledDeploymentSpec, ContainerResources, guidesScalingBehavior, resolveResources, SpreadPolicy } from './pod-defaults';
import { PodNetworkPolicy } from './pod-network-policy';
import { propError, requireIntInRange, requireOneOf, requirePinnedImage, requirePort } from './validation';

export type WorkerAutoscaler = 'keda' | 'cpu';
const AUTOSCALERS: WorkerAutoscaler[] = ['keda', 'cpu'];

/** Props of a {@link WorkerPool}. */
export interface WorkerPoolProps {
  /** Container image of the workers, pinned by a tag other than `latest` or by digest. */
  readonly image: string;
  /** Command of the worker container. @default - the image's entrypoint */
  readonly command?: string[];
  /** Redis list the workers take jobs from, injected as `WORKER_QUEUE`. */
  readonly queue: string;
  /** The Redis holding the queue (a RedisCluster in either mode). */
  readonly broker: IQueueBroker;
  /** The PostgreSQL the workers use. @default - no database env and no database egress */
  readonly database?: IDatabaseEndpoint;
  /** 'keda' scales on the queue's length (KEDA ScaledObject); 'cpu' on CPU (HorizontalPodAutoscaler), for clusters without KEDA. @default 'keda' */
  readonly autoscaler?: WorkerAutoscaler;
  /** Fewest workers; 0 (with 'keda') stops every worker while the queue is empty. @default 1 */
  readonly minReplicas?: number;
  /** Most workers. @default 10 */
  readonly maxReplicas?: number;
  /** Waiting jobs per worker the 'keda' autoscaler aims for (KEDA `listLength`). @default 20 */
  readonly backlogPerReplica?: number;
  /** Average CPU utilization (percent of requests) the 'cpu' autoscaler aims for. @default 70 */
  readonly cpuUtilization?: number;
  /** How often KEDA reads the queue's length. @default Duration.seconds(15) */
  readonly pollingInterval?: Duration;
  /** Time from SIGTERM to SIGKILL, for the job in progress to finish. @default Duration.seconds(120) */
  readonly terminationGracePeriod?: Duration;
  /** Port the workers serve Prometheus metrics on (the liveness probe asks it too). @default 9100 */
  readonly metricsPort?: number;
  /** HTTP path of the Prometheus metrics. @default '/metrics' */
  readonly metricsPath?: string;
  /** Requests and limits of the worker container. @default - 250m / 256Mi requested, 1 CPU / 1Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** What the scheduler does when workers cannot be spread evenly over zones and nodes. @default 'ScheduleAnyway' */
  readonly spread?: SpreadPolicy;
  /** Plain env vars; names that look like credentials are refused (use `secretEnv`). @default {} */
  readonly env?: Record<string, string>;
  /** Env vars read from Secrets. @default {} */
  readonly secretEnv?: Record<string, SecretKey>;
  /** Pods allowed to scrape the metrics port. @default - pods labelled app.kubernetes.io/name=prometheus in any namespace */
  readonly metricsScraper?: PodPeer;
  /** Pods of the KEDA operator, admitted to the broker to read the queue. @default - pods labelled app.kubernetes.io/name=keda-operator in any namespace */
  readonly kedaOperator?: PodPeer;
  /** User id the container runs as. @default 10001 */
  readonly runAsUser?: number;
}

/** KEDA's Helm chart labels its operator pods so. */
export const DEFAULT_KEDA_OPERATOR: PodPeer = {
  podSelector: { 'app.kubernetes.io/name': 'keda-operator' },
  namespaceSelector: {},
};

/**
 * Queue workers: a Deployment that pops jobs from a Redis list, scaled on the list's length by
 * a KEDA ScaledObject (or on CPU by an HPA where KEDA is not installed), with a
 * PodDisruptionBudget, spread, `restricted` security contexts and a NetworkPolicy that admits
 * only the metrics scraper and lets the workers reach nothing but their backends and DNS.
 */
export class WorkerPool extends Construct implements IMetricsTarget {
  public readonly name: string;
  public readonly queue: string;
  public readonly autoscalerKind: WorkerAutoscaler;
  public readonly minReplicas: number;
  public readonly maxReplicas: number;
  public readonly backlogPerReplica: number;
  public readonly metricsPort: number;
  public readonly podSelector: Record<string, string>;
  public readonly metricsEndpoints: MetricsEndpoint[];

  public readonly serviceAccount: k8s.KubeServiceAccount;
  public readonly deployment: k8s.KubeDeployment;
  public readonly disruptionBudget: k8s.KubePodDisruptionBudget;
  public readonly networkPolicy: PodNetworkPolicy;
  /** The KEDA ScaledObject ('keda'). */
  public readonly scaledObject?: ApiObject;
  /** The KEDA TriggerAuthentication that hands the broker's password to the scaler ('keda'). */
  public readonly triggerAuthentication?: ApiObject;
  /** The HorizontalPodAutoscaler ('cpu'; with 'keda', KEDA creates one of the same name). */
  public readonly cpuAutoscaler?: k8s.KubeHorizontalPodAutoscalerV2;

  constructor(scope: Construct, id: string, props: WorkerPoolProps) {
    super(scope, id);
    this.name = resourceName(this);
    const image = requirePinnedImage(this, 'image', props.image);
    this.queue = props.queue;
    // A Redis key may be any string, but one that a shell, KEDA's metadata or a log would mangle is a mistake.
    if (!/^[A-Za-z0-9{][A-Za-z0-9:._{}-]{0,199}$/.test(this.queue)) {
      throw propError(this, 'queue', this.queue, 'must be 1-200 letters, digits or \':._{}-\', starting with a letter, a digit or \'{\' (a hash tag)');
    }
    this.autoscalerKind = requireOneOf(this, 'autoscaler', props.autoscaler ?? 'keda', AUTOSCALERS);
    const keda = this.autoscalerKind === 'keda';
    // An HPA cannot scale to zero; KEDA can, and wakes the pool when a job arrives.
    this.minReplicas = requireIntInRange(this, 'minReplicas', props.minReplicas ?? 1, keda ? 0 : 1, 1000);
    this.maxReplicas = requireIntInRange(this, 'maxReplicas', props.maxReplicas ?? 10, 1, 1000);
    if (this.minReplicas > this.maxReplicas) {
      throw propError(this, 'minReplicas', this.minReplicas, `must be less than or equal to 'maxReplicas' (${this.maxReplicas})`);
    }
    this.backlogPerReplica = requireIntInRange(this, 'backlogPerReplica', props.backlogPerReplica ?? 20, 1, 1_000_000);
    const cpuUtilization = requireIntInRange(this, 'cpuUtilization', props.cpuUtilization ?? 70, 1, 100);
    const pollingSeconds = requireIntInRange(this, 'pollingInterval', props.pollingInterval?.toSeconds() ?? 15, 1, 3600);
    const gracePeriodSeconds = requireIntInRange(this, 'terminationGracePeriod', props.terminationGracePeriod?.toSeconds() ?? 120, 1, 86_400);
    this.metricsPort = requirePort(this, 'metricsPort', props.metricsPort ?? 9100);
    const metricsPath = props.metricsPath ?? '/metrics';
    const spread = requireOneOf(this, 'spread', props.spread ?? 'ScheduleAnyway', ['ScheduleAnyway', 'DoNotSchedule']);
    const resources = resolveResources(this, 'resources', props.resources, {
      cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi',
    });
    const namespace = namespaceOf(this);
    if (keda && Chart.of(props.broker).namespace !== namespace) {
      throw propError(this, 'broker', props.broker.node.path,
        `must be in the workers' namespace (${namespace ?? 'none'}): KEDA reads the broker's password Secret from the ScaledObject's namespace`);
    }

    const labels = commonLabels(this, 'worker', 'worker', imageVersion(image));
    this.podSelector = selectorLabels(this, 'worker');
    const metadata = (name: string) => ({ name, labels, namespace });
    const backends: IClientAccessible[] = [props.broker, props.database].filter(b => b !== undefined);
    const env = containerEnv(this, [
      { name: 'WORKER_QUEUE', value: this.queue },
      { name: 'METRICS_PORT', value: String(this.metricsPort) },
    ], backends, props.env ?? {}, props.secretEnv ?? {});

    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: metadata(this.name),
      automountServiceAccountToken: false,
    });
    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata: metadata(this.name),
      spec: autoscaledDeploymentSpec({
        podSelector: this.podSelector, labels, serviceAccountName: this.serviceAccount.name,
        // A worker stops taking jobs at SIGTERM and finishes the one it holds within the grace period.
        runAsUser: props.runAsUser ?? 10001, gracePeriodSeconds, spread,
        container: {
          name: 'worker',
          image,
          ...(props.command ? { command: props.command } : {}),
          ports: [{ name: 'metrics', containerPort: this.metricsPort, protocol: 'TCP' }],
          env,
          resources,
          // Workers serve no traffic: liveness (a stuck event loop stops answering) is the probe that matters.
          livenessProbe: { httpGet: { path: metricsPath, port: k8s.IntOrString.fromString('metrics') }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 },
          readinessProbe: { httpGet: { path: metricsPath, port: k8s.IntOrString.fromString('metrics') }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
        },
      }),
    });

    const scaleTargetRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.name };
    if (keda) {
      const authName = `${this.name}-broker`;
      this.triggerAuthentication = new ApiObject(this, 'TriggerAuthentication', {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'TriggerAuthentication',
        metadata: metadata(authName),
        spec: { secretTargetRef: [{ parameter: 'password', name: props.broker.passwordSecret.name, key: props.broker.passwordSecret.key }] },
      });
      this.scaledObject = new ApiObject(this, 'ScaledObject', {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: metadata(this.name),
        spec: {
          scaleTargetRef,
          pollingInterval: pollingSeconds,
          // Scale to zero only after five calm minutes, as the HPA scales down.
          cooldownPeriod: 300,
          minReplicaCount: this.minReplicas,
          maxReplicaCount: this.maxReplicas,
          advanced: {
            // The HPA KEDA creates takes the pool's name, so alerts select it like the API's.
            horizontalPodAutoscalerConfig: { name: this.name, behavior: guidesScalingBehavior() },
          },
          triggers: [redisListTrigger(props.broker, this.queue, this.backlogPerReplica, authName)],
        },
      });
      props.broker.allowClient(props.kedaOperator ?? DEFAULT_KEDA_OPERATOR);
    } else {
      this.cpuAutoscaler = new k8s.KubeHorizontalPodAutoscalerV2(this, 'Autoscaler', {
        metadata: metadata(this.name),
        spec: {
          scaleTargetRef,
          minReplicas: this.minReplicas,
          maxReplicas: this.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpuUtilization } } }],
          behavior: guidesScalingBehavior(),
        },
      });
    }

    // maxUnavailable, not minAvailable: a pool scaled to zero or one must still let nodes drain.
    this.disruptionBudget = new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: metadata(this.name),
      spec: {
        maxUnavailable: k8s.IntOrString.fromNumber(1),
        selector: { matchLabels: this.podSelector },
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });

    this.networkPolicy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels });
    backends.forEach(backend => this.networkPolicy.connectTo(backend));

    this.metricsEndpoints = [{
      exporter: 'hscale-worker',
      workloadName: this.name,
      podSelector: this.podSelector,
      portName: 'metrics',
      port: this.metricsPort,
      path: metricsPath,
      ...(keda ? { queue: { name: this.queue, scaledObject: this.name, backlogLimit: this.backlogPerReplica * this.maxReplicas } } : {}),
    }];
    this.allowScraper(props.metricsScraper ?? DEFAULT_METRICS_SCRAPER);
  }

  /** Admits pods matching `scraper` on the metrics port. */
  public allowScraper(scraper: PodPeer): void {
    this.networkPolicy.allowIngressFrom(scraper, [this.metricsPort]);
  }
}

/**
 * The KEDA trigger that reads the length of `queue`: `redis-cluster` asks the nodes, which
 * redirect it to the queue's slot; `redis-sentinel` asks the Sentinels for the master first;
 * `redis` asks the one node of a standalone broker.
 */
export function redisListTrigger(broker: IQueueBroker, queue: string, backlogPerReplica: number, authName: string): Record<string, unknown> {
  const common = { listName: queue, listLength: String(backlogPerReplica) };
  if (broker.mode === 'standalone') {
    return { type: 'redis', metadata: { address: broker.nodes[0], ...common }, authenticationRef: { name: authName } };
  }
  const metadata = broker.mode === 'cluster'
    ? { addresses: broker.nodes.join(','), ...common }
    : { addresses: broker.sentinelHosts.join(','), sentinelMaster: broker.masterName!, ...common };
  return { type: `redis-${broker.mode}`, metadata, authenticationRef: { name: authName } };
}
