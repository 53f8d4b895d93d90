import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { ConnectionPoolDemand } from '../core/budgets';
import { DatabaseConnectionPool, MetricsEndpoint, NetworkLink, PodPeer } from '../core/endpoints';
import { ModeModule } from '../core/mode';
import { Placement } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { PodOptions } from '../core/pod-options';
import { StoreTls } from '../core/tls';
import * as cnpg from '../imports/postgresql.cnpg.io';
import { PatroniTiming } from './patroni-conf';
import { SynchronousCommit } from './postgres-conf';
import { PgAccessMode, PgReplicaSetProps } from './settings';

/** Patroni's own settings: the `patroni` prop, resolved. */
export interface PatroniSettings {
  readonly timing: PatroniTiming;
  readonly synchronousModeStrict: boolean;
  /** A PostgreSQL size, e.g. '1MB'. */
  readonly maximumLagOnFailover: string;
}

/** What every engine resolves from the props all engines read, validated and defaulted. */
export interface PgEngineSettings {
  /** Name of the construct's objects, e.g. `hscale-db`. */
  readonly name: string;
  readonly replicas: number;
  readonly synchronousReplicas: number;
  readonly synchronousCommit: SynchronousCommit;
  /** The Secret clients read their credentials from. */
  readonly credentialsSecret: string;
  readonly image: string;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly placement: Placement;
  readonly resources: k8s.ResourceRequirements;
  readonly maxConnections: number;
  readonly sharedBuffers: string;
  readonly workMem: string;
  readonly walKeepSize: string;
  readonly maxSlotWalKeepSize: string;
  readonly parameters: Record<string, string>;
  /** `<namespace>.svc.cluster.local`, the suffix of the Services' DNS names. */
  readonly dnsSuffix: string;
  /** Pod options of the PostgreSQL pods: each engine applies them to every pod it makes. */
  readonly pod: PodOptions;
}

/** What the engines that run the servers in StatefulSets of their own (statefulset, patroni) also resolve. */
export interface PgMemberSettings extends PgEngineSettings {
  readonly exporterImage: string;
  readonly accessMode: PgAccessMode;
  /** Networks pg_hba.conf admits replicas and clients from. */
  readonly podNetworks: string[];
  /** Pods the NetworkPolicies admit to the metrics ports. */
  readonly metricsScraper: PodPeer;
  /** TLS of every connection from another pod. */
  readonly tls?: StoreTls;
}

/** The patroni engine's settings. */
export interface PatroniEngineSettings extends PgMemberSettings {
  readonly patroni: PatroniSettings;
}

/** The cloudnative-pg engine's settings. */
export interface CloudNativePgSettings extends PgEngineSettings {
  readonly pooler: boolean;
  readonly backup?: { readonly schedule: string; readonly volumeSnapshotClass: string };
  readonly podMonitorLabels: Record<string, string>;
  /** Pod options of the PgBouncer pods: `pod` with `poolerPod` laid over it. */
  readonly poolerPod: PodOptions;
}

/** How clients, Prometheus and NetworkPolicies reach what an engine built, whatever the engine. */
export interface PgWiring {
  readonly primaryHost: string;
  /** `host:port` of each place reads go to. */
  readonly replicaHosts: string[];
  readonly clientEnv: k8s.EnvVar[];
  readonly clientLinks: NetworkLink[];
  readonly metricsEndpoints: MetricsEndpoint[];
  /** The pools of a pooler that stands between the clients and the servers: the connection budget counts these, not the clients'. */
  readonly serverPools?: DatabaseConnectionPool[];
  /**
   * The server that leads is one of `replicaHosts` (each server by its own address): every Patroni
   * member, or a statefulset replica once promoted. The connection budget then counts each client
   * pod's replica check on the leader. @default false
   */
  readonly leaderIsReadTarget?: boolean;
  /** Connections a server's own processes hold on it beside the exporter's (Patroni's), which the connection budget counts. @default - none */
  readonly agentConnections?: ConnectionPoolDemand[];
}

/** The objects an engine made, for users to reach in; each engine fills the ones it makes. */
export interface PgEngineObjects {
  readonly postgresConf?: string;
  readonly hbaConf?: string;
  readonly primary?: k8s.KubeStatefulSet;
  readonly replicaSet?: k8s.KubeStatefulSet;
  readonly primaryNetworkPolicy?: PodNetworkPolicy;
  readonly replicaNetworkPolicy?: PodNetworkPolicy;
  readonly cluster?: cnpg.Cluster;
  /** The PgBouncer Poolers, read-write and read-only (cloudnative-pg with `pooler`). */
  readonly poolers?: cnpg.Pooler[];
  /** The ServiceAccount of the PostgreSQL pods, when the engine made one. */
  readonly serviceAccount?: k8s.KubeServiceAccount;
  /** The ConfigMap of postgresql.conf, pg_hba.conf and the init scripts (statefulset), or of patroni.yml (patroni). */
  readonly configMap?: k8s.KubeConfigMap;
  /** The Services `-rw`, `-ro` and the headless `-pods` (statefulset and patroni; CloudNativePG's operator makes its own). */
  readonly services?: PgServices;
  /** The PodDisruptionBudgets: the primary's and the replicas' (statefulset), the members' (patroni). */
  readonly disruptionBudgets?: k8s.KubePodDisruptionBudget[];
  /** The Role on Patroni's store (its ConfigMaps and pods) and its RoleBinding (patroni). */
  readonly role?: k8s.KubeRole;
  readonly roleBinding?: k8s.KubeRoleBinding;
  /** The PodMonitor of the instances (cloudnative-pg). */
  readonly podMonitor?: ApiObject;
  /** The ScheduledBackup (cloudnative-pg with `backup`). */
  readonly scheduledBackup?: ApiObject;
}

/** The Services of a PgReplicaSet that renders its own. */
export interface PgServices {
  /** `<name>-rw`: the primary (the leader, with Patroni). */
  readonly readWrite: k8s.KubeService;
  /** `<name>-ro`: the replicas. */
  readonly readOnly: k8s.KubeService;
  /** `<name>-pods`: headless, for each pod's DNS name and its metrics. */
  readonly pods: k8s.KubeService;
}

export type PgEngineOutput = PgWiring & PgEngineObjects;

/**
 * One way of running PostgreSQL, on the one mode shape of every construct (lib/core/mode.ts): `resolve`
 * validates every prop the engine reads (the shared ones through resolve.ts; its own, `ownProps`, each
 * `@onlyWhen engine=...` in PgReplicaSetProps) and `build` creates its objects in the PgReplicaSet from
 * those settings alone, returning how to reach them.
 */
export type PgEngineModule<S extends PgEngineSettings> = ModeModule<PgReplicaSetProps, S, PgEngineOutput>;
