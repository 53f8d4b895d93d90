import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { MetricsEndpoint, NetworkLink, PodPeer } from '../core/endpoints';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import * as cnpg from '../imports/postgresql.cnpg.io';
import { SynchronousCommit } from './postgres-conf';

export const PG_ACCESS_MODES = ['ReadWriteOnce', 'ReadWriteOncePod'] as const;
export type PgAccessMode = typeof PG_ACCESS_MODES[number];

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
  readonly requireAntiAffinity: boolean;
  readonly resources: k8s.ResourceRequirements;
  readonly maxConnections: number;
  readonly sharedBuffers: string;
  readonly workMem: string;
  readonly walKeepSize: string;
  readonly parameters: Record<string, string>;
  readonly podNetworks: string[];
  readonly pooler: boolean;
  readonly backup?: { readonly schedule: string; readonly volumeSnapshotClass: string };
  readonly metricsScraper: PodPeer;
  readonly podMonitorLabels: Record<string, string>;
  /** `<namespace>.svc.cluster.local`, the suffix of the Services' DNS names. */
  readonly dnsSuffix: string;
}

/** How clients, Prometheus and NetworkPolicies reach what an engine built, whatever the engine. */
export interface PgWiring {
  readonly primaryHost: string;
  /** `host:port` of each place reads go to. */
  readonly replicaHosts: string[];
  readonly clientEnv: k8s.EnvVar[];
  readonly clientLinks: NetworkLink[];
  readonly metricsEndpoints: MetricsEndpoint[];
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
