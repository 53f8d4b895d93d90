import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { IConstruct } from 'constructs';
import { SecretKeyRef } from './secret-refs';
import { valuesOf } from './validation';

/** Pods a NetworkPolicy rule talks about: a pod selector, optionally in other namespaces. */
export interface PodPeer {
  /** Labels the pods carry. */
  readonly podSelector: Record<string, string>;
  /**
   * Labels of the namespaces the pods live in; `{}` means every namespace.
   * @default - the policy's own namespace
   */
  readonly namespaceSelector?: Record<string, string>;
}

/** Pods a client must reach, and on which ports. */
export interface NetworkLink {
  readonly peer: PodPeer;
  readonly ports: number[];
}

/**
 * A backend that client pods connect to. Linking a client injects `clientEnv` into its
 * containers, opens egress to `clientLinks`, and calls `allowClient` so the backend's own
 * NetworkPolicy admits it.
 */
export interface IClientAccessible {
  /** Env vars a client container needs, in order (later ones may use `$(EARLIER)`). */
  readonly clientEnv: k8s.EnvVar[];
  /** The pods and ports a client opens connections to. */
  readonly clientLinks: NetworkLink[];
  /** Admits pods matching `client` on the client-facing ports. */
  allowClient(client: PodPeer): void;
}

/**
 * A PostgreSQL primary with read replicas. Injects `DATABASE_URL`, `POSTGRES_READ_REPLICAS`,
 * `PGUSER`, `PGPASSWORD` and `PGDATABASE`, and `POSTGRES_POOL_MODE` when a PgBouncer stands between.
 */
export interface IDatabaseEndpoint extends IClientAccessible {
  /** DNS name of the primary (read-write) Service. */
  readonly primaryHost: string;
  /** `host:port` of every replica pod, by stable DNS name. */
  readonly replicaHosts: string[];
  /** The PostgreSQL port. */
  readonly port: number;
  /** Counts a client's pools in the connection budget, which synth checks at the autoscalers' maxima. */
  addConnectionPool(pool: DatabaseConnectionPool): void;
}

/** The connections a client workload may hold to a PostgreSQL, at its autoscaler's maximum. */
export interface DatabaseConnectionPool {
  /** What holds them, as messages name it (a construct path). */
  readonly client: string;
  /** Pods at the autoscaler's maximum. */
  readonly maxPods: number;
  /** Connections each pod may open to the primary (`PG_POOL_MAX`). */
  readonly primaryPerPod: number;
  /** Connections each pod may open to each replica (`PG_REPLICA_POOL_MAX`). */
  readonly replicaPerPod: number;
}

/**
 * A Redis deployment. Injects `REDIS_CLUSTER_NODES` (cluster), `REDIS_SENTINELS` and
 * `REDIS_SENTINEL_MASTER` and `REDIS_SENTINEL_PASSWORD` (sentinel) or `REDIS_URL` (standalone),
 * and `REDIS_USERNAME` with `REDIS_PASSWORD`.
 */
export interface ICacheEndpoint extends IClientAccessible {
  /** `host:port` of every node clients may contact first. */
  readonly nodes: string[];
  /** Bytes Redis holds before it evicts or refuses writes (maxmemory). @default - unknown */
  readonly maxmemoryBytes?: number;
}

/** An eviction policy Redis 7 accepts for `maxmemory-policy`. */
export type MaxmemoryPolicy =
  | 'noeviction' | 'allkeys-lru' | 'allkeys-lfu' | 'allkeys-random'
  | 'volatile-lru' | 'volatile-lfu' | 'volatile-random' | 'volatile-ttl';
export const MAXMEMORY_POLICIES = valuesOf<MaxmemoryPolicy>({
  'noeviction': true, 'allkeys-lru': true, 'allkeys-lfu': true, 'allkeys-random': true,
  'volatile-lru': true, 'volatile-lfu': true, 'volatile-random': true, 'volatile-ttl': true,
});

/**
 * A Redis holding work queues, described so an autoscaler outside the topology (KEDA)
 * can read a queue's length. Linking workers injects the same env as {@link ICacheEndpoint}.
 */
