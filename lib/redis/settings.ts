import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { MaxmemoryPolicy, PodPeer } from '../core/endpoints';
import { ContainerResources, Placement } from '../core/pod-defaults';
import { PodOptions } from '../core/pod-options';
import { SecretKeyRef } from '../core/secret-refs';
import { StoreTls } from '../core/tls';
import { Quantity } from '../core/validation';
import { RedisAclUser } from './redis-acl';
import { AppendFsync } from './redis-conf';

// The props and settings of a RedisCluster, apart from the construct and the mode registry, so
// the modes can read them without importing what imports the modes.

/** A way of running Redis, as the `mode` prop names it; each has a module registered in `modes.ts`. */
export type RedisMode = 'cluster' | 'sentinel' | 'standalone';

/** An RDB save point: Redis writes a snapshot once `changes` writes happened within `after`. */
export interface RedisSavePoint {
  /** The window, whole seconds from 1 s to 1 day. */
  readonly after: Duration;
  /** Writes within `after` that trigger the snapshot, at least 1. */
  readonly changes: number;
}

/** Props of a {@link RedisCluster}. */
export interface RedisClusterProps {
  /** 'cluster' shards the keyspace over masters; 'sentinel' runs one master with replicas and Sentinels; 'standalone' runs one Redis without replicas. @default 'cluster' */
  readonly mode?: RedisMode;
  /** Masters in cluster mode. @default 3 @onlyWhen mode=cluster */
  readonly shards?: number;
  /** Replicas of each master in cluster mode. @default 1 @onlyWhen mode=cluster */
  readonly replicasPerShard?: number;
  /** Replicas of the master in sentinel mode. @default 2 @onlyWhen mode=sentinel */
  readonly replicas?: number;
  /** Sentinel processes in sentinel mode. @default 3 @onlyWhen mode=sentinel */
  readonly sentinels?: number;
  /** Sentinels that must agree the master is down. @default 2 @onlyWhen mode=sentinel */
  readonly quorum?: number;
  /** Name clients ask the Sentinels for. @default 'hscale' @onlyWhen mode=sentinel */
  readonly masterName?: string;
  /** How long a master may be unreachable before Sentinels fail it over. @default Duration.seconds(5) @onlyWhen mode=sentinel */
  readonly sentinelDownAfter?: Duration;
  /** How long a cluster node may be unreachable before it is failed over (Redis's own default of 15 s makes failover take 15-17 s). @default Duration.seconds(5) @onlyWhen mode=cluster */
  readonly clusterNodeTimeout?: Duration;
  /** Secret and key of the app user's password; the same Secret holds the other ACL users' passwords (docs/security.md). @default - a Secret named `<name>-auth` with key `password`, which you create */
  readonly passwordSecret?: SecretKeyRef;
  /** Key prefixes of the queues on this Redis (WorkerPool's `queuePrefix`), the only keys its KEDA user may read. @default ['{hscale}'] */
  readonly queuePrefixes?: string[];
  /** Redis image (7.x). @default 'redis:7.2.11' */
  readonly image?: string;
  /** Digest of `image` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly imageDigest?: string;
  /** redis_exporter image. @default 'oliver006/redis_exporter:v1.62.0' */
  readonly exporterImage?: string;
  /** Digest of `exporterImage` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly exporterImageDigest?: string;
  /** Requests and limits of each Redis container. @default - 250m / 1Gi requested, 1 CPU / 3Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** Memory for the dataset; at most half the memory limit when a node forks (AOF rewrite, save points, replicas), else at most the limit. @default - half the memory limit when a node forks, else 70% */
  readonly maxmemory?: Quantity;
  /** What Redis evicts at maxmemory; a WorkerPool's broker needs 'noeviction' or a 'volatile-*' policy. @default 'allkeys-lru' */
  readonly maxmemoryPolicy?: MaxmemoryPolicy;
  /** Append-only file. @default true */
  readonly appendonly?: boolean;
  /** When the AOF is fsynced. @default 'everysec' */
  readonly appendfsync?: AppendFsync;
  /** RDB save points (Redis's `save <seconds> <changes>`); an empty list turns RDB snapshots off. @default - after 1 h and 1 change, 5 min and 100, 1 min and 10000 */
  readonly savePoints?: RedisSavePoint[];
  /** How often Redis sends TCP keepalives to clients (whole seconds, 10 s to 2 h), dropping dead ones and keeping idle ones through NATs and load balancers. @default Duration.seconds(60) */
  readonly tcpKeepalive?: Duration;
  /** Keep data on PersistentVolumes; off uses emptyDir (a cache that may start empty). @default true */
  readonly persistence?: boolean;
  /** Size of each node's volume. @default '10Gi' */
  readonly storageSize?: Quantity;
  /** Storage class of the volumes; only with `persistence` (an emptyDir has none). @default - the cluster's default storage class */
  readonly storageClassName?: string;
  /** Whether Redis pods are kept on different nodes as a rule that leaves a pod pending (so a replica never shares its master's node; needs a node per pod) or as a preference; over zones they spread as a preference either way. @default 'required' */
  readonly placement?: Placement;
  /** Pods allowed to scrape the exporters. @default - pods labelled app.kubernetes.io/name=prometheus in the namespace 'monitoring' (a namespaceSelector must pin kubernetes.io/metadata.name) */
  readonly metricsScraper?: PodPeer;
  /** Pod options of every pod (Redis, Sentinels, the cluster-create Job): node pools, tolerations, priority, pull Secrets, labels, annotations, ServiceAccount annotations. @default - none */
  readonly pod?: PodOptions;
  /** Sentinel mode: pod options of the Sentinels only, laid over `pod`. @default - `pod` @onlyWhen mode=sentinel */
  readonly sentinelPod?: PodOptions;
  /** Cluster mode: pod options of the cluster-create Job only, laid over `pod`. @default - `pod` @onlyWhen mode=cluster */
  readonly jobPod?: PodOptions;
  /**
   * TLS for every connection, with the certificate of this Secret (cert-manager layout: `tls.crt`,
   * `tls.key`, `ca.crt`; names: `localhost`, `<name>`, `*.<name>-nodes` and in sentinel mode
   * `*.<name>-sentinel`, each `.<namespace>.svc.cluster.local` but localhost). The Redis port and the
   * Sentinels' serve TLS only (no plain port), replication and the cluster bus run over TLS, and every
   * client verifies the server against `ca.crt`: the API and workers (`REDIS_TLS_CA`), the exporter,
   * the probes and scripts, KEDA. Renewed files are read without a restart. @default - no TLS: a certificate must name every pod and Service and reach every client, which takes cert-manager or your PKI; the NetworkPolicies admit only the linked pods
   */
  readonly tls?: StoreTls;
}


