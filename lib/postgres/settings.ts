import { Duration } from 'cdk8s';
import { PodPeer } from '../core/endpoints';
import { ContainerResources, Placement } from '../core/pod-defaults';
import { PodOptions } from '../core/pod-options';
import { SecretRef } from '../core/secret-refs';
import { StoreTls } from '../core/tls';
import { Quantity, valuesOf } from '../core/validation';
import { SynchronousCommit } from './postgres-conf';

// The props of a PgReplicaSet, apart from the construct and the engine registry, so the engines
// can read them without importing what imports the engines.

/** The access mode of the data volumes. */
export type PgAccessMode = 'ReadWriteOnce' | 'ReadWriteOncePod';
export const PG_ACCESS_MODES = valuesOf<PgAccessMode>({ ReadWriteOnce: true, ReadWriteOncePod: true });

/** How the PostgreSQL servers run: StatefulSets of our own, members run by Patroni, or a CloudNativePG `Cluster`. */
export type PgEngine = 'statefulset' | 'patroni' | 'cloudnative-pg';

/** How the patroni engine fails over; the defaults promote a replica within 9.5 s of the leader's loss (`worstCasePromotionSeconds`). */
export interface PatroniProps {
  /** How long the leader lock lives without a renewal (Patroni's `ttl`), whole seconds from 2 s to 300 s. @default Duration.seconds(5) */
  readonly ttl?: Duration;
  /** Time between two runs of each member's HA loop (`loop_wait`), whole seconds from 1 s to 60 s. @default Duration.seconds(1) */
  readonly loopWait?: Duration;
  /** How long a call to the Kubernetes API or PostgreSQL retries before the member gives up (`retry_timeout`), whole seconds from 1 s to 120 s. @default Duration.seconds(2) */
  readonly retryTimeout?: Duration;
  /** With `synchronousReplicas`: commits wait rather than go unreplicated when no replica can confirm (`synchronous_mode_strict`). @default false */
  readonly synchronousModeStrict?: boolean;
  /** WAL a replica may lag and still be promoted (`maximum_lag_on_failover`), a PostgreSQL size. @default '1MB' */
  readonly maximumLagOnFailover?: string;
}

