import { Construct } from 'constructs';
import { ScaledApi, ScaledApiProps } from './api/scaled-api';
import { IMetricsTarget, ISecretConsumer } from './core/endpoints';
import { mergePodOptions, PodOptions, resolvePodOptions } from './core/pod-options';
import { validateProps } from './core/prop-validation';
import { propError, requireDnsLabel } from './core/validation';
import { LoadBalancer, LoadBalancerProps } from './load-balancer/load-balancer';
import { Observability, ObservabilityProps } from './observability/observability';
import { PgReplicaSet, PgReplicaSetProps } from './postgres/pg-replica-set';
import { RedisCluster, RedisClusterProps } from './redis/redis-cluster';
import { GeneratedSecrets } from './secrets/generated-secrets';
import { WorkerPool, WorkerPoolProps, workerQueuesEnv } from './workers/worker-pool';

const TIER_IDS = ['db', 'cache', 'queue', 'api', 'lb', 'obs', 'secrets'];

/** Props of a {@link HorizontalScalingTopology}. */
export interface HorizontalScalingTopologyProps {
  /** Container image of the API, pinned by a tag other than `latest` or by digest. */
  readonly image: string;
  /** Digest of the API's `image` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly imageDigest?: string;
  /** The API tier, beyond its image and backends. @default - ScaledApi's defaults: 3 to 20 pods on CPU 70% */
  readonly api?: Omit<ScaledApiProps, 'image' | 'imageDigest' | 'database' | 'cache'>;
  /** The PostgreSQL tier to create. @default - PgReplicaSet's defaults: a primary and 2 streaming replicas */
  readonly database?: PgReplicaSetProps;
  /** A PostgreSQL tier made elsewhere (e.g. shared with another chart), instead of `database`. @default - one is created */
  readonly existingDatabase?: PgReplicaSet;
  /** The Redis tier to create. @default - RedisCluster's defaults: 3 masters and 3 replicas */
  readonly cache?: RedisClusterProps;
  /** A Redis tier made elsewhere, instead of `cache`. @default - one is created */
  readonly existingCache?: RedisCluster;
  /** The workers' queue Redis to create, which must never evict. @default - with workers, a master, a replica and 3 Sentinels with 'noeviction' */
  readonly queue?: RedisClusterProps;
  /** A queue Redis made elsewhere, instead of `queue`. @default - one is created when there are workers */
  readonly existingQueue?: RedisCluster;
  /** The nginx tier, beyond its backend. @default - LoadBalancer's defaults */
  readonly loadBalancer?: Omit<LoadBalancerProps, 'backend'>;
  /** Worker pools by id, each on the topology's queue Redis (as broker), cache and PostgreSQL. @default - none */
  readonly workers?: Record<string, Omit<WorkerPoolProps, 'broker' | 'cache' | 'database'>>;
  /** Monitoring of every tier, beyond its targets; `false` leaves it out. @default - Observability's defaults (prometheus-operator) */
  readonly observability?: Omit<ObservabilityProps, 'targets'> | false;
  /**
   * Create the Secrets of the tiers made here (database credentials, Redis password, Grafana
   * admin) with random values in a one-shot Job, unless they exist; `false` leaves them to you.
   * @default true
   */
  readonly generateSecrets?: boolean;
  /**
   * Pod options every tier's pods start from (a private registry's pull Secret, a node pool, a
   * priority ...); a tier's own `pod` is laid over them. Tiers that make no pods of ours (a
   * Gateway, prometheus-operator) take none. @default - none
   */
  readonly pod?: PodOptions;
}


/** The queue's Redis: BullMQ requires 'noeviction', and a Sentinel-managed replica keeps the jobs through a node's loss. */
const QUEUE_DEFAULTS: RedisClusterProps = { mode: 'sentinel', replicas: 1, sentinels: 3, maxmemoryPolicy: 'noeviction' };

/** A tier's props with the topology's pod options under its own `pod`; the props as given when there are none. */
function withPod<T extends { readonly pod?: PodOptions }>(defaults: PodOptions | undefined, tier: T | undefined): T | undefined {
  if (defaults === undefined) return tier;
  return { ...tier, pod: mergePodOptions(defaults, tier?.pod) } as T;
}

/**
 * The whole topology of the guides in one construct: nginx in front of an autoscaled API on a
 * PostgreSQL primary with streaming replicas and a Redis Cluster, optional queue workers, and
 * monitoring of all of it. Each tier is a public member, for reaching in.
 */