export interface IQueueBroker extends IClientAccessible, IConstruct {
  /** 'cluster' (nodes are asked directly), 'sentinel' (Sentinels name the master) or 'standalone' (one node). */
  readonly mode: 'cluster' | 'sentinel' | 'standalone';
  /** `host:port` of every Redis node. */
  readonly nodes: string[];
  /** `host:port` of every Sentinel; empty in cluster and standalone mode. */
  readonly sentinelHosts: string[];
  /** The master name the Sentinels know; absent in cluster and standalone mode. */
  readonly masterName?: string;
  /** The Secret key holding the Redis password. */
  readonly passwordSecret: SecretKeyRef;
  /** Queue key prefixes (hash tag included) the broker's `keda` user may read; a pool's `queuePrefix` must be one. */
  readonly queuePrefixes: string[];
  /** What KEDA logs in with, as TriggerAuthentication `secretTargetRef` entries (user name, passwords). */
  readonly scalerCredentials: Array<{ readonly parameter: string; readonly name: string; readonly key: string }>;
  /** What Redis evicts at maxmemory: a queue needs 'noeviction' or a 'volatile-*' policy, which never evicts its keys (they carry no TTL). */
  readonly maxmemoryPolicy: MaxmemoryPolicy;
  /**
   * The KEDA trigger that reads the length of the list `listName` on this broker and asks for a
   * replica per `listLength` entries. The broker builds it because only it knows how its list is
   * reached (through its nodes, through its Sentinels, or on its one node); the caller adds the
   * trigger's authentication.
   */
  listLengthTrigger(listName: string, listLength: number): KedaTrigger;
}

