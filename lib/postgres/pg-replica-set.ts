import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { ConnectionPoolDemand, connectionBudgetViolation, leaderDemands, replicaDemands } from '../core/budgets';
import {
  DatabaseConnectionPool, GeneratedSecretSpec, IDatabaseEndpoint, IMetricsTarget, ISecretConsumer, MetricsEndpoint, NetworkLink, PodPeer,
} from '../core/endpoints';
import { ModeRegistry, requireMode } from '../core/mode';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { validateProps } from '../core/prop-validation';
import { SecretRef } from '../core/secret-refs';
import { cloudNativePgEngine } from './cloudnative-pg-engine';
import {
  CloudNativePgSettings, PatroniEngineSettings, PgEngineModule, PgEngineOutput, PgEngineSettings, PgMemberSettings, PgServices,
} from './engine';
import { PATRONI_RESTAPI_CREDENTIAL_KEYS, patroniEngine } from './patroni-engine';
import { PgEngine, PgReplicaSetProps } from './settings';
import { PG_PORT } from './shared';
import { statefulSetEngine } from './statefulset-engine';

export type { PatroniProps, PgEngine, PgReplicaSetProps } from './settings';

/** The settings type of each engine: what its `resolve` returns. */
interface PgSettingsByEngine {
  readonly 'statefulset': PgMemberSettings;
  readonly 'patroni': PatroniEngineSettings;
  readonly 'cloudnative-pg': CloudNativePgSettings;
}

/** Every engine, by name; a new engine is a module in lib/postgres/ behind {@link PgEngineModule} and one entry here. */
export const PG_ENGINES: ModeRegistry<PgEngine, PgReplicaSetProps, PgSettingsByEngine, PgEngineOutput> = {
  'statefulset': statefulSetEngine,
  'patroni': patroniEngine,
  'cloudnative-pg': cloudNativePgEngine,
};

/** A PgReplicaSet's props, validated and with every default filled in, by the engine they name. */
export type PgReplicaSetSettings = { readonly [E in PgEngine]: { readonly engine: E } & PgSettingsByEngine[E] }[PgEngine];

// PostgreSQL's default superuser_reserved_connections: slots only a superuser (an operator, a human) can take.
const SUPERUSER_RESERVED_CONNECTIONS = 3;

/** Validates `props` (another engine's are refused by the schema) and has the engine they name fill in the defaults; `scope` is the PgReplicaSet, whose path errors name. */
export function resolvePgReplicaSetSettings(scope: Construct, props: PgReplicaSetProps = {}): PgReplicaSetSettings {
  validateProps(scope, 'PgReplicaSetProps', props);
  const engine = requireMode(scope, 'engine', props.engine ?? 'patroni', PG_ENGINES);
  return { engine, ...PG_ENGINES[engine].resolve(scope, props) } as PgReplicaSetSettings;
}

/**
 * PostgreSQL for the API: a primary with streaming read replicas. The 'patroni' engine (the
 * default) runs members that elect their leader and fail over by themselves, with Kubernetes as
 * Patroni's store; the 'statefulset' engine renders a primary and replicas that fail over by hand
 * (replica bootstrap with `pg_basebackup` and one slot per replica); both render their configs and
 * the Services `-rw`, `-ro` and per-pod DNS. The 'cloudnative-pg' engine emits a CloudNativePG
 * Cluster. All wire into a ScaledApi the same way.
 */