export class HorizontalScalingTopology extends Construct {
  /** The PgReplicaSet it made, or `existingDatabase`. */
  public readonly database: PgReplicaSet;
  /** The RedisCluster of the cache it made, or `existingCache`. */
  public readonly cache: RedisCluster;
  /** The workers' queue Redis (when there are workers). */
  public readonly queue?: RedisCluster;
  /** The ScaledApi. */
  public readonly api: ScaledApi;
  /** The LoadBalancer in front of the API. */
  public readonly loadBalancer: LoadBalancer;
  /** The WorkerPools, one per entry of `workers`. */
  public readonly workers: WorkerPool[];
  /** The Observability, unless `observability` is false. */
  public readonly observability?: Observability;
  /** The Job creating the tiers' Secrets (unless `generateSecrets: false`, or no tier made here reads one). */
  public readonly secrets?: GeneratedSecrets;

  constructor(scope: Construct, id: string, props: HorizontalScalingTopologyProps) {
    super(scope, id);
    validateProps(this, 'HorizontalScalingTopologyProps', props);
    const pod = props.pod === undefined ? undefined : resolvePodOptions(this, 'pod', props.pod);
    this.database = this.tier('database', props.database, props.existingDatabase, () => new PgReplicaSet(this, 'db', withPod(pod, props.database)));
    this.cache = this.tier('cache', props.cache, props.existingCache, () => new RedisCluster(this, 'cache', withPod(pod, props.cache)));
    const hasWorkers = Object.keys(props.workers ?? {}).length > 0;
    this.queue = hasWorkers || props.queue || props.existingQueue
      ? this.tier('queue', props.queue, props.existingQueue, () => new RedisCluster(this, 'queue', withPod(pod, { ...QUEUE_DEFAULTS, ...props.queue })))
      : undefined;
    // The API enqueues for every pool's queues (POST /api/v1/jobs), on the queue's Redis.
    const env = { ...workerQueuesEnv(Object.values(props.workers ?? {})), ...props.api?.env };
    this.api = new ScaledApi(this, 'api', {
      ...withPod(pod, props.api), env, image: props.image, imageDigest: props.imageDigest, database: this.database, cache: this.cache, queueBroker: this.queue,
    });
    const nginx = (props.loadBalancer?.mode ?? 'nginx') === 'nginx';
    this.loadBalancer = new LoadBalancer(this, 'lb', { ...withPod(nginx ? pod : undefined, props.loadBalancer), backend: this.api });
    this.workers = this.createWorkers(props.workers ?? {}, pod);
    if (props.observability !== false) {
      const targets: IMetricsTarget[] = [this.api, this.database, this.cache, ...(this.queue ? [this.queue] : []), this.loadBalancer, ...this.workers];
      const standalone = props.observability?.mode === 'standalone';
      this.observability = new Observability(this, 'obs', { ...withPod(standalone ? pod : undefined, props.observability), targets });
    }
    this.secrets = props.generateSecrets === false ? undefined : this.generateSecrets(props, pod);
  }

  /** One pool per id, on the queue's Redis as broker, the cache and the database. */
  private createWorkers(workers: NonNullable<HorizontalScalingTopologyProps['workers']>, pod: PodOptions | undefined): WorkerPool[] {
    return Object.entries(workers).map(([workerId, worker]) => {
      // The id becomes part of object names, next to the tiers' own.
      requireDnsLabel(this, `workers.${workerId}`, workerId);
      if (TIER_IDS.includes(workerId)) {
        throw propError(this, `workers.${workerId}`, workerId, `is the id of a tier; name worker pools other than ${TIER_IDS.map(t => `'${t}'`).join(', ')}`);
      }
      return new WorkerPool(this, workerId, { ...withPod(pod, worker)!, broker: this.queue!, cache: this.cache, database: this.database });
    });
  }

  /** The Secrets of the tiers created here; those of existing tiers are their owners' to create. */
  private generateSecrets(props: HorizontalScalingTopologyProps, pod: PodOptions | undefined): GeneratedSecrets | undefined {
    const consumers: ISecretConsumer[] = [
      ...(props.existingDatabase ? [] : [this.database]),
      ...(props.existingCache ? [] : [this.cache]),
      ...(this.queue && !props.existingQueue ? [this.queue] : []),
      ...(this.observability ? [this.observability] : []),
    ];
    if (consumers.every(c => c.generatableSecrets.length === 0)) return undefined;
    return new GeneratedSecrets(this, 'secrets', { from: consumers, ...(pod ? { pod } : {}) });
  }

  /** The existing tier, or a new one from its options; both at once is ambiguous. */
  private tier<T>(prop: string, options: object | undefined, existing: T | undefined, create: () => T): T {
    if (options !== undefined && existing !== undefined) {
      const existingProp = `existing${prop[0].toUpperCase()}${prop.slice(1)}`;
      throw propError(this, existingProp, (existing as unknown as Construct).node.path, `must not be given with '${prop}': pass options for a new tier or an existing one, not both`);
    }
    return existing ?? create();
  }
}
