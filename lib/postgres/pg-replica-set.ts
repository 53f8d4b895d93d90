import { ApiObject, Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { connectionBudgetViolation, postgresMemoryViolation } from '../core/budgets';
import {
  DatabaseConnectionPool, DEFAULT_METRICS_SCRAPER, GeneratedSecretSpec, IDatabaseEndpoint, IMetricsTarget, ISecretConsumer, MetricsEndpoint, NetworkLink, PodPeer,
} from '../core/endpoints';
import { resourceName, serviceDnsSuffix } from '../core/names';
import { ContainerResources, Placement, resolveResources } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { mergePodOptions, PodOptions, resolvePodOptions } from '../core/pod-options';
import { validateProps } from '../core/prop-validation';
import { requireSecretName, SecretRef } from '../core/secret-refs';
import { resolveStoreTls, StoreTls } from '../core/tls';
import { parseQuantity, pinnedImage, propError, Quantity, requireIntInRange, requireOneOf, requirePinnedPeer, requireQuantity, requireWholeDuration } from '../core/validation';
import { cloudNativePgEngine } from './cloudnative-pg-engine';
import { PatroniSettings, PG_ACCESS_MODES, PgAccessMode, PgEngineModule, PgEngineSettings, PgServices } from './engine';
import { DEFAULT_PATRONI_TIMING, patroniTimingViolation } from './patroni-conf';
import { PATRONI_RESTAPI_CREDENTIAL_KEYS, patroniEngine } from './patroni-engine';
import { PARAMETER_NAME, parsePgSize, SYNCHRONOUS_COMMIT_LEVELS, SynchronousCommit } from './postgres-conf';
import { PG_PORT, PG_SHARED_MEMORY_SIZE } from './shared';
import { statefulSetEngine } from './statefulset-engine';

/** How the PostgreSQL servers run: StatefulSets of our own, members run by Patroni, or a CloudNativePG `Cluster`. */
export type PgEngine = 'statefulset' | 'patroni' | 'cloudnative-pg';

/** The engines by name; an engine is one module in lib/postgres/ behind {@link PgEngineModule}. */
const PG_ENGINES = {
  'statefulset': statefulSetEngine,
  'patroni': patroniEngine,
  'cloudnative-pg': cloudNativePgEngine,
} satisfies Record<PgEngine, PgEngineModule>;

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
   * 'statefulset' runs anywhere with manual failover; 'patroni' fails over by itself with no operator
   * (the image adds Patroni, images/patroni/Dockerfile); 'cloudnative-pg' needs the operator. @default 'statefulset'
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
   * pg_rewind's role, the REST API's basic auth), which you create.
   * @default - `{ secretName: '<name>-credentials' }` (statefulset, patroni); cloudnative-pg's own `<name>-app`
   */
  readonly credentialsSecret?: SecretRef;
  /** PostgreSQL image (15 or newer). @default 'postgres:15.15' (statefulset), 'ghcr.io/cloudnative-pg/postgresql:15.15' (cloudnative-pg) */
  readonly image?: string;
  /** Digest of `image` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly imageDigest?: string;
  /** postgres_exporter image. @default 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0' */
  readonly exporterImage?: string;
  /** Digest of `exporterImage` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image */
  readonly exporterImageDigest?: string;
  /** Size of each instance's volume. @default '20Gi' */
  readonly storageSize?: Quantity;
  /** Storage class of the volumes. @default - the cluster's default storage class */
  readonly storageClassName?: string;
  /** Access mode of the volumes. @default 'ReadWriteOnce' */
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
  /** Networks replicas connect from, for pg_hba.conf (the NetworkPolicy narrows it to the replica pods). @default - the private ranges 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 */
  readonly podNetworks?: string[];
  /** patroni: failover timing, strict synchronous mode, the lag a promotable replica may have. @default - see PatroniProps @onlyWhen engine=patroni */
  readonly patroni?: PatroniProps;
  /**
   * statefulset: TLS for every connection from another pod, with the certificate of this Secret
   * (cert-manager layout: `tls.crt`, `tls.key`, `ca.crt`; names: `<name>-rw`, `<name>-ro` and
   * `*.<name>-pods`, each `.<namespace>.svc.cluster.local`). pg_hba admits replicas and clients over
   * TLS only, replicas stream with `sslmode=verify-full`, and clients get `sslmode=verify-full` in
   * `DATABASE_URL` and the CA in `POSTGRES_TLS_CA`. A renewed certificate is read without a restart
   * (`pg_ctl reload` when the mounted files change, checked every 60 s). @default - no TLS: a certificate must name every pod and Service and reach every client, which takes cert-manager or your PKI; the NetworkPolicies admit only the linked pods @onlyWhen engine=statefulset
   */
  readonly tls?: StoreTls;
  /** cloudnative-pg: PgBouncer Poolers for read-write and read-only traffic, which linked clients connect through. @default false @onlyWhen engine=cloudnative-pg */
  readonly pooler?: boolean;
  /** cloudnative-pg: a ScheduledBackup by volume snapshots. @default - no scheduled backup @onlyWhen engine=cloudnative-pg */
  readonly backup?: { readonly schedule: string; readonly volumeSnapshotClass: string };
  /** Pods allowed to scrape the exporters. @default - pods labelled app.kubernetes.io/name=prometheus in the namespace 'monitoring' (a namespaceSelector must pin kubernetes.io/metadata.name) */
  readonly metricsScraper?: PodPeer;
  /** cloudnative-pg: labels of the PodMonitor, which your Prometheus selects it by. @default { release: 'kube-prometheus-stack' } @onlyWhen engine=cloudnative-pg */
  readonly podMonitorLabels?: Record<string, string>;
  /** Pod options of every PostgreSQL pod (and the PgBouncer pods): node pools, tolerations, priority, pull Secrets, labels, annotations, ServiceAccount annotations. @default - none */
  readonly pod?: PodOptions;
  /** cloudnative-pg: pod options of the PgBouncer pods only, laid over `pod`; their ServiceAccount is the operator's. @default - `pod` @onlyWhen engine=cloudnative-pg */
  readonly poolerPod?: PodOptions;
}