export class PgReplicaSet extends Construct implements IDatabaseEndpoint, IMetricsTarget, ISecretConsumer {
  /** How the servers run: StatefulSets of our own, Patroni members, or a CloudNativePG Cluster. */
  public readonly engine: PgEngine;
  /** Name of its objects, `<chart>-<id>`. */
  public readonly name: string;
  /** Streaming read replicas. */
  public readonly replicas: number;
  /** The PostgreSQL port of every server. */
  public readonly port = PG_PORT;
  /** DNS name clients write through: the `-rw` Service (or the read-write Pooler's). */
  public readonly primaryHost: string;
  /** `host:port` of each place reads go to. */
  public readonly replicaHosts: string[];
  /** The Secret clients read their credentials from. */
  public readonly credentialsSecret: SecretRef;
  /** Env a client container needs: `DATABASE_URL`, `POSTGRES_READ_REPLICAS`, the credentials by `secretKeyRef` and, behind the Poolers, `POSTGRES_POOL_MODE`. */
  public readonly clientEnv: k8s.EnvVar[];
  /** The pods and ports a client opens connections to. */
  public readonly clientLinks: NetworkLink[];
  /** The exporters (and Patroni's REST API), for Observability. */
  public readonly metricsEndpoints: MetricsEndpoint[];
  /** The rendered postgresql.conf (statefulset engine); Patroni's patroni.yml, which holds it and pg_hba.conf (patroni engine). */
  public readonly postgresConf?: string;
  /** The rendered pg_hba.conf (statefulset engine). */
  public readonly hbaConf?: string;
  /** The primary's StatefulSet (statefulset engine), or the members' (patroni engine). */
  public readonly primary?: k8s.KubeStatefulSet;
  /** The replicas' StatefulSet (statefulset engine). */
  public readonly replicaSet?: k8s.KubeStatefulSet;
  /** The primary's NetworkPolicy (statefulset engine), or the members' (patroni engine). */
  public readonly primaryNetworkPolicy?: PodNetworkPolicy;
  /** The replicas' NetworkPolicy (statefulset engine). */
  public readonly replicaNetworkPolicy?: PodNetworkPolicy;
  /**
   * The CloudNativePG Cluster (cloudnative-pg engine), as an ApiObject (`addJsonPatch` reaches
   * any field): the class generated from the CRD is internal and changes with each import.
   */
  public readonly cluster?: ApiObject;
  /** The PgBouncer Poolers (cloudnative-pg engine with `pooler`), as ApiObjects like `cluster`. */
  public readonly poolers?: ApiObject[];
  /** The PostgreSQL pods' ServiceAccount, when the engine made one (statefulset engine: only for `pod.serviceAccountAnnotations`). */
  public readonly serviceAccount?: k8s.KubeServiceAccount;
  /** The ConfigMap of postgresql.conf, pg_hba.conf and the init scripts (statefulset engine), or of patroni.yml (patroni engine). */
  public readonly configMap?: k8s.KubeConfigMap;
  /** The Services `-rw`, `-ro` and the headless `-pods` (statefulset and patroni engines; CloudNativePG's operator makes its own). */
  public readonly services?: PgServices;
  /** The PodDisruptionBudgets: the primary's and the replicas' (statefulset engine), the members' (patroni engine). */
  public readonly disruptionBudgets?: k8s.KubePodDisruptionBudget[];
  /** The Role on Patroni's store, its ConfigMaps and pods (patroni engine). */
  public readonly role?: k8s.KubeRole;
  /** The RoleBinding of that Role to the members' ServiceAccount (patroni engine). */
  public readonly roleBinding?: k8s.KubeRoleBinding;
  /** The PodMonitor of the instances (cloudnative-pg engine). */
  public readonly podMonitor?: ApiObject;
  /** The ScheduledBackup (cloudnative-pg engine with `backup`). */
  public readonly scheduledBackup?: ApiObject;
  /** The clients' pools counted in the connection budget (see `addConnectionPool`). */
  public readonly connectionPools: DatabaseConnectionPool[] = [];
  /** A pooler's server-side pools, which the servers see instead of the clients' when it stands between. */
  private readonly serverPools?: DatabaseConnectionPool[];
  private readonly maxConnections: number;
  private readonly reservedConnections: number;
  private readonly leaderIsReadTarget: boolean;
  /** The exporter's connection on each server, and any other of the servers' own processes (Patroni). */
  private readonly agentConnections: ConnectionPoolDemand[];