/** Props of a {@link PgReplicaSet}. */
export interface PgReplicaSetProps {
  /**
   * 'patroni' fails over by itself with no operator (the image adds Patroni, images/patroni/Dockerfile);
   * 'statefulset' runs the plain PostgreSQL image with manual failover; 'cloudnative-pg' needs the operator. @default 'patroni'
   */
  readonly engine?: PgEngine;
  /** Streaming read replicas. @default 2 */
  readonly replicas?: number;
  /** Replicas that must confirm each commit; 0 replicates asynchronously. @default 0 */
  readonly synchronousReplicas?: number;
  /** How far a synchronous replica must get before a commit returns. @default 'on' */
  readonly synchronousCommit?: SynchronousCommit;
  /**
   * Secret with the keys `username`, `password`, `database`, `superuser-password`,
   * `replication-username` and `replication-password` (statefulset and patroni engines), and
   * `rewind-username`, `rewind-password`, `restapi-username` and `restapi-password` (patroni engine:
   * pg_rewind's role, the REST API's basic auth), which you create. cloudnative-pg: the operator makes its own `<name>-app`.
   * @default - `{ secretName: '<name>-credentials' }` @onlyWhen engine=statefulset|patroni
   */
  readonly credentialsSecret?: SecretRef;
  /** PostgreSQL image (15 or newer). @default 'ghcr.io/hscale/patroni:15.15-3.0.2' (patroni), 'postgres:15.15' (statefulset), 'ghcr.io/cloudnative-pg/postgresql:15.15' (cloudnative-pg) */
  readonly image?: string;
  /** Digest of `image` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly imageDigest?: string;
  /** postgres_exporter image of the sidecars (cloudnative-pg: the instance manager serves the metrics). @default 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0' @onlyWhen engine=statefulset|patroni */
  readonly exporterImage?: string;
  /** Digest of `exporterImage` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image @onlyWhen engine=statefulset|patroni */
  readonly exporterImageDigest?: string;
  /** Size of each instance's volume. @default '20Gi' */
  readonly storageSize?: Quantity;
  /** Storage class of the volumes. @default - the cluster's default storage class */
  readonly storageClassName?: string;
  /** Access mode of the volumes (cloudnative-pg: the operator's). @default 'ReadWriteOnce' @onlyWhen engine=statefulset|patroni */
  readonly accessMode?: PgAccessMode;
  /** Whether instances are kept on different nodes as a rule that leaves a pod pending (so a replica never shares its primary's node; needs a node per instance) or as a preference; over zones they spread as a preference either way. @default 'required' */
  readonly placement?: Placement;
  /** Requests and limits of each PostgreSQL container. @default - 500m / 1Gi requested, 2 CPU / 4Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** `max_connections`; every client pool at its autoscaler's maximum must fit it (a synth error shows the sum). @default 400 */
  readonly maxConnections?: number;
  /** `shared_buffers`. @default '1GB' */
  readonly sharedBuffers?: string;
  /** `work_mem`. @default '4MB' */
  readonly workMem?: string;
  /** `wal_keep_size`. @default '1GB' */
  readonly walKeepSize?: string;
  /** `max_slot_wal_keep_size`: WAL a replica's slot may hold before it is invalidated (the replica then re-clones). @default '4GB' */
  readonly maxSlotWalKeepSize?: string;
  /** Further PostgreSQL parameters. @default {} */
  readonly parameters?: Record<string, string>;
  /** Networks replicas and clients connect from, for pg_hba.conf (the NetworkPolicy narrows it to the linked pods; cloudnative-pg: the operator's pg_hba). @default - the private ranges 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 @onlyWhen engine=statefulset|patroni */
  readonly podNetworks?: string[];
  /** patroni: failover timing, strict synchronous mode, the lag a promotable replica may have. @default - see PatroniProps @onlyWhen engine=patroni */
  readonly patroni?: PatroniProps;
  /**
   * TLS for every connection from another pod, with the certificate of this Secret
   * (cert-manager layout: `tls.crt`, `tls.key`, `ca.crt`; names: `<name>-rw`, `<name>-ro` and
   * `*.<name>-pods`, each `.<namespace>.svc.cluster.local`). pg_hba admits replicas and clients over
   * TLS only, replicas stream (patroni: and pg_rewind connects) with `sslmode=verify-full` (patroni: to
   * each member's `-pods` DNS name), and clients get `sslmode=verify-full` in `DATABASE_URL` and the CA in
   * `POSTGRES_TLS_CA`. A renewed certificate is read without a restart (when the mounted files change,
   * checked every 60 s: `pg_ctl reload`, or patroni: SIGHUP to Patroni, which reloads PostgreSQL). @default - no TLS: a certificate must name every pod and Service and reach every client, which takes cert-manager or your PKI; the NetworkPolicies admit only the linked pods @onlyWhen engine=statefulset|patroni
   */
  readonly tls?: StoreTls;
  /** cloudnative-pg: PgBouncer Poolers for read-write and read-only traffic, which linked clients connect through. @default false @onlyWhen engine=cloudnative-pg */
  readonly pooler?: boolean;
  /** cloudnative-pg: a ScheduledBackup by volume snapshots. @default - no scheduled backup @onlyWhen engine=cloudnative-pg */
  readonly backup?: { readonly schedule: string; readonly volumeSnapshotClass: string };
  /** Pods the NetworkPolicies admit to the exporters (cloudnative-pg makes no NetworkPolicy; its PodMonitor has `podMonitorLabels`). @default - pods labelled app.kubernetes.io/name=prometheus in the namespace 'monitoring' (a namespaceSelector must pin kubernetes.io/metadata.name) @onlyWhen engine=statefulset|patroni */
  readonly metricsScraper?: PodPeer;
  /** cloudnative-pg: labels of the PodMonitor, which your Prometheus selects it by. @default { release: 'kube-prometheus-stack' } @onlyWhen engine=cloudnative-pg */
  readonly podMonitorLabels?: Record<string, string>;
  /** Pod options of every PostgreSQL pod (and the PgBouncer pods): node pools, tolerations, priority, pull Secrets, labels, annotations, ServiceAccount annotations. @default - none */
  readonly pod?: PodOptions;
  /** cloudnative-pg: pod options of the PgBouncer pods only, laid over `pod`; their ServiceAccount is the operator's. @default - `pod` @onlyWhen engine=cloudnative-pg */
  readonly poolerPod?: PodOptions;
}
