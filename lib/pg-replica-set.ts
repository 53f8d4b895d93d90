import { createHash } from 'crypto';
import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { DEFAULT_METRICS_SCRAPER, IDatabaseEndpoint, IMetricsTarget, MetricsEndpoint, NetworkLink, PodPeer } from './endpoints';
import * as cnpg from './imports/postgresql.cnpg.io';
import { commonLabels, imageVersion, INSTANCE_LABEL, namespaceOf, resourceName, selectorLabels } from './names';
import {
  ContainerResources, exporterSidecar, nodeAntiAffinity, resolveResources, restrictedContainerSecurityContext,
  restrictedPodSecurityContext, scratchVolume,
} from './pod-defaults';
import { PodNetworkPolicy } from './pod-network-policy';
import {
  PARAMETER_NAME, renderPgHba, renderPostgresConf, renderPrimaryInitScript, renderReplicaInitScript,
  SYNCHRONOUS_COMMIT_LEVELS, SynchronousCommit,
} from './postgres-conf';
import { propError, requireIntInRange, requireOneOf, requirePinnedImage, requireQuantity } from './validation';

export type PgEngine = 'statefulset' | 'cloudnative-pg';
const ENGINES: PgEngine[] = ['statefulset', 'cloudnative-pg'];
const ACCESS_MODES = ['ReadWriteOnce', 'ReadWriteOncePod'] as const;

/** Props of a {@link PgReplicaSet}. */
export interface PgReplicaSetProps {
  /** 'statefulset' runs anywhere with manual failover; 'cloudnative-pg' needs the operator and fails over by itself. @default 'statefulset' */
  readonly engine?: PgEngine;
  /** Streaming read replicas. @default 2 */
  readonly replicas?: number;
  /** Replicas that must confirm each commit; 0 replicates asynchronously. @default 0 */
  readonly synchronousReplicas?: number;
  /** How far a synchronous replica must get before a commit returns. @default 'on' */
  readonly synchronousCommit?: SynchronousCommit;
  /**
   * Secret with the keys `username`, `password`, `database`, `superuser-password`,
   * `replication-username` and `replication-password` (statefulset engine), which you create.
   * @default '<name>-credentials'
   */
  readonly credentialsSecret?: string;
  /** PostgreSQL image (15 or newer). @default 'postgres:15.8' (statefulset), 'ghcr.io/cloudnative-pg/postgresql:15.8' (cloudnative-pg) */
  readonly image?: string;
  /** postgres_exporter image. @default 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0' */
  readonly exporterImage?: string;
  /** Size of each instance's volume. @default '20Gi' */
  readonly storageSize?: string;
  /** Storage class of the volumes. @default - the cluster's default storage class */
  readonly storageClassName?: string;
  /** Access mode of the volumes. @default 'ReadWriteOnce' */
  readonly accessMode?: typeof ACCESS_MODES[number];
  /** Keep instances on different nodes as a hard rule rather than a preference. @default false */
  readonly requireAntiAffinity?: boolean;
  /** Requests and limits of each PostgreSQL container. @default - 500m / 1Gi requested, 2 CPU / 4Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** `max_connections`. @default 200 */
  readonly maxConnections?: number;
  /** `shared_buffers`. @default '1GB' */
  readonly sharedBuffers?: string;
  /** `work_mem`. @default '4MB' */
  readonly workMem?: string;
  /** `wal_keep_size`. @default '1GB' */
  readonly walKeepSize?: string;
  /** Further PostgreSQL parameters. @default {} */
  readonly parameters?: Record<string, string>;
  /** Networks replicas connect from, for pg_hba.conf (the NetworkPolicy narrows it to the replica pods). @default - the private ranges 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 */
  readonly podNetworks?: string[];
  /** cloudnative-pg: PgBouncer Poolers for read-write and read-only traffic. @default false */
  readonly pooler?: boolean;
  /** cloudnative-pg: a ScheduledBackup by volume snapshots. @default - no scheduled backup */
  readonly backup?: { readonly schedule: string; readonly volumeSnapshotClass: string };
  /** Pods allowed to scrape the exporters. @default - pods labelled app.kubernetes.io/name=prometheus in any namespace */
  readonly metricsScraper?: PodPeer;
  /** cloudnative-pg: labels of the PodMonitor, which your Prometheus selects it by. @default { release: 'kube-prometheus-stack' } */
  readonly podMonitorLabels?: Record<string, string>;
}