  constructor(scope: Construct, id: string, props: PgReplicaSetProps = {}) {
    super(scope, id);
    const settings = resolvePgReplicaSetSettings(this, props);
    this.engine = settings.engine;
    this.name = settings.name;
    this.replicas = settings.replicas;
    this.credentialsSecret = { secretName: settings.credentialsSecret };

    // The settings were resolved by this same engine's module, so they are the ones its build reads.
    const engine: PgEngineModule<PgEngineSettings> = PG_ENGINES[settings.engine];
    const built = engine.build(this, settings);
    this.primaryHost = built.primaryHost;
    this.replicaHosts = built.replicaHosts;
    this.clientEnv = built.clientEnv;
    this.clientLinks = built.clientLinks;
    this.metricsEndpoints = built.metricsEndpoints;
    this.postgresConf = built.postgresConf;
    this.hbaConf = built.hbaConf;
    this.primary = built.primary;
    this.replicaSet = built.replicaSet;
    this.primaryNetworkPolicy = built.primaryNetworkPolicy;
    this.replicaNetworkPolicy = built.replicaNetworkPolicy;
    this.cluster = built.cluster;
    this.poolers = built.poolers;
    this.serviceAccount = built.serviceAccount;
    ({ configMap: this.configMap, services: this.services, disruptionBudgets: this.disruptionBudgets } = built);
    ({ role: this.role, roleBinding: this.roleBinding, podMonitor: this.podMonitor, scheduledBackup: this.scheduledBackup } = built);

    if ('metricsScraper' in settings) this.allowScraper(settings.metricsScraper);
    this.serverPools = built.serverPools;
    this.leaderIsReadTarget = this.replicaHosts.length > 0 && (built.leaderIsReadTarget ?? false);
    this.agentConnections = [{ client: 'exporter', pods: 1, perPod: 1 }, ...built.agentConnections ?? []];
    this.maxConnections = settings.maxConnections;
    this.reservedConnections = Number(settings.parameters.superuser_reserved_connections ?? SUPERUSER_RESERVED_CONNECTIONS);
    this.node.addValidation({ validate: () => this.connectionBudgetErrors() });
  }

  /** Counts a client's pools in the connection budget, which synth checks at the autoscalers' maxima. */
  public addConnectionPool(pool: DatabaseConnectionPool): void {
    this.connectionPools.push(pool);
  }

  /**
   * The primary and each replica: every client pool at its maximum (or, with a pooler between, the
   * pooler's server pools; on the leader, the clients' replica checks when it is a read target too),
   * plus the connections of the servers' own processes (the exporter's, Patroni's).
   */
  private connectionBudgetErrors(): string[] {
    const clients = (this.serverPools ?? this.connectionPools).map(p => ({ ...p, pods: p.maxPods }));
    const servers = [{ server: 'the primary', pools: leaderDemands(clients, this.leaderIsReadTarget) }];
    if (this.replicaHosts.length > 0) servers.push({ server: 'each replica', pools: replicaDemands(clients) });
    return servers.map(({ server, pools }) => connectionBudgetViolation({
      server, maxConnections: this.maxConnections, reserved: this.reservedConnections, pools: [...pools, ...this.agentConnections],
    })).filter((v): v is string => v !== undefined).map(v => `${this.node.path}: ${v}`);
  }

  /**
   * The credentials Secret with generated passwords and the user names of docs/constructs/pg-replica-set.md
   * (statefulset and patroni engines); with cloudnative-pg the operator creates its `<name>-app` Secret itself.
   */
  public get generatableSecrets(): GeneratedSecretSpec[] {
    if (this.engine === 'cloudnative-pg') return [];
    // Patroni also connects to the leader as a rewind role (pg_rewind of a failed leader), and asks
    // for basic auth on its REST API's unsafe endpoints.
    const patroni = this.engine === 'patroni';
    return [{
      name: this.credentialsSecret.secretName,
      plainKeys: {
        'username': 'app', 'database': 'app', 'replication-username': 'replicator', 'monitor-username': 'monitor',
        ...(patroni ? { 'rewind-username': 'rewinder', [PATRONI_RESTAPI_CREDENTIAL_KEYS.user]: 'patroni' } : {}),
      },
      randomKeys: ['password', 'superuser-password', 'replication-password', 'monitor-password', ...(patroni ? ['rewind-password', PATRONI_RESTAPI_CREDENTIAL_KEYS.password] : [])],
    }];
  }

  /** Admits pods matching `client` on 5432 of the primary and the replicas. */
  public allowClient(client: PodPeer): void {
    // cloudnative-pg: the operator's pods are not isolated by us (its instance manager needs the API server and the operator).
    this.primaryNetworkPolicy?.allowIngressFrom(client, [PG_PORT]);
    this.replicaNetworkPolicy?.allowIngressFrom(client, [PG_PORT]);
  }

  /** Admits pods matching `scraper` on every metrics port: the exporter's, and Patroni's REST API (patroni engine). */
  public allowScraper(scraper: PodPeer): void {
    const ports = this.metricsEndpoints.map(e => e.port);
    this.primaryNetworkPolicy?.allowIngressFrom(scraper, ports);
    this.replicaNetworkPolicy?.allowIngressFrom(scraper, ports);
  }
}