/** A PgReplicaSet's props, validated and with every default filled in. */
export interface PgReplicaSetSettings extends PgEngineSettings {
  readonly engine: PgEngine;
}

const DEFAULT_MEMORY_LIMIT = '4Gi';

// PostgreSQL's default superuser_reserved_connections: slots only a superuser (an operator, a human) can take.
const SUPERUSER_RESERVED_CONNECTIONS = 3;

const PRIVATE_NETWORKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/** Validates `props` and fills in the defaults; `scope` is the PgReplicaSet, whose path errors name. */
export function resolvePgReplicaSetSettings(scope: Construct, props: PgReplicaSetProps = {}): PgReplicaSetSettings {
  validateProps(scope, 'PgReplicaSetProps', props);
  const name = resourceName(scope);
  const engine = requireOneOf(scope, 'engine', props.engine ?? 'statefulset', Object.keys(PG_ENGINES) as PgEngine[]);
  const replicas = requireIntInRange(scope, 'replicas', props.replicas ?? 2, 0, 15);
  const synchronousReplicas = requireIntInRange(scope, 'synchronousReplicas', props.synchronousReplicas ?? 0, 0, 15);
  if (synchronousReplicas > replicas) {
    throw propError(scope, 'synchronousReplicas', synchronousReplicas,
      `must be less than or equal to 'replicas' (${replicas}), or no commit could ever be confirmed`);
  }
  const synchronousCommit = requireOneOf(scope, 'synchronousCommit', props.synchronousCommit ?? 'on', SYNCHRONOUS_COMMIT_LEVELS);
  const storageSize = props.storageSize ?? '20Gi';
  const walRetention = resolveWalRetention(scope, props, requireQuantity(scope, 'storageSize', storageSize));
  const accessMode = requireOneOf(scope, 'accessMode', props.accessMode ?? 'ReadWriteOnce', PG_ACCESS_MODES);
  const parameters = requireParameterNames(scope, props.parameters ?? {});
  const maxConnections = requireIntInRange(scope, 'maxConnections', props.maxConnections ?? 400, 10, 10000);
  const resources = resolveResources(scope, 'resources', props.resources, {
    cpuRequest: '500m', memoryRequest: '1Gi', cpuLimit: '2', memoryLimit: DEFAULT_MEMORY_LIMIT,
  });
  requireMemoryBudget(scope, props, maxConnections, resources);
  const exporterImage = pinnedImage(scope, 'exporterImage', props.exporterImage ?? 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0', props.exporterImageDigest);
  const engineModule: PgEngineModule = PG_ENGINES[engine];
  return {
    engine, name, replicas, synchronousReplicas, synchronousCommit,
    credentialsSecret: engineModule.credentialsSecret(name, props.credentialsSecret && requireSecretName(scope, 'credentialsSecret', props.credentialsSecret)),
    image: pinnedImage(scope, 'image', props.image ?? engineModule.defaultImage, props.imageDigest),
    exporterImage, storageSize, storageClassName: props.storageClassName, accessMode,
    placement: props.placement ?? 'required',
    resources, maxConnections, sharedBuffers: props.sharedBuffers ?? '1GB', workMem: props.workMem ?? '4MB',
    ...walRetention, parameters, podNetworks: props.podNetworks ?? PRIVATE_NETWORKS,
    pooler: props.pooler ?? false, backup: props.backup, patroni: resolvePatroni(scope, props.patroni ?? {}),
    metricsScraper: requirePinnedPeer(scope, 'metricsScraper', props.metricsScraper ?? DEFAULT_METRICS_SCRAPER),
    podMonitorLabels: props.podMonitorLabels ?? { release: 'kube-prometheus-stack' },
    dnsSuffix: serviceDnsSuffix(scope), tls: resolveStoreTls(scope, 'tls', props.tls),
    ...resolvePgPodOptions(scope, props),
  };
}

/**
 * shared_buffers, /dev/shm and a work_mem for each connection must fit the memory limit, or a peak is an
 * OOM kill; and the request must hold shared_buffers, or the scheduler packs the pod where the
 * buffers alone push the node into memory pressure.
 */
function requireMemoryBudget(scope: Construct, props: PgReplicaSetProps, maxConnections: number, resources: k8s.ResourceRequirements): void {
  const sizes = { sharedBuffers: props.sharedBuffers ?? '1GB', workMem: props.workMem ?? '4MB' };
  const [sharedBuffersBytes, workMemBytes] = Object.entries(sizes).map(([prop, value]) => {
    const parsed = parsePgSize(value);
    if (parsed === undefined || parsed === 0) throw propError(scope, prop, value, 'must be a PostgreSQL size with a unit, e.g. \'4MB\', \'1GB\'');
    return parsed;
  });
  const memoryLimitBytes = parseQuantity(String(resources.limits!.memory!.value))!;
  const sharedMemoryBytes = parseQuantity(PG_SHARED_MEMORY_SIZE)!;
  const violation = postgresMemoryViolation({ sharedBuffersBytes, sharedMemoryBytes, maxConnections, workMemBytes, memoryLimitBytes });
  if (violation) throw propError(scope, 'maxConnections', maxConnections, `is over the memory budget: ${violation}`);
  const memoryRequest = String(resources.requests!.memory!.value);
  if (parseQuantity(memoryRequest)! < sharedBuffersBytes) {
    throw propError(scope, 'resources.memoryRequest', memoryRequest, `must be at least 'sharedBuffers' (${sizes.sharedBuffers}), which PostgreSQL holds from its start`);
  }
}

/** `walKeepSize` and `maxSlotWalKeepSize`, which together must leave at least half of the volume to the data. */
function resolveWalRetention(scope: Construct, props: PgReplicaSetProps, storageBytes: number) {
  const sizes = { walKeepSize: props.walKeepSize ?? '1GB', maxSlotWalKeepSize: props.maxSlotWalKeepSize ?? '4GB' };
  const bytes = Object.entries(sizes).map(([prop, value]) => {
    const parsed = parsePgSize(value);
    if (parsed === undefined || parsed === 0) throw propError(scope, prop, value, 'must be a PostgreSQL size with a unit, e.g. \'512MB\', \'4GB\'');
    return parsed;
  });
  if (bytes[0] + bytes[1] > storageBytes / 2) {
    throw propError(scope, 'maxSlotWalKeepSize', sizes.maxSlotWalKeepSize,
      `plus 'walKeepSize' (${sizes.walKeepSize}) must be at most half of 'storageSize' (${props.storageSize ?? '20Gi'}), or WAL kept for a lost replica can fill the volume`);
  }
  return sizes;
}

/** `pod`, and `poolerPod` laid over it for the PgBouncer pods, which only the cloudnative-pg `pooler` makes. */
function resolvePgPodOptions(scope: Construct, props: PgReplicaSetProps): Pick<PgEngineSettings, 'pod' | 'poolerPod'> {
  const pod = resolvePodOptions(scope, 'pod', props.pod);
  const poolerPod = resolvePodOptions(scope, 'poolerPod', props.poolerPod);
  if (props.poolerPod !== undefined && !props.pooler) {
    throw propError(scope, 'poolerPod', JSON.stringify(props.poolerPod), 'needs \'pooler\' (engine \'cloudnative-pg\'), which makes the PgBouncer pods');
  }
  if (poolerPod.serviceAccountAnnotations !== undefined) {
    throw propError(scope, 'poolerPod.serviceAccountAnnotations', Object.keys(poolerPod.serviceAccountAnnotations).join(', '),
      'cannot be set: the CloudNativePG operator makes and manages the PgBouncer pods\' ServiceAccount');
  }
  // The Cluster's ServiceAccount takes `pod`'s annotations; the Poolers' is the operator's.
  return { pod, poolerPod: mergePodOptions({ ...pod, serviceAccountAnnotations: undefined }, poolerPod) };
}

function resolvePatroni(scope: Construct, props: PatroniProps): PatroniSettings {
  const timing = {
    ttl: requireWholeDuration(scope, 'patroni.ttl', props.ttl ?? Duration.seconds(DEFAULT_PATRONI_TIMING.ttl), 'seconds', 2, 300),
    loopWait: requireWholeDuration(scope, 'patroni.loopWait', props.loopWait ?? Duration.seconds(DEFAULT_PATRONI_TIMING.loopWait), 'seconds', 1, 60),
    retryTimeout: requireWholeDuration(scope, 'patroni.retryTimeout', props.retryTimeout ?? Duration.seconds(DEFAULT_PATRONI_TIMING.retryTimeout), 'seconds', 1, 120),
  };
  const violation = patroniTimingViolation(timing);
  if (violation) throw propError(scope, 'patroni.ttl', `${timing.ttl}s`, violation);
  const maximumLagOnFailover = props.maximumLagOnFailover ?? '1MB';
  if (!parsePgSize(maximumLagOnFailover)) {
    throw propError(scope, 'patroni.maximumLagOnFailover', maximumLagOnFailover, 'must be a PostgreSQL size with a unit, e.g. \'1MB\'');
  }
  return { timing, synchronousModeStrict: props.synchronousModeStrict ?? false, maximumLagOnFailover };
}

function requireParameterNames(scope: Construct, parameters: Record<string, string>): Record<string, string> {
  for (const name of Object.keys(parameters)) {
    if (!PARAMETER_NAME.test(name)) {
      throw propError(scope, `parameters.${name}`, name, 'is not a PostgreSQL parameter name (lower case letters, digits and underscores, optionally prefixed by an extension name and a dot)');
    }
  }
  return parameters;
}

/**
 * PostgreSQL for the API: a primary with streaming read replicas. The 'statefulset' engine
 * renders everything itself (configs, replica bootstrap with `pg_basebackup` and one slot per
 * replica, Services `-rw`, `-ro` and per-pod DNS); the 'cloudnative-pg' engine emits a
 * CloudNativePG Cluster. Both wire into a ScaledApi the same way.
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
  /** Env a client container needs: `DATABASE_URL`, `POSTGRES_READ_REPLICAS` and the credentials by `secretKeyRef`. */
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

  constructor(scope: Construct, id: string, props: PgReplicaSetProps = {}) {
    super(scope, id);
    const settings = resolvePgReplicaSetSettings(this, props);
    this.engine = settings.engine;
    this.name = settings.name;
    this.replicas = settings.replicas;
    this.credentialsSecret = { secretName: settings.credentialsSecret };

    const built = PG_ENGINES[settings.engine].build(this, settings);
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

    this.allowScraper(settings.metricsScraper);
    this.serverPools = built.serverPools;
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
   * pooler's server pools), plus the exporter's one connection on each server.
   */
  private connectionBudgetErrors(): string[] {
    const exporter = { client: 'exporter', pods: 1, perPod: 1 };
    const pools = this.serverPools ?? this.connectionPools;
    const servers = [{ server: 'the primary', perPod: (p: DatabaseConnectionPool) => p.primaryPerPod }];
    if (this.replicaHosts.length > 0) servers.push({ server: 'each replica', perPod: p => p.replicaPerPod });
    return servers.map(({ server, perPod }) => connectionBudgetViolation({
      server, maxConnections: this.maxConnections, reserved: this.reservedConnections,
      pools: [...pools.map(p => ({ client: p.client, pods: p.maxPods, perPod: perPod(p) })), exporter],
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