const PG_PORT = 5432;
const EXPORTER_PORT = 9187;
const PG_UID = 999;
const ETC = '/etc/postgresql';
const PGDATA = '/var/lib/postgresql/data/pgdata';
const PRIVATE_NETWORKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/**
 * PostgreSQL for the API: a primary with streaming read replicas. The 'statefulset' engine
 * renders everything itself (configs, replica bootstrap with `pg_basebackup` and one slot per
 * replica, Services `-rw`, `-ro` and per-pod DNS); the 'cloudnative-pg' engine emits a
 * CloudNativePG Cluster. Both wire into a ScaledApi the same way.
 */
export class PgReplicaSet extends Construct implements IDatabaseEndpoint, IMetricsTarget {
  public readonly engine: PgEngine;
  public readonly name: string;
  public readonly replicas: number;
  public readonly port = PG_PORT;
  public readonly primaryHost: string;
  public readonly replicaHosts: string[];
  public readonly credentialsSecret: string;
  public readonly clientEnv: k8s.EnvVar[];
  public readonly clientLinks: NetworkLink[];
  public readonly metricsEndpoints: MetricsEndpoint[];
  /** The rendered postgresql.conf and pg_hba.conf (statefulset engine). */
  public readonly postgresConf?: string;
  public readonly hbaConf?: string;
  public readonly primary?: k8s.KubeStatefulSet;
  public readonly replicaSet?: k8s.KubeStatefulSet;
  public readonly primaryNetworkPolicy?: PodNetworkPolicy;
  public readonly replicaNetworkPolicy?: PodNetworkPolicy;
  /** The CloudNativePG Cluster (cloudnative-pg engine). */
  public readonly cluster?: cnpg.Cluster;