/** What every mode resolves from the props only it reads. */
export interface RedisTopologyBase {
  /** Redis pods in the data StatefulSet. */
  readonly nodeCount: number;
  /** Replicas each master syncs to (a master forks for every full sync). */
  readonly replicasPerMaster: number;
}

/** The props of a RedisCluster, validated and defaulted, and the names derived from its path. */
export interface RedisClusterSettings {
  /** Name of the data StatefulSet, its Service and the ConfigMap; prefix of every other object. */
  readonly name: string;
  /** The chart's namespace, when it has one. */
  readonly namespace?: string;
  /** `<namespace>.svc.cluster.local`, which pod DNS names end with. */
  readonly dnsSuffix: string;
  readonly headlessServiceName: string;
  readonly mode: RedisMode;
  /** What the mode resolved from its own props. */
  readonly topology: RedisTopologyBase;
  readonly image: string;
  readonly exporterImage: string;
  readonly resources: k8s.ResourceRequirements;
  readonly maxmemoryBytes: number;
  readonly maxmemoryPolicy: MaxmemoryPolicy;
  readonly appendonly: boolean;
  readonly appendfsync: AppendFsync;
  readonly savePoints: string[];
  readonly tcpKeepaliveSeconds: number;
  readonly clusterNodeTimeoutMs: number;
  readonly persistence: boolean;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly placement: Placement;
  readonly passwordSecret: SecretKeyRef;
  readonly queuePrefixes: string[];
  /** The ACL users of the Redis nodes, the app user's Secret key being `passwordSecret.key`. */
  readonly aclUsers: RedisAclUser[];
  readonly metricsScraper: PodPeer;
  /** TLS of every connection. */
  readonly tls?: StoreTls;
  /** Pod options of the Redis pods, the Sentinels and the cluster-create Job, each kind's laid over `pod`. */
  readonly podOptions: { readonly redis: PodOptions; readonly sentinel: PodOptions; readonly job: PodOptions };
}
