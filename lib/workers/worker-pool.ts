import { ApiObject, Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { nestedDurationViolation } from '../core/budgets';
import { containerEnv, GuideMetrics, guideMetricsEnv, prefixedLink, QUEUE_ENV_PREFIX } from '../core/container-env';
import { cronProblem } from '../core/cron';
import {
  DEFAULT_METRICS_SCRAPER, ICacheEndpoint, IClientAccessible, IDatabaseEndpoint, IMetricsTarget, IQueueBroker, MetricsEndpoint, PodPeer,
} from '../core/endpoints';
import { containerContract, ImageContract } from '../core/image-contract';
import { KNOWN_METRICS } from '../core/known-metrics';
import { commonLabels, imageVersion, namespaceOf, requireSameNamespace, resourceName, selectorLabels } from '../core/names';
import {
  autoscaledDeploymentSpec, ContainerResources, deploymentAutoscaler, disruptionBudget, fixedResources, guidesScalingBehavior,
  resolveResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, Placement, utilizationMetric, withEphemeralStorage,
} from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import {
  annotateServiceAccount, applyPodOptions, hasServiceAccountAnnotations, mergePodOptions, PodOptions, resolvePodOptions,
} from '../core/pod-options';
import { validateProps } from '../core/prop-validation';
import { SecretKeyRef } from '../core/secret-refs';
import { servicePoolBounds } from '../core/service-pools';
import {
  parseQuantity, pinnedImage, propError, requireDnsLabel, requireIntInRange, requireOneOf, requirePinnedPeer,
  requirePort, requireReplicaRange, requireWholeDuration,
} from '../core/validation';
import { WiringEnv, wiringEnv } from '../core/wiring-env';
import { bullmqWaitList, queueEnv, ResolvedQueues, resolveQueues, WorkerQueueProps } from './queues';

export * from './queues';

export type WorkerAutoscalerKind = 'keda' | 'cpu';
const AUTOSCALER_KINDS: WorkerAutoscalerKind[] = ['keda', 'cpu'];

/** How long a failed job waits before its next run. */
export interface JobBackoff {
  /** 'exponential' doubles the delay at each retry; 'fixed' keeps it. */
  readonly type: 'fixed' | 'exponential';
  /** The delay before the first retry. */
  readonly delay: Duration;
}

/** A job the pool's CronJob enqueues on a schedule (Celery beat's periodic task, without a long-running beat). */
export interface WorkerSchedule {
  /** When to run, in `timeZone`: five cron fields or a macro such as '@daily'. */
  readonly cron: string;
  /** The job's name, as the workers' handlers know it. */
  readonly name: string;
  /** The job's data. @default {} */
  readonly data?: Record<string, unknown>;
  /** The queue to add the job to, one the pool serves. @default - the pool's first queue */
  readonly queue?: string;
  /** IANA time zone of `cron`. @default 'Etc/UTC' */
  readonly timeZone?: string;
  /** How late a missed run may still start (after a controller outage) before it is skipped. @default Duration.minutes(5) */
  readonly startingDeadline?: Duration;
}

/** Props of a {@link WorkerPool}; the queues, and their key prefix, are in {@link WorkerQueueProps}. */
export interface WorkerPoolProps extends WorkerQueueProps {
  /** Container image of the workers, pinned by a tag other than `latest` or by digest. */
  readonly image: string;
  /** Digest of `image` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly imageDigest?: string;
  /** Command of the worker container. @default - the image's entrypoint */
  readonly command?: string[];
  /** Jobs each worker pod runs at once, per queue without a concurrency of its own (`WORKER_CONCURRENCY`). @default 1 */
  readonly concurrency?: number;
  /** Runs of a failing job before it goes to the failed set (`JOB_ATTEMPTS`). @default 3 */
  readonly attempts?: number;
  /** Delay between runs of a failing job. @default - exponential from 1 second */
  readonly backoff?: JobBackoff;
  /** A run taking longer fails, and is retried while attempts remain (`JOB_TIMEOUT_MS`). @default Duration.minutes(5) */
  readonly jobTimeout?: Duration;
  /** Resident memory, in percent of the container's memory limit, past which a worker finishes its jobs and exits for a fresh start. @default 80 */
  readonly maxRssPercent?: number;
  /** Jobs enqueued on a schedule, by id: one CronJob each. @default {} */
  readonly schedules?: Record<string, WorkerSchedule>;
  /** Command a schedule's CronJob runs, followed by `<queue> <name> <json data>`. @default ['node', 'service/dist/enqueue.js'] */
  readonly enqueueCommand?: string[];
  /** The Redis holding the queues (a RedisCluster in any mode), with `maxmemoryPolicy` 'noeviction' so no job or lock is evicted. */
  readonly broker: IQueueBroker;
  /**
   * The cache the workers' jobs use, when it is not the broker: it gets the `REDIS_*` env and the broker
   * `QUEUE_REDIS_*`, so a cache that evicts never holds a job.
   * @default - the broker is the workers' only Redis, in `REDIS_*`
   */
  readonly cache?: ICacheEndpoint;
  /** The PostgreSQL the workers use. @default - no database env and no database egress */
  readonly database?: IDatabaseEndpoint;
  /** 'keda' scales on the queues' waiting jobs (KEDA ScaledObject); 'cpu' on CPU (HorizontalPodAutoscaler), for clusters without KEDA. @default 'keda' */
  readonly autoscalerKind?: WorkerAutoscalerKind;
  /** Fewest workers; 0 (with 'keda') stops every worker while the queues are empty. @default 1 */
  readonly minReplicas?: number;
  /** Most workers. @default 10 */
  readonly maxReplicas?: number;
  /** Waiting jobs per worker the 'keda' autoscaler aims for, per queue (KEDA `listLength`). @default 20 */
  readonly backlogPerReplica?: number;
  /** Average CPU utilization (percent of requests) the 'cpu' autoscaler aims for. @default 70 */
  readonly cpuUtilization?: number;
  /** How often KEDA reads the queues' lengths. @default Duration.seconds(15) */
  readonly pollingInterval?: Duration;
  /** Time from SIGTERM to SIGKILL, for the jobs in hand to finish; longer than `jobTimeout`. @default - `jobTimeout` + 30 s */
  readonly terminationGracePeriod?: Duration;
  /** Port the workers serve Prometheus metrics on (the liveness probe asks it too). @default 9100 */
  readonly metricsPort?: number;
  /** HTTP path of the Prometheus metrics. @default '/metrics' */
  readonly metricsPath?: string;
  /** Requests and limits of the worker container. @default - 250m / 256Mi requested, 1 CPU / 1Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** Whether workers spread over zones and nodes as a preference or as a rule that leaves a pod pending. @default 'preferred' */
  readonly placement?: Placement;
  /** Plain env vars; names that look like credentials are refused (use `secretEnv`). @default {} */
  readonly env?: Record<string, string>;
  /** Env vars read from Secrets. @default {} */
  readonly secretEnv?: Record<string, SecretKeyRef>;
  /** A guide whose unprefixed metric names the reference worker serves beside its own (`GUIDE_METRICS`): bet-intel's `celery_task_duration_seconds`, `celery_workers_active`. @default - not served */
  readonly guideMetrics?: GuideMetrics;
  /** Env var names under which the image also gets facts of the wiring (database, cache, broker, autoscaler), e.g. Celery's `CELERY_BROKER_URL` (`queueUrl`). @default - none */
  readonly wiringEnv?: WiringEnv;
  /** Pods allowed to scrape the metrics port. @default - pods labelled app.kubernetes.io/name=prometheus in the namespace 'monitoring' (a namespaceSelector must pin kubernetes.io/metadata.name) */
  readonly metricsScraper?: PodPeer;
  /** Pods of the KEDA operator, admitted to the broker to read the queue. @default - pods labelled app.kubernetes.io/name=keda-operator in the namespace 'keda' (a namespaceSelector must pin kubernetes.io/metadata.name) */
  readonly kedaOperator?: PodPeer;
  /** User id the container runs as. @default 10001 */
  readonly runAsUser?: number;
  /** Pod options of the workers and the schedules' CronJobs: node pools, tolerations, priority, pull Secrets, labels, annotations, ServiceAccount annotations. @default - none */
  readonly pod?: PodOptions;
  /** Pod options of the schedules' CronJobs only, laid over `pod`; ServiceAccount annotations here give them a ServiceAccount of their own. @default - `pod` */
  readonly jobPod?: PodOptions;
}


/** KEDA's Helm chart labels its operator pods so. */
export const DEFAULT_KEDA_OPERATOR: PodPeer = {
  podSelector: { 'app.kubernetes.io/name': 'keda-operator' },
  namespaceSelector: { 'kubernetes.io/metadata.name': 'keda' },
};

/** The label the Job controller puts on a Job's pods, holding the Job's name (Kubernetes 1.27+). */
const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';

/** A schedule with its defaults applied. */
export interface ResolvedSchedule {
  readonly id: string;
  readonly cron: string;
  readonly queue: string;
  readonly name: string;
  readonly data: Record<string, unknown>;
  readonly timeZone: string;
  readonly startingDeadlineSeconds: number;
}

/** Every setting of a {@link WorkerPool}, validated and defaulted. */
export interface WorkerPoolSettings extends ResolvedQueues {
  readonly image: string;
  /** Command of the worker container; undefined runs the image's entrypoint. */
  readonly command?: string[];
  readonly concurrency: number;
  readonly attempts: number;
  readonly backoff: { readonly type: 'fixed' | 'exponential'; readonly delayMs: number };
  readonly jobTimeoutMs: number;
  readonly maxRssBytes: number;
  readonly schedules: ResolvedSchedule[];
  readonly enqueueCommand: string[];
  readonly autoscalerKind: WorkerAutoscalerKind;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly backlogPerReplica: number;
  readonly cpuUtilization: number;
  readonly pollingSeconds: number;
  readonly gracePeriodSeconds: number;
  readonly metricsPort: number;
  readonly metricsPath: string;
  readonly placement: Placement;
  readonly resources: k8s.ResourceRequirements;
  readonly runAsUser: number;
  /** Pod options of the workers. */
  readonly pod: PodOptions;
  /** Pod options of the schedules' pods: `pod` with `jobPod` laid over it. */
  readonly jobPod: PodOptions;
  /** Whether `jobPod` annotates a ServiceAccount, so the schedules get their own. */
  readonly ownJobServiceAccount: boolean;
  /** The Redis holding the queues. */
  readonly broker: IQueueBroker;
  /** The linked broker, database and cache: their env goes into the workers, their ports into the egress rules. */
  readonly backends: IClientAccessible[];
  /** The worker container's env: queues, job policy, the backends' contracts, the wiring's facts, then the user's vars. */
  readonly env: k8s.EnvVar[];
  /** Pods admitted to the metrics port. */
  readonly metricsScraper: PodPeer;
  /** Pods of the KEDA operator, admitted to the broker ('keda' only). */
  readonly kedaOperator?: PodPeer;
}

const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** Validates and defaults the props of the WorkerPool at `scope`: unknown props first, then each value; throws naming the prop. */
export function resolveWorkerPoolSettings(scope: Construct, props: WorkerPoolProps): WorkerPoolSettings {
  validateProps(scope, 'WorkerPoolProps', props);
  // KEDA reads the broker's password Secret from the ScaledObject's namespace too.
  for (const link of ['broker', 'cache', 'database'] as const) requireSameNamespace(scope, link, props[link]);
  const queues = resolveQueues(scope, props, props.broker);
  requireQueueSafeBroker(scope, props.broker);
  const autoscalerKind = requireOneOf(scope, 'autoscalerKind', props.autoscalerKind ?? 'keda', AUTOSCALER_KINDS);
  // An HPA cannot scale to zero; KEDA can, and wakes the pool when a job arrives.
  const minReplicas = requireIntInRange(scope, 'minReplicas', props.minReplicas ?? 1, autoscalerKind === 'keda' ? 0 : 1, 1000);
  const maxReplicas = requireIntInRange(scope, 'maxReplicas', props.maxReplicas ?? 10, 1, 1000);
  requireReplicaRange(scope, minReplicas, maxReplicas);
  const resourceValues = { cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi', ...props.resources };
  const resources = resolveResources(scope, 'resources', props.resources, resourceValues);
  const maxRssPercent = requireIntInRange(scope, 'maxRssPercent', props.maxRssPercent ?? 80, 10, 100);
  const jobPolicy = resolveJobPolicy(scope, props);
  const settings = {
    image: pinnedImage(scope, 'image', props.image, props.imageDigest),
    ...(props.command ? { command: props.command } : {}),
    ...queues,
    ...jobPolicy,
    maxRssBytes: Math.floor(parseQuantity(resourceValues.memoryLimit)! * maxRssPercent / 100),
    schedules: resolveSchedules(scope, props.schedules ?? {}, queues.queues),
    enqueueCommand: props.enqueueCommand ?? ['node', 'service/dist/enqueue.js'],
    autoscalerKind, minReplicas, maxReplicas,
    backlogPerReplica: requireIntInRange(scope, 'backlogPerReplica', props.backlogPerReplica ?? 20, 1, 1_000_000),
    cpuUtilization: requireIntInRange(scope, 'cpuUtilization', props.cpuUtilization ?? 70, 1, 100),
    pollingSeconds: requireWholeDuration(scope, 'pollingInterval', props.pollingInterval ?? Duration.seconds(15), 'seconds', 1, 3600),
    gracePeriodSeconds: resolveGracePeriod(scope, props, jobPolicy.jobTimeoutMs),
    metricsPort: requirePort(scope, 'metricsPort', props.metricsPort ?? 9100),
    metricsPath: props.metricsPath ?? '/metrics',
    placement: requireOneOf(scope, 'placement', props.placement ?? 'preferred', ['preferred', 'required']),
    resources,
    runAsUser: props.runAsUser ?? 10001,
    ...resolveWorkerPodOptions(scope, props),
  };
  return { ...settings, ...resolveWorkerLinks(scope, props, settings) };
}

type WorkerLinks = Pick<WorkerPoolSettings, 'broker' | 'backends' | 'env' | 'metricsScraper' | 'kedaOperator'>;

/** The backends (the broker under `QUEUE_REDIS_*` when a cache of its own takes `REDIS_*`), the env and the admitted peers. */
function resolveWorkerLinks(scope: Construct, props: WorkerPoolProps, s: Omit<WorkerPoolSettings, keyof WorkerLinks>): WorkerLinks {
  const ownCache = props.cache !== undefined && props.cache !== props.broker;
  const queueLink = ownCache ? prefixedLink(props.broker, QUEUE_ENV_PREFIX) : undefined;
  const backends: IClientAccessible[] = [queueLink ?? props.broker, props.database, props.cache].filter(b => b !== undefined);
  // The env `wiringEnv` asks for: `REDIS_*` is the cache's (the broker's without a cache of its own), `QUEUE_REDIS_*` the broker's beside a cache.
  const facts = wiringEnv(scope, props.wiringEnv ?? {}, {
    database: props.database, cache: queueLink ? props.cache : props.broker, queueEnv: queueLink?.clientEnv,
    minReplicas: s.minReplicas, maxReplicas: s.maxReplicas, cpuUtilization: s.autoscalerKind === 'cpu' ? s.cpuUtilization : undefined,
  });
  const env = containerEnv(scope, [
    ...queueEnv(s),
    { name: 'WORKER_CONCURRENCY', value: String(s.concurrency) },
    { name: 'JOB_ATTEMPTS', value: String(s.attempts) },
    { name: 'JOB_BACKOFF_TYPE', value: s.backoff.type },
    { name: 'JOB_BACKOFF_DELAY_MS', value: String(s.backoff.delayMs) },
    { name: 'JOB_TIMEOUT_MS', value: String(s.jobTimeoutMs) },
    { name: 'WORKER_MAX_RSS_BYTES', value: String(s.maxRssBytes) },
    // The worker gives up on its jobs (they stall, and another worker retries them) just before the kubelet's SIGKILL.
    { name: 'SHUTDOWN_TIMEOUT_MS', value: String(Math.max(s.gracePeriodSeconds * 1000 - 5000, 1000)) },
    { name: 'METRICS_PORT', value: String(s.metricsPort) },
    ...guideMetricsEnv(scope, props.guideMetrics),
  ], backends, props.env ?? {}, props.secretEnv ?? {}, facts);
  return {
    broker: props.broker, backends, env,
    metricsScraper: requirePinnedPeer(scope, 'metricsScraper', props.metricsScraper ?? DEFAULT_METRICS_SCRAPER),
    ...(s.autoscalerKind === 'keda' ? { kedaOperator: requirePinnedPeer(scope, 'kedaOperator', props.kedaOperator ?? DEFAULT_KEDA_OPERATOR) } : {}),
  };
}

/**
 * The grace period must outlast a job: a job cut by scale-in is stalled, and with BullMQ's
 * maxStalledCount of 1 a job cut twice fails for good.
 */
function resolveGracePeriod(scope: Construct, props: WorkerPoolProps, jobTimeoutMs: number): number {
  const jobSeconds = Math.ceil(jobTimeoutMs / 1000);
  const given = props.terminationGracePeriod;
  const seconds = requireWholeDuration(scope, 'terminationGracePeriod', given ?? Duration.seconds(jobSeconds + 30), 'seconds', 1, 86_400);
  const violation = nestedDurationViolation({
    inner: `'jobTimeout' (${jobSeconds}s)`, innerSeconds: jobSeconds, outer: `'terminationGracePeriod' (${seconds}s)`, outerSeconds: seconds,
    because: 'scale-in would kill jobs mid-run, and a job cut twice fails for good (BullMQ maxStalledCount 1)',
  });
  if (violation) throw new Error(`${scope.node.path}: ${violation}`);
  return seconds;
}

function resolveWorkerPodOptions(scope: Construct, props: WorkerPoolProps): Pick<WorkerPoolSettings, 'pod' | 'jobPod' | 'ownJobServiceAccount'> {
  const pod = resolvePodOptions(scope, 'pod', props.pod);
  const jobPod = resolvePodOptions(scope, 'jobPod', props.jobPod);
  return { pod, jobPod: mergePodOptions(pod, jobPod), ownJobServiceAccount: hasServiceAccountAnnotations(jobPod) };
}
/**
 * BullMQ requires 'noeviction': its job hashes and queue lists carry no TTL ('allkeys-*' loses jobs
 * without a trace) and its job locks do ('volatile-*' evicts a lock, and the job runs twice).
 */
function requireQueueSafeBroker(scope: Construct, broker: IQueueBroker): void {
  if (broker.maxmemoryPolicy !== 'noeviction') {
    throw propError(scope, 'broker', broker.node.path,
      `has maxmemoryPolicy '${broker.maxmemoryPolicy}'; a queue's Redis must have 'noeviction' (BullMQ's jobs carry no TTL and its locks do, `
      + 'so \'allkeys-*\' loses jobs and \'volatile-*\' loses locks): give the queue a RedisCluster of its own with maxmemoryPolicy \'noeviction\'');
  }
}

function resolveJobPolicy(scope: Construct, props: WorkerPoolProps): Pick<WorkerPoolSettings, 'concurrency' | 'attempts' | 'backoff' | 'jobTimeoutMs'> {
  const backoff = props.backoff ?? { type: 'exponential', delay: Duration.seconds(1) };
  return {
    concurrency: requireIntInRange(scope, 'concurrency', props.concurrency ?? 1, 1, 1000),
    attempts: requireIntInRange(scope, 'attempts', props.attempts ?? 3, 1, 100),
    backoff: {
      type: requireOneOf(scope, 'backoff.type', backoff.type, ['fixed', 'exponential']),
      delayMs: requireWholeDuration(scope, 'backoff.delay', backoff.delay, 'milliseconds', 0, 86_400_000),
    },
    jobTimeoutMs: requireWholeDuration(scope, 'jobTimeout', props.jobTimeout ?? Duration.minutes(5), 'milliseconds', 1000, 86_400_000),
  };
}

function resolveSchedules(scope: Construct, schedules: Record<string, WorkerSchedule>, queues: string[]): ResolvedSchedule[] {
  return Object.entries(schedules).map(([id, schedule]) => {
    const prop = `schedules.${id}`;
    requireDnsLabel(scope, prop, id);
    const problem = cronProblem(schedule.cron);
    if (problem) throw propError(scope, `${prop}.cron`, schedule.cron, `must be a cron schedule of 5 fields or a macro such as '@daily': ${problem}`);
    const queue = schedule.queue ?? queues[0];
    if (!queues.includes(queue)) {
      throw propError(scope, `${prop}.queue`, queue, `must be a queue this pool serves: ${queues.map(q => `'${q}'`).join(', ')}`);
    }
    if (!JOB_NAME.test(schedule.name)) throw propError(scope, `${prop}.name`, schedule.name, 'must be 1-100 letters, digits or \'._:-\', starting with a letter or a digit');
    return {
      id, cron: schedule.cron.trim(), queue, name: schedule.name, data: schedule.data ?? {},
      timeZone: schedule.timeZone ?? 'Etc/UTC',
      startingDeadlineSeconds: requireWholeDuration(scope, `${prop}.startingDeadline`, schedule.startingDeadline ?? Duration.minutes(5), 'seconds', 10, 86_400),
    };
  });
}

/**
 * Queue workers on BullMQ: a Deployment taking jobs from one or more queues, scaled on their
 * waiting lists by a KEDA ScaledObject (or on CPU by an HPA where KEDA is not installed), with a
 * PodDisruptionBudget, spread, `restricted` security contexts, a NetworkPolicy that admits only the
 * metrics scraper, and a CronJob per schedule that enqueues a job.
 */
export class WorkerPool extends Construct implements IMetricsTarget {
  /** Name of its objects, `<chart>-<id>`. */
  public readonly name: string;
  /** The queues the workers drain. */
  public readonly queues: string[];
  /** What scales the workers: KEDA on the queues' length, or an HPA on CPU. */
  public readonly autoscalerKind: WorkerAutoscalerKind;
  /** The autoscaler's minimum. */
  public readonly minReplicas: number;
  /** The autoscaler's maximum, which connection budgets count. */
  public readonly maxReplicas: number;
  /** Waiting jobs per worker the KEDA autoscaler aims for. */
  public readonly backlogPerReplica: number;
  /** The port of the workers' `/metrics`. */
  public readonly metricsPort: number;
  /** Labels of the worker pods. */
  public readonly podSelector: Record<string, string>;
  /** The workers' `/metrics`, for Observability. */
  public readonly metricsEndpoints: MetricsEndpoint[];

  /** The worker pods' ServiceAccount (no token mounted). */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The workers' Deployment. */
  public readonly deployment: k8s.KubeDeployment;
  /** The workers' PodDisruptionBudget. */
  public readonly disruptionBudget: k8s.KubePodDisruptionBudget;
  /** The workers' NetworkPolicy: each link opens its port here. */
  public readonly networkPolicy: PodNetworkPolicy;
  /** The KEDA ScaledObject ('keda'). */
  public readonly scaledObject?: ApiObject;
  /** The KEDA TriggerAuthentication that hands the broker's password to the scaler ('keda'). */
  public readonly triggerAuthentication?: ApiObject;
  /** The HorizontalPodAutoscaler ('cpu'; with 'keda', KEDA creates one of the same name). */
  public readonly cpuAutoscaler?: k8s.KubeHorizontalPodAutoscalerV2;
  /** One CronJob per schedule, by schedule id. */
  public readonly cronJobs: Record<string, k8s.KubeCronJob>;
  /** The NetworkPolicy of the schedules' pods (when there are schedules). */
  public readonly scheduleNetworkPolicy?: PodNetworkPolicy;
  /** The schedules' own ServiceAccount, made only when `jobPod.serviceAccountAnnotations` asks for one; else they run as the workers'. */
  public readonly scheduleServiceAccount?: k8s.KubeServiceAccount;

  private readonly settings: WorkerPoolSettings;
  private readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: WorkerPoolProps) {
    super(scope, id);
    this.name = resourceName(this);
    this.settings = resolveWorkerPoolSettings(this, props);
    const { broker, backends } = this.settings;
    ({ queues: this.queues, autoscalerKind: this.autoscalerKind, minReplicas: this.minReplicas, maxReplicas: this.maxReplicas } = this.settings);
    ({ backlogPerReplica: this.backlogPerReplica, metricsPort: this.metricsPort } = this.settings);
    this.labels = commonLabels(this, 'worker', 'worker', imageVersion(this.settings.image));
    this.podSelector = selectorLabels(this, 'worker');

    this.serviceAccount = this.createServiceAccount();
    this.deployment = this.createDeployment();
    annotateServiceAccount(this.serviceAccount, this.settings.pod.serviceAccountAnnotations);
    applyPodOptions(this, 'pod', this.deployment, this.settings.pod);
    if (this.settings.kedaOperator) { // resolved for 'keda' only
      this.triggerAuthentication = this.createTriggerAuthentication();
      this.scaledObject = this.createScaledObject();
      broker.allowClient(this.settings.kedaOperator);
    } else {
      this.cpuAutoscaler = this.createCpuAutoscaler();
    }
    this.disruptionBudget = this.createDisruptionBudget();
    this.networkPolicy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels: this.labels });
    backends.forEach(backend => this.networkPolicy.connectTo(backend));
    if (this.settings.schedules.length > 0) this.scheduleNetworkPolicy = this.createScheduleNetworkPolicy();
    this.scheduleServiceAccount = this.createScheduleServiceAccount();
    this.cronJobs = this.createCronJobs();
    this.metricsEndpoints = this.createMetricsEndpoints();
    // The workers run the service's pools with its defaults (10 to the primary, 10 to each replica).
    props.database?.addConnectionPool({ client: this.node.path, maxPods: this.maxReplicas, ...servicePoolBounds(this) });
    this.allowScraper(this.settings.metricsScraper);
  }

  /**
   * What these workers give their image (env, ports, writable paths) and expect of it (the liveness
   * path on the metrics port, the metric names Observability reads, and the enqueue command the
   * schedules run); docs/image-contract.md.
   */
  public get imageContract(): ImageContract {
    const metrics = { port: this.metricsPort, path: this.settings.metricsPath, names: KNOWN_METRICS['hscale-worker'] };
    return containerContract(this.deployment, { metrics, ...(this.settings.schedules.length > 0 ? { enqueueCommand: this.settings.enqueueCommand } : {}) });
  }

  /** Admits pods matching `scraper` on the metrics port. */
  public allowScraper(scraper: PodPeer): void {
    this.networkPolicy.allowIngressFrom(scraper, [this.metricsPort]);
  }

  private metadata(name: string, labels = this.labels): k8s.ObjectMeta {
    return { name, labels, namespace: namespaceOf(this) };
  }

  private createServiceAccount(): k8s.KubeServiceAccount {
    return new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: this.metadata(this.name), automountServiceAccountToken: false });
  }

  private createDeployment(): k8s.KubeDeployment {
    const s = this.settings;
    const probe = (periodSeconds: number, failureThreshold: number): k8s.Probe => ({
      httpGet: { path: s.metricsPath, port: k8s.IntOrString.fromString('metrics') }, periodSeconds, timeoutSeconds: 5, failureThreshold,
    });
    return new k8s.KubeDeployment(this, 'Deployment', {
      metadata: this.metadata(this.name),
      spec: autoscaledDeploymentSpec({
        podSelector: this.podSelector, labels: this.labels, serviceAccountName: this.serviceAccount.name,
        // A worker stops taking jobs at SIGTERM and finishes the ones it holds within the grace period.
        runAsUser: s.runAsUser, gracePeriodSeconds: s.gracePeriodSeconds, placement: s.placement,
        container: {
          name: 'worker',
          image: s.image,
          ...(s.command ? { command: s.command } : {}),
          ports: [{ name: 'metrics', containerPort: s.metricsPort, protocol: 'TCP' }],
          env: s.env,
          resources: s.resources,
          // Workers serve no traffic: liveness (a stuck event loop stops answering) is the probe that matters.
          // The reference worker answers /metrics before it migrates; the startup probe gives a slow first
          // start (an image loading much code under its CPU limit) 3 minutes before liveness may kill it.
          startupProbe: probe(5, 36),
          livenessProbe: probe(15, 4),
          readinessProbe: probe(10, 3),
        },
      }),
    });
  }

  private createTriggerAuthentication(): ApiObject {
    return new ApiObject(this, 'TriggerAuthentication', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: this.metadata(`${this.name}-broker`),
      // KEDA's own Redis user, which may read the length of the queues' lists and nothing else.
      spec: { secretTargetRef: this.settings.broker.scalerCredentials },
    });
  }

  /** One trigger per queue, on BullMQ's wait list; KEDA scales to the largest of their demands. */
  private createScaledObject(): ApiObject {
    return new ApiObject(this, 'ScaledObject', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: this.metadata(this.name),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.name },
        pollingInterval: this.settings.pollingSeconds,
        // Scale to zero only after five calm minutes, as the HPA scales down.
        cooldownPeriod: 300,
        minReplicaCount: this.minReplicas,
        maxReplicaCount: this.maxReplicas,
        advanced: {
          // The HPA KEDA creates takes the pool's name, so alerts select it like the API's.
          horizontalPodAutoscalerConfig: { name: this.name, behavior: guidesScalingBehavior() },
        },
        triggers: this.queues.map(queue => ({
          ...this.settings.broker.listLengthTrigger(bullmqWaitList(queue, this.settings.queuePrefix), this.backlogPerReplica),
          authenticationRef: { name: `${this.name}-broker` },
        })),
      },
    });
  }

  private createCpuAutoscaler(): k8s.KubeHorizontalPodAutoscalerV2 {
    return deploymentAutoscaler(this, this.metadata(this.name), this.deployment, {
      minReplicas: this.minReplicas, maxReplicas: this.maxReplicas,
      metrics: [utilizationMetric('cpu', this.settings.cpuUtilization)], behavior: guidesScalingBehavior(),
    });
  }

  private createDisruptionBudget(): k8s.KubePodDisruptionBudget {
    // maxUnavailable, not minAvailable: a pool scaled to zero or one must still let nodes drain.
    return disruptionBudget(this, 'DisruptionBudget', this.metadata(this.name), this.podSelector);
  }

  /** The schedules' pods reach the broker and DNS only, and admit nothing. */
  private createScheduleNetworkPolicy(): PodNetworkPolicy {
    const policy = new PodNetworkPolicy(this, 'ScheduleNetworkPolicy', {
      role: 'schedule',
      podSelector: selectorLabels(this, 'schedule'),
      labels: commonLabels(this, 'worker', 'schedule', imageVersion(this.settings.image)),
    });
    policy.connectTo(this.settings.broker);
    return policy;
  }

  /** The schedules' own ServiceAccount, when `jobPod` annotates one; it mounts no token, like their pods. */
  private createScheduleServiceAccount(): k8s.KubeServiceAccount | undefined {
    const { schedules, jobPod, ownJobServiceAccount, image } = this.settings;
    if (!ownJobServiceAccount || schedules.length === 0) return undefined;
    return new k8s.KubeServiceAccount(this, 'ScheduleServiceAccount', {
      metadata: { ...this.metadata(`${this.name}-schedule`, commonLabels(this, 'worker', 'schedule', imageVersion(image))), annotations: jobPod.serviceAccountAnnotations },
      automountServiceAccountToken: false,
    });
  }

  /** One CronJob per schedule, their pods under `jobPod`. */
  private createCronJobs(): Record<string, k8s.KubeCronJob> {
    return Object.fromEntries(this.settings.schedules.map(schedule => {
      const cronJob = this.createCronJob(schedule);
      applyPodOptions(this, 'jobPod', cronJob, this.settings.jobPod, { serviceAccountName: this.scheduleServiceAccount?.name });
      return [schedule.id, cronJob];
    }));
  }

  /**
   * A CronJob that adds one job and exits: no long-running scheduler, so none needs a leader.
   * Forbid keeps a slow run from overlapping the next; a pod retried after a failure adds no
   * second job, since the job id comes from the Job's name (`ENQUEUE_RUN_ID`).
   */
  private createCronJob(schedule: ResolvedSchedule): k8s.KubeCronJob {
    const labels = commonLabels(this, 'worker', 'schedule', imageVersion(this.settings.image));
    const name = `${this.name}-${schedule.id}`;
    // A CronJob's name gets a timestamp suffix for its Jobs: Kubernetes allows it 52 characters.
    if (name.length > 52) throw propError(this, `schedules.${schedule.id}`, schedule.id, `makes the CronJob name '${name}' longer than 52 characters`);
    return new k8s.KubeCronJob(this, `Schedule-${schedule.id}`, {
      metadata: this.metadata(name, labels),
      spec: {
        schedule: schedule.cron,
        timeZone: schedule.timeZone,
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: schedule.startingDeadlineSeconds,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 300,
            ttlSecondsAfterFinished: 86_400,
            template: { metadata: { labels }, spec: this.schedulePodSpec(schedule) },
          },
        },
      },
    });
  }

  private schedulePodSpec(schedule: ResolvedSchedule): k8s.PodSpec {
    return withEphemeralStorage({
      restartPolicy: 'Never',
      serviceAccountName: this.serviceAccount.name,
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurityContext(this.settings.runAsUser),
      containers: [{
        name: 'enqueue',
        image: this.settings.image,
        imagePullPolicy: 'IfNotPresent',
        command: this.settings.enqueueCommand,
        args: [schedule.queue, schedule.name, JSON.stringify(schedule.data)],
        // The Job's name is `<cronjob>-<scheduled minute>`: the same for a retried pod, so the enqueue adds one job per scheduled run.
        env: containerEnv(this, [{ name: 'ENQUEUE_RUN_ID', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${JOB_NAME_LABEL}']` } } }], [this.settings.broker], {}, {}),
        resources: fixedResources('50m', '64Mi', '500m', '256Mi'),
        securityContext: restrictedContainerSecurityContext(),
      }],
    });
  }

  private createMetricsEndpoints(): MetricsEndpoint[] {
    const keda = this.autoscalerKind === 'keda';
    return [{
      exporter: 'hscale-worker',
      workloadName: this.name,
      podSelector: this.podSelector,
      portName: 'metrics',
      port: this.metricsPort,
      path: this.settings.metricsPath,
      ...(keda ? { queue: { name: this.queues.join(','), scaledObject: this.name, backlogLimit: this.backlogPerReplica * this.maxReplicas } } : {}),
      ...(this.settings.schedules.length > 0 ? { cronJobs: Object.values(this.cronJobs).map(cronJob => cronJob.name) } : {}),
    }];
  }
}