  constructor(scope: Construct, id: string, props: PgReplicaSetProps = {}) {
    super(scope, id);
    this.name = resourceName(this);
    this.engine = requireOneOf(this, 'engine', props.engine ?? 'statefulset', ENGINES);
    this.replicas = requireIntInRange(this, 'replicas', props.replicas ?? 2, 0, 15);
    const synchronousReplicas = requireIntInRange(this, 'synchronousReplicas', props.synchronousReplicas ?? 0, 0, 15);
    if (synchronousReplicas > this.replicas) {
      throw propError(this, 'synchronousReplicas', synchronousReplicas,
        `must be less than or equal to 'replicas' (${this.replicas}), or no commit could ever be confirmed`);
    }
    const synchronousCommit = requireOneOf(this, 'synchronousCommit', props.synchronousCommit ?? 'on', SYNCHRONOUS_COMMIT_LEVELS);
    const storageSize = props.storageSize ?? '20Gi';
    requireQuantity(this, 'storageSize', storageSize);
    const accessMode = requireOneOf(this, 'accessMode', props.accessMode ?? 'ReadWriteOnce', ACCESS_MODES);
    const parameters = props.parameters ?? {};
    for (const name of Object.keys(parameters)) {
      if (!PARAMETER_NAME.test(name)) {
        throw propError(this, `parameters.${name}`, name, 'is not a PostgreSQL parameter name (lower case letters, digits and underscores, optionally prefixed by an extension name and a dot)');
      }
    }
    const tuning = {
      max_connections: String(requireIntInRange(this, 'maxConnections', props.maxConnections ?? 200, 10, 10000)),
      shared_buffers: props.sharedBuffers ?? '1GB',
      work_mem: props.workMem ?? '4MB',
    };
    const resources = resolveResources(this, 'resources', props.resources, {
      cpuRequest: '500m', memoryRequest: '1Gi', cpuLimit: '2', memoryLimit: '4Gi',
    });
    if (props.credentialsSecret !== undefined && props.credentialsSecret.trim() === '') {
      throw propError(this, 'credentialsSecret', props.credentialsSecret, 'must name the Secret that holds the credentials');
    }
    const exporterImage = requirePinnedImage(this, 'exporterImage', props.exporterImage ?? 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0');
    const dnsSuffix = `${namespaceOf(this) ?? 'default'}.svc.cluster.local`;

    if (this.engine === 'cloudnative-pg') {
      // The operator creates `<cluster>-app` with username, password and dbname.
      this.credentialsSecret = `${this.name}-app`;
      this.primaryHost = `${this.name}-rw.${dnsSuffix}`;
      // The operator moves the primary role between pods, so readers go through its `-ro` Service.
      this.replicaHosts = this.replicas > 0 ? [`${this.name}-ro.${dnsSuffix}:${PG_PORT}`] : [];
      this.cluster = this.buildCloudNativePg(props, { synchronousReplicas, synchronousCommit, storageSize, tuning, parameters, resources });
      const clusterPods = { podSelector: { 'cnpg.io/cluster': this.name } };
      this.clientLinks = [{ peer: clusterPods, ports: [PG_PORT] }];
      this.clientEnv = this.buildClientEnv({ user: 'username', password: 'password', database: 'dbname' });
      this.metricsEndpoints = [{
        exporter: 'postgres-exporter', workloadName: this.name, podSelector: clusterPods.podSelector, portName: 'metrics', port: EXPORTER_PORT, path: '/metrics', hasMonitor: true,
      }];
      return;
    }

    if (props.pooler || props.backup) {
      throw propError(this, props.pooler ? 'pooler' : 'backup', JSON.stringify(props.pooler ?? props.backup),
        'is only available with engine \'cloudnative-pg\'');
    }
    this.credentialsSecret = props.credentialsSecret ?? `${this.name}-credentials`;
    const image = requirePinnedImage(this, 'image', props.image ?? 'postgres:15.8');
    const podsService = `${this.name}-pods`;
    const primarySet = `${this.name}-primary`;
    const replicaSetName = `${this.name}-replica`;
    this.primaryHost = `${this.name}-rw.${dnsSuffix}`;
    this.replicaHosts = Array.from({ length: this.replicas }, (_, i) => `${replicaSetName}-${i}.${podsService}.${dnsSuffix}:${PG_PORT}`);
    const standbyNames = Array.from({ length: this.replicas }, (_, i) => `${replicaSetName}-${i}`.replace(/-/g, '_'));

    this.postgresConf = renderPostgresConf({
      port: PG_PORT, socketDir: '/var/run/postgresql', hbaFile: `${ETC}/pg_hba.conf`,
      maxConnections: Number(tuning.max_connections), sharedBuffers: tuning.shared_buffers, workMem: tuning.work_mem,
      walKeepSize: props.walKeepSize ?? '1GB', maxWalSenders: this.replicas + 5, maxReplicationSlots: this.replicas + 5,
      synchronousReplicas, standbyNames, synchronousCommit, parameters,
    });
    this.hbaConf = renderPgHba({
      replicationUser: 'all', replicationNetworks: props.podNetworks ?? PRIVATE_NETWORKS, clientNetworks: props.podNetworks ?? PRIVATE_NETWORKS,
    });
    const files = {
      'postgresql.conf': this.postgresConf,
      'pg_hba.conf': this.hbaConf,
      'primary-init.sh': renderPrimaryInitScript(),
      'replica-init.sh': renderReplicaInitScript(),
    };
    const configMap = new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name: `${this.name}-config`, namespace: namespaceOf(this), labels: commonLabels(this, 'postgresql', 'config') },
      data: files,
    });
    const configHash = createHash('sha256').update(JSON.stringify(files)).digest('hex');
    const secretEnv = (name: string, key: string): k8s.EnvVar => ({ name, valueFrom: { secretKeyRef: { name: this.credentialsSecret, key } } });
    const replicationEnv = [secretEnv('REPLICATION_USER', 'replication-username'), secretEnv('REPLICATION_PASSWORD', 'replication-password')];
    const commonEnv: k8s.EnvVar[] = [{ name: 'PGDATA', value: PGDATA }, ...replicationEnv];
    const allPods = { [INSTANCE_LABEL]: this.name, 'app.kubernetes.io/name': 'postgresql' };

    const statefulSet = (role: 'primary' | 'replica', setName: string, count: number, container: Partial<k8s.Container>) => {
      const labels = commonLabels(this, 'postgresql', role, imageVersion(image));
      const selector = selectorLabels(this, role);
      const run = scratchVolume('run', '/var/run/postgresql');
      const tmp = scratchVolume('tmp', '/tmp');
      return new k8s.KubeStatefulSet(this, role === 'primary' ? 'Primary' : 'Replicas', {
        metadata: { name: setName, namespace: namespaceOf(this), labels },
        spec: {
          serviceName: podsService,
          replicas: count,
          podManagementPolicy: role === 'replica' ? 'Parallel' : 'OrderedReady',
          selector: { matchLabels: selector },
          template: {
            metadata: { labels, annotations: { 'hscale.io/config-sha256': configHash } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPodSecurityContext(PG_UID, PG_UID),
              terminationGracePeriodSeconds: 60,
              affinity: nodeAntiAffinity(allPods, props.requireAntiAffinity ?? false),
              volumes: [{ name: 'config', configMap: { name: configMap.name, defaultMode: 0o444 } }, run.volume, tmp.volume],
              containers: [
                {
                  name: 'postgres',
                  image,
                  imagePullPolicy: 'IfNotPresent',
                  ports: [{ name: 'postgres', containerPort: PG_PORT, protocol: 'TCP' }],
                  resources,
                  securityContext: restrictedContainerSecurityContext(),
                  startupProbe: { exec: { command: ['pg_isready', '-h', '/var/run/postgresql', '-p', String(PG_PORT)] }, periodSeconds: 5, failureThreshold: 360 },
                  readinessProbe: { exec: { command: ['pg_isready', '-h', '/var/run/postgresql', '-p', String(PG_PORT)] }, periodSeconds: 5, timeoutSeconds: 3 },
                  livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('postgres') }, periodSeconds: 10, failureThreshold: 6 },
                  ...container,
                  volumeMounts: [
                    { name: 'config', mountPath: ETC, readOnly: true },
                    { name: 'data', mountPath: '/var/lib/postgresql/data' },
                    run.mount,
                    tmp.mount,
                    ...(container.volumeMounts ?? []),
                  ],
                },
                exporterSidecar({
                  image: exporterImage,
                  port: EXPORTER_PORT,
                  healthPath: '/',
                  cpuLimit: '200m',
                  env: [
                    { name: 'DATA_SOURCE_URI', value: `127.0.0.1:${PG_PORT}/postgres?sslmode=disable` },
                    secretEnv('DATA_SOURCE_USER', 'username'),
                    secretEnv('DATA_SOURCE_PASS', 'password'),
                  ],
                }),
              ],
            },
          },
          volumeClaimTemplates: [{
            metadata: { name: 'data', labels },
            spec: {
              accessModes: [accessMode],
              resources: { requests: { storage: k8s.Quantity.fromString(storageSize) } },
              ...(props.storageClassName ? { storageClassName: props.storageClassName } : {}),
            },
          }],
        },
      });
    };

    this.primary = statefulSet('primary', primarySet, 1, {
      args: ['postgres', '-c', `config_file=${ETC}/postgresql.conf`],
      env: [
        ...commonEnv,
        secretEnv('POSTGRES_PASSWORD', 'superuser-password'),
        secretEnv('APP_USER', 'username'), secretEnv('APP_PASSWORD', 'password'), secretEnv('APP_DATABASE', 'database'),
      ],
      // The image's entrypoint runs initdb on an empty volume, then this script, once.
      volumeMounts: [{ name: 'config', mountPath: '/docker-entrypoint-initdb.d/primary-init.sh', subPath: 'primary-init.sh', readOnly: true }],
    });
    this.replicaSet = statefulSet('replica', replicaSetName, this.replicas, {
      command: ['sh', `${ETC}/replica-init.sh`],
      env: [
        ...commonEnv,
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'PRIMARY_HOST', value: this.primaryHost },
        { name: 'PRIMARY_PORT', value: String(PG_PORT) },
        { name: 'CONFIG_FILE', value: `${ETC}/postgresql.conf` },
      ],
    });

    const primaryPods = selectorLabels(this, 'primary');
    const replicaPods = selectorLabels(this, 'replica');
    const metadata = (name: string, role: string) => ({ name, namespace: namespaceOf(this), labels: commonLabels(this, 'postgresql', role) });
    const pgPort = { name: 'postgres', port: PG_PORT, targetPort: k8s.IntOrString.fromString('postgres'), protocol: 'TCP' };
    new k8s.KubeService(this, 'ReadWrite', { metadata: metadata(`${this.name}-rw`, 'primary'), spec: { selector: primaryPods, ports: [pgPort] } });
    new k8s.KubeService(this, 'ReadOnly', { metadata: metadata(`${this.name}-ro`, 'replica'), spec: { selector: replicaPods, ports: [pgPort] } });
    new k8s.KubeService(this, 'Pods', {
      metadata: metadata(podsService, 'pods'),
      spec: {
        clusterIp: 'None', selector: allPods,
        ports: [pgPort, { name: 'metrics', port: EXPORTER_PORT, targetPort: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }],
      },
    });
    // maxUnavailable 1 on the single primary too: a budget that never allowed eviction would stall every node drain.
    for (const [role, selector] of [['primary', primaryPods], ['replica', replicaPods]] as const) {
      new k8s.KubePodDisruptionBudget(this, `${role}-budget`, {
        metadata: metadata(`${this.name}-${role}`, role),
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
      });
    }

    this.primaryNetworkPolicy = new PodNetworkPolicy(this, 'PrimaryNetworkPolicy', { podSelector: primaryPods, labels: commonLabels(this, 'postgresql', 'primary'), role: 'primary' });
    this.replicaNetworkPolicy = new PodNetworkPolicy(this, 'ReplicaNetworkPolicy', { podSelector: replicaPods, labels: commonLabels(this, 'postgresql', 'replica'), role: 'replica' });
    // Replicas stream from the primary.
    this.primaryNetworkPolicy.allowIngressFrom({ podSelector: replicaPods }, [PG_PORT]);
    this.replicaNetworkPolicy.allowEgressTo({ peer: { podSelector: primaryPods }, ports: [PG_PORT] });
    this.clientLinks = [{ peer: { podSelector: primaryPods }, ports: [PG_PORT] }, { peer: { podSelector: replicaPods }, ports: [PG_PORT] }];
    this.clientEnv = this.buildClientEnv({ user: 'username', password: 'password', database: 'database' });
    this.metricsEndpoints = [{
      exporter: 'postgres-exporter', workloadName: this.name, podSelector: allPods, portName: 'metrics', port: EXPORTER_PORT, path: '/metrics',
      serviceName: podsService, serviceLabels: commonLabels(this, 'postgresql', 'pods'),
    }];
    this.allowScraper(props.metricsScraper ?? DEFAULT_METRICS_SCRAPER);
  }

  /** Admits pods matching `client` on 5432 of the primary and the replicas. */
  public allowClient(client: PodPeer): void {
    // cloudnative-pg: the operator's pods are not isolated by us (its instance manager needs the API server and the operator).
    this.primaryNetworkPolicy?.allowIngressFrom(client, [PG_PORT]);
    this.replicaNetworkPolicy?.allowIngressFrom(client, [PG_PORT]);
  }

  /** Admits pods matching `scraper` on the exporter port. */
  public allowScraper(scraper: PodPeer): void {
    this.primaryNetworkPolicy?.allowIngressFrom(scraper, [EXPORTER_PORT]);
    this.replicaNetworkPolicy?.allowIngressFrom(scraper, [EXPORTER_PORT]);
  }

  /** PGUSER, PGPASSWORD, PGDATABASE from the Secret, then a DATABASE_URL that expands them (no credential in the YAML). */
  private buildClientEnv(keys: { user: string; password: string; database: string }): k8s.EnvVar[] {
    const fromSecret = (name: string, key: string): k8s.EnvVar => ({ name, valueFrom: { secretKeyRef: { name: this.credentialsSecret, key } } });
    return [
      fromSecret('PGUSER', keys.user),
      fromSecret('PGPASSWORD', keys.password),
      fromSecret('PGDATABASE', keys.database),
      { name: 'DATABASE_URL', value: `postgres://$(PGUSER):$(PGPASSWORD)@${this.primaryHost}:${PG_PORT}/$(PGDATABASE)` },
      { name: 'POSTGRES_READ_REPLICAS', value: this.replicaHosts.join(',') },
    ];
  }

  private buildCloudNativePg(props: PgReplicaSetProps, o: {
    synchronousReplicas: number; synchronousCommit: SynchronousCommit; storageSize: string;
    tuning: Record<string, string>; parameters: Record<string, string>; resources: k8s.ResourceRequirements;
  }): cnpg.Cluster {
    const image = requirePinnedImage(this, 'image', props.image ?? 'ghcr.io/cloudnative-pg/postgresql:15.8');
    const labels = commonLabels(this, 'postgresql', 'cluster', imageVersion(image));
    const metadata = (name: string) => ({ name, namespace: namespaceOf(this), labels });
    const quantity = (value: k8s.Quantity | undefined) => cnpg.ClusterSpecResourcesLimits.fromString(String(value?.value));
    const cluster = new cnpg.Cluster(this, 'Cluster', {
      metadata: metadata(this.name),
      spec: {
        instances: 1 + this.replicas,
        imageName: image,
        primaryUpdateStrategy: cnpg.ClusterSpecPrimaryUpdateStrategy.UNSUPERVISED,
        storage: { size: o.storageSize, ...(props.storageClassName ? { storageClass: props.storageClassName } : {}) },
        postgresql: {
          parameters: {
            ...o.tuning,
            ...(o.synchronousReplicas > 0 ? { synchronous_commit: o.synchronousCommit } : {}),
            ...o.parameters,
          },
          sharedPreloadLibraries: ['pg_stat_statements'],
          ...(o.synchronousReplicas > 0
            ? { synchronous: { method: cnpg.ClusterSpecPostgresqlSynchronousMethod.ANY, number: o.synchronousReplicas } }
            : {}),
        },
        bootstrap: { initdb: { database: 'app', owner: 'app' } },
        ...(props.backup ? { backup: { volumeSnapshot: { className: props.backup.volumeSnapshotClass } } } : {}),
        affinity: {
          enablePodAntiAffinity: true,
          podAntiAffinityType: props.requireAntiAffinity ? 'required' : 'preferred',
          topologyKey: 'kubernetes.io/hostname',
        },
        resources: {
          requests: { cpu: quantity(o.resources.requests?.cpu), memory: quantity(o.resources.requests?.memory) },
          limits: { cpu: quantity(o.resources.limits?.cpu), memory: quantity(o.resources.limits?.memory) },
        },
      },
    });
    // The operator's own `enablePodMonitor` is deprecated: monitoring comes from our PodMonitor.
    new ApiObject(this, 'PodMonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { ...metadata(this.name), labels: { ...labels, ...(props.podMonitorLabels ?? { release: 'kube-prometheus-stack' }) } },
      spec: {
        selector: { matchLabels: { 'cnpg.io/cluster': this.name } },
        podMetricsEndpoints: [{ port: 'metrics' }],
      },
    });
    if (props.pooler) {
      for (const type of [cnpg.PoolerSpecType.RW, cnpg.PoolerSpecType.RO]) {
        new cnpg.Pooler(this, `Pooler-${type}`, {
          metadata: metadata(`${this.name}-pooler-${type}`),
          spec: {
            cluster: { name: this.name },
            instances: 2,
            type,
            pgbouncer: { poolMode: cnpg.PoolerSpecPgbouncerPoolMode.TRANSACTION, parameters: { max_client_conn: '1000', default_pool_size: '20' } },
          },
        });
      }
    }
    if (props.backup) {
      new cnpg.ScheduledBackup(this, 'ScheduledBackup', {
        metadata: metadata(this.name),
        spec: { cluster: { name: this.name }, schedule: props.backup.schedule, method: cnpg.ScheduledBackupSpecMethod.VOLUME_SNAPSHOT, immediate: true },
      });
    }
    return cluster;
  }
}
