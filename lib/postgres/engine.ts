import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { DatabaseConnectionPool, MetricsEndpoint, NetworkLink, PodPeer } from '../core/endpoints';
import { Placement } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { PodOptions } from '../core/pod-options';
import { StoreTls } from '../core/tls';
import { valuesOf } from '../core/validation';
import * as cnpg from '../imports/postgresql.cnpg.io';
import { PatroniTiming } from './patroni-conf';
import { SynchronousCommit } from './postgres-conf';

/** The patroni engine's settings. */
export interface PatroniSettings {
  readonly timing: PatroniTiming;
  readonly synchronousModeStrict: boolean;
  /** A PostgreSQL size, e.g. '1MB'. */
  readonly maximumLagOnFailover: string;
}

/** The access mode of the data volumes. */
export type PgAccessMode = 'ReadWriteOnce' | 'ReadWriteOncePod';
export const PG_ACCESS_MODES = valuesOf<PgAccessMode>({ ReadWriteOnce: true, ReadWriteOncePod: true });

/** A PgReplicaSet's props, validated and defaulted: everything an engine builds from. */
export interface PgEngineSettings {
  /** Name of the construct's objects, e.g. `hscale-db`. */
  readonly name: string;
  readonly replicas: number;
  readonly synchronousReplicas: number;
  readonly synchronousCommit: SynchronousCommit;
  /** The Secret clients read their credentials from. */
  readonly credentialsSecret: string;
  readonly image: string;
  readonly exporterImage: string;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly accessMode: PgAccessMode;
  readonly placement: Placement;
  readonly resources: k8s.ResourceRequirements;
  readonly maxConnections: number;
  readonly sharedBuffers: string;
  readonly workMem: string;
  readonly walKeepSize: string;
  readonly maxSlotWalKeepSize: string;
  readonly parameters: Record<string, string>;
  readonly podNetworks: string[];
  readonly pooler: boolean;
  readonly patroni: PatroniSettings;
  readonly backup?: { readonly schedule: string; readonly volumeSnapshotClass: string };
  readonly metricsScraper: PodPeer;
  readonly podMonitorLabels: Record<string, string>;
  /** `<namespace>.svc.cluster.local`, the suffix of the Services' DNS names. */
  readonly dnsSuffix: string;
  /** TLS of every connection from another pod (statefulset engine). */
  readonly tls?: StoreTls;
  /** Pod options of the PostgreSQL pods: each engine applies them to every pod it makes (`applyMemberPodOptions` in shared.ts). */
  readonly pod: PodOptions;
  /** Pod options of the PgBouncer pods (cloudnative-pg `pooler`): `pod` with `poolerPod` laid over it. */
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

/** One way of running PostgreSQL: a PgReplicaSet picks its engine by name and lets it build everything. */
export interface PgEngineModule {
  /** PostgreSQL image used when the props name none. */
  readonly defaultImage: string;
  /** The Secret clients read, given the one the props name (if any). */
  credentialsSecret(name: string, requested: string | undefined): string;
  /** Creates the engine's objects in `scope` (the PgReplicaSet) and returns how to reach them. */
  build(scope: Construct, settings: PgEngineSettings): PgEngineOutput;
}