/** A KEDA scaler trigger without its authentication: the scaler's type and metadata. */
export interface KedaTrigger {
  readonly type: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** What a Prometheus scrapes on a construct's pods. */
export interface MetricsEndpoint {
  /**
   * Which kind of exporter answers, so monitoring knows the metric names (`patroni`: Patroni's own REST `/metrics`;
   * `cloudnative-pg`: the CloudNativePG instance manager's `cnpg_*`).
   */
  readonly exporter: 'hscale-service' | 'hscale-worker' | 'postgres-exporter' | 'cloudnative-pg' | 'patroni' | 'redis-exporter' | 'nginx-exporter';
  /** Labels of the pods that serve metrics. */
  readonly podSelector: Record<string, string>;
  /** Name every pod of the endpoint starts with (`<name>-...`), for selecting its series. */
  readonly workloadName: string;
  /** Name of the HorizontalPodAutoscaler of the pods. @default - workloadName */
  readonly autoscalerName?: string;
  /** Name of the PodDisruptionBudget of the pods. @default - workloadName */
  readonly disruptionBudgetName?: string;
  /** Name of the container port that serves metrics. */
  readonly portName: string;
  /** Number of that port. */
  readonly port: number;
  /** HTTP path of the metrics. */
  readonly path: string;
  /** Name of a Service exposing `portName`, for a ServiceMonitor; absent means use a PodMonitor. */
  readonly serviceName?: string;
  /** Labels of that Service, for a ServiceMonitor's selector. */
  readonly serviceLabels?: Record<string, string>;
  /**
   * Replicas are absent by design (a standalone Redis, a cluster of masters only, a PostgreSQL
   * without standbys, an API whose database has none): no replica alert or panel, which could never match.
   */
  readonly withoutReplicas?: boolean;
  /** The pods run Redis Cluster, so cluster_state is exported; absent for Sentinel and standalone Redis, whose panels and alerts leave it out. */
  readonly redisClusterEnabled?: boolean;
  /** Name prefix of the pods' PersistentVolumeClaims (`data-<workload>-`), for the volume alert; absent when they have none. */
  readonly volumeClaims?: string;
  /** The construct already emits a monitor for it (e.g. the CloudNativePG PodMonitor); monitoring adds only rules. */
  readonly hasMonitor?: boolean;
  /** The work queue the pods drain, when KEDA scales them on its length; its backlog and KEDA's errors reading it are alerted on. */
  readonly queue?: QueueBacklog;
  /**
   * Names of the one-off Jobs the construct makes (e.g. the Redis cluster-create Job), as RE2 patterns matching whole names, so that
   * a Job named by a hash of its spec is matched in every version: one that fails for good is alerted on.
   */
  readonly jobs?: string[];
  /** Names of the construct's CronJobs: a scheduled run that has not succeeded is alerted on. */
  readonly cronJobs?: string[];
  /**
   * The objects that keep the pods wanted, as kube-state-metrics reports them: when they want pods and none reports, the absence alert
   * fires with their namespace; absent, it reads `absent()`, which carries no namespace when the chart names none.
   */
  readonly wantedPods?: WantedPods;
}

/** Objects whose kube-state-metrics series say that a construct's pods should run, whatever the pods do. */
export interface WantedPods {
  /** `StatefulSet` or `Deployment` (pods wanted while its replicas are above 0), or `PersistentVolumeClaim` for pods an operator makes (a claim outlives its pod). */
  readonly kind: 'StatefulSet' | 'Deployment' | 'PersistentVolumeClaim';
  /** Their names, as RE2 patterns matching whole names. */
  readonly names: string[];
}

/** A work queue whose length a KEDA ScaledObject reads (and exports as `keda_scaler_metrics_value`). */
export interface QueueBacklog {
  /** The Redis list. */
  readonly name: string;
  /** Name of the ScaledObject reading it. */
  readonly scaledObject: string;
  /** Length above which the pool cannot keep up even at its maximum size. */
  readonly backlogLimit: number;
}

/** A construct whose pods export Prometheus metrics. */
export interface IMetricsTarget extends IConstruct {
  /** Every metrics endpoint of the construct (e.g. primary and replicas). */
  readonly metricsEndpoints: MetricsEndpoint[];
  /** Admits pods matching `scraper` on every metrics port. */
  allowScraper(scraper: PodPeer): void;
}

/** A Deployment behind a headless Service, which a load balancer sends traffic to. */
export interface ILoadBalancerBackend {
  /** Name of the regular Service of the pods. */
  readonly serviceName: string;
  /** Name of the headless Service, whose DNS answers with every ready pod's IP. */
  readonly headlessServiceName: string;
  /** Port the pods serve HTTP on. */
  readonly port: number;
  /** Admits pods matching `client` on the HTTP port. */
  allowClient(client: PodPeer): void;
  /** Labels of the backend pods. */
  readonly podSelector: Record<string, string>;
}

/** The namespace kube-prometheus-stack is commonly installed in, where the default scraper runs. */
export const DEFAULT_MONITORING_NAMESPACE = 'monitoring';

/** Prometheus pods, as kube-prometheus-stack and the standalone Observability label them, in the namespace `namespace` only. */
export function prometheusIn(namespace: string): PodPeer {
  return { podSelector: { 'app.kubernetes.io/name': 'prometheus' }, namespaceSelector: { 'kubernetes.io/metadata.name': namespace } };
}

/** The default metrics scraper: Prometheus pods in the namespace `monitoring`. */
export const DEFAULT_METRICS_SCRAPER: PodPeer = prometheusIn(DEFAULT_MONITORING_NAMESPACE);

/** One Secret a {@link GeneratedSecrets} creates when it does not exist yet. */
export interface GeneratedSecretSpec {
  /** Name of the Secret, in the chart's namespace. */
  readonly name: string;
  /** Keys whose values the Job generates in the pod: 48 random hex characters each (URL-, shell- and config-safe). */
  readonly randomKeys: string[];
  /** Keys with fixed values that are not secret (user and database names). @default {} */
  readonly plainKeys?: Record<string, string>;
}

/** A construct reading Secrets that a {@link GeneratedSecrets} may create for it. */
export interface ISecretConsumer {
  /** The Secrets it reads that random values can fill (none that must come from elsewhere, such as a TLS certificate). */
  readonly generatableSecrets: GeneratedSecretSpec[];
}

/** The annotation on the Job naming each Secret it creates and its keys, so tools reading the YAML know them. */
export const GENERATED_SECRETS_ANNOTATION = 'hscale.io/generated-secrets';
