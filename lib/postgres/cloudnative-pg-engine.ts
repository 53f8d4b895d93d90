import { ApiObject, JsonPatch } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { DatabaseConnectionPool } from '../core/endpoints';
import { commonLabels, imageVersion, namespaceOf, resourceName } from '../core/names';
import { CONTAINER_LOG_ROOM_MIB, fixedResources, statefulSetPlacement, withEphemeralStorage } from '../core/pod-defaults';
import { isEmptyPodOptions, mergePodOptions, patchableJson, PodOptions, podTemplateWithOptions, resolvePodOptions } from '../core/pod-options';
import { propError } from '../core/validation';
import * as cnpg from '../imports/postgresql.cnpg.io';
import { CloudNativePgSettings, PgEngineModule, PgEngineOutput } from './engine';
import { resolvePgEngineSettings } from './resolve';
import { PgReplicaSetProps } from './settings';
import { PG_PORT, postgresClientEnv, postgresMetricsEndpoint } from './shared';

/** PgBouncer pods of each Pooler. */
const POOLER_INSTANCES = 2;
/** Server connections each PgBouncer keeps for a database and user (`default_pool_size`). */
const POOLER_SERVER_POOL = 20;
/** Each server connection serves a client for one transaction: a client's session state does not outlive it. */
const POOL_MODE = cnpg.PoolerSpecPgbouncerPoolMode.TRANSACTION;
/**
 * The operator's scratch emptyDir in each instance pod (`ephemeralVolumesSizeLimit.temporaryData`):
 * it holds the instance manager's binary, which the init container copies there, and its sockets.
 */
const TEMPORARY_DATA_MIB = 512;
/** Each PgBouncer serves on one thread; 1000 clients' buffers fit in a few MiB. The operator sets none. */
const PGBOUNCER_RESOURCES = fixedResources('100m', '64Mi', '1', '256Mi');

/**
 * Needs the CloudNativePG operator, which fails over by itself: a Cluster, our PodMonitor, and
 * optionally PgBouncer Poolers and a ScheduledBackup.
 */
export const cloudNativePgEngine: PgEngineModule<CloudNativePgSettings> = {
  name: 'cloudnative-pg',
  ownProps: ['pooler', 'backup', 'podMonitorLabels', 'poolerPod'],
  resolve(scope, props) {
    // The operator creates `<cluster>-app` with username, password and dbname.
    const shared = resolvePgEngineSettings(scope, props, { defaultImage: 'ghcr.io/cloudnative-pg/postgresql:15.15', credentialsSecret: `${resourceName(scope)}-app` });
    return {
      ...shared,
      pooler: props.pooler ?? false,
      backup: props.backup,
      podMonitorLabels: props.podMonitorLabels ?? { release: 'kube-prometheus-stack' },
      poolerPod: resolvePoolerPod(scope, props, shared.pod),
    };
  },
  build: (scope, settings) => new CloudNativePgBuilder(scope, settings).build(),
};

/** `poolerPod` laid over `pod` for the PgBouncer pods, which only `pooler` makes; their ServiceAccount is the operator's. */
function resolvePoolerPod(scope: Construct, props: PgReplicaSetProps, pod: PodOptions): PodOptions {
  const poolerPod = resolvePodOptions(scope, 'poolerPod', props.poolerPod);
  if (props.poolerPod !== undefined && !props.pooler) {
    throw propError(scope, 'poolerPod', JSON.stringify(props.poolerPod), 'needs \'pooler\' (engine \'cloudnative-pg\'), which makes the PgBouncer pods');
  }
  if (poolerPod.serviceAccountAnnotations !== undefined) {
    throw propError(scope, 'poolerPod.serviceAccountAnnotations', Object.keys(poolerPod.serviceAccountAnnotations).join(', '),
      'cannot be set: the CloudNativePG operator makes and manages the PgBouncer pods\' ServiceAccount');
  }
  // The Cluster's ServiceAccount takes `pod`'s annotations; the Poolers' is the operator's.
  return mergePodOptions({ ...pod, serviceAccountAnnotations: undefined }, poolerPod);
}

class CloudNativePgBuilder {
  private readonly labels: Record<string, string>;

  constructor(private readonly scope: Construct, private readonly s: CloudNativePgSettings) {
    this.labels = commonLabels(scope, 'postgresql', 'cluster', imageVersion(s.image));
  }

  public build(): PgEngineOutput {
    const s = this.s;
    const cluster = this.createCluster();
    applyClusterPodOptions(cluster, s.pod);
    const podMonitor = this.createPodMonitor();
    const poolers = s.pooler ? this.createPoolers() : undefined;
    const scheduledBackup = s.backup ? this.createScheduledBackup(s.backup.schedule) : undefined;
    // Clients reach the primary through `-rw` and, as the operator moves the primary role between pods, the
    // replicas through `-ro`: the Cluster's Services, or the Poolers' of the same names when PgBouncer stands between.
    const entry = poolers ? `${s.name}-pooler` : s.name;
    const primaryHost = `${entry}-rw.${s.dnsSuffix}`;
    const replicaHosts = s.replicas > 0 ? [`${entry}-ro.${s.dnsSuffix}:${PG_PORT}`] : [];
    const clusterPods = { 'cnpg.io/cluster': s.name };
    const clientPods = poolers ? poolers.map(pooler => ({ 'cnpg.io/poolerName': pooler.name })) : [clusterPods];
    return {
      cluster,
      poolers,
      podMonitor,
      scheduledBackup,
      primaryHost,
      replicaHosts,
      clientLinks: clientPods.map(podSelector => ({ peer: { podSelector }, ports: [PG_PORT] })),
      serverPools: poolers && this.poolerServerPools(poolers),
      clientEnv: [
        ...postgresClientEnv(s.credentialsSecret, { user: 'username', password: 'password', database: 'dbname' }, primaryHost, replicaHosts),
        // The client must know it talks to PgBouncer: no startup settings, and in transaction pooling no named prepared statements.
        ...(poolers ? [{ name: 'POSTGRES_POOL_MODE', value: POOL_MODE }] : []),
        // -ro (or -pooler-ro) is one address over every replica: a token read is checked on its own connection.
        ...(replicaHosts.length > 0 ? [{ name: 'POSTGRES_READ_REPLICAS_BALANCED', value: 'true' }] : []),
      ],
      // The instance manager serves the metrics, as cnpg_*; CloudNativePG names each instance's claim after the instance: <cluster>-<n>.
      metricsEndpoints: [{
        ...postgresMetricsEndpoint(s.name, clusterPods, { hasMonitor: true }, s.replicas), exporter: 'cloudnative-pg', volumeClaims: `${s.name}-`,
        // The operator makes the instances' pods itself; each instance's claim (<cluster>-<n>) stays while the Cluster wants it.
        wantedPods: { kind: 'PersistentVolumeClaim', names: [`${s.name}-[0-9]+`] },
      }],
    };
  }

  private metadata(name: string) {
    return { name, namespace: namespaceOf(this.scope), labels: this.labels };
  }

  private createCluster(): cnpg.Cluster {
    const s = this.s;
    return new cnpg.Cluster(this.scope, 'Cluster', {
      metadata: this.metadata(s.name),
      spec: {
        instances: 1 + s.replicas,
        imageName: s.image,
        primaryUpdateStrategy: cnpg.ClusterSpecPrimaryUpdateStrategy.UNSUPERVISED,
        storage: { size: s.storageSize, ...(s.storageClassName ? { storageClass: s.storageClassName } : {}) },
        postgresql: this.postgresqlSpec(),
        bootstrap: { initdb: { database: 'app', owner: 'app' } },
        ephemeralVolumesSizeLimit: { temporaryData: cnpg.ClusterSpecEphemeralVolumesSizeLimitTemporaryData.fromString(`${TEMPORARY_DATA_MIB}Mi`) },
        ...(s.backup ? { backup: { volumeSnapshot: { className: s.backup.volumeSnapshotClass } } } : {}),
        affinity: {
          enablePodAntiAffinity: true,
          podAntiAffinityType: s.placement,
          topologyKey: 'kubernetes.io/hostname',
        },
        // Over zones as the other engines' StatefulSets: a preference.
        topologySpreadConstraints: statefulSetPlacement({ 'cnpg.io/cluster': s.name }, s.placement).topologySpreadConstraints,
        resources: this.clusterResources(),
      },
    });
  }

  private postgresqlSpec(): cnpg.ClusterSpecPostgresql {
    const s = this.s;
    const synchronous = s.synchronousReplicas > 0;
    return {
      parameters: {
        max_connections: String(s.maxConnections),
        shared_buffers: s.sharedBuffers,
        work_mem: s.workMem,
        wal_keep_size: s.walKeepSize,
        max_slot_wal_keep_size: s.maxSlotWalKeepSize,
        ...(synchronous ? { synchronous_commit: s.synchronousCommit } : {}),
        ...s.parameters,
      },
      sharedPreloadLibraries: ['pg_stat_statements'],
      ...(synchronous
        ? { synchronous: { method: cnpg.ClusterSpecPostgresqlSynchronousMethod.ANY, number: s.synchronousReplicas } }
        : {}),
    };
  }

  /**
   * The instance containers' resources (the operator gives the init container the same). Its
   * ephemeral storage holds the scratch emptyDir and the logs, as {@link withEphemeralStorage} counts.
   */
  private clusterResources(): cnpg.ClusterSpecResources {
    const quantity = (value: k8s.Quantity | undefined) => cnpg.ClusterSpecResourcesLimits.fromString(String(value?.value));
    const storage = cnpg.ClusterSpecResourcesLimits.fromString(`${TEMPORARY_DATA_MIB + CONTAINER_LOG_ROOM_MIB}Mi`);
    const { requests, limits } = this.s.resources;
    return {
      requests: { 'cpu': quantity(requests?.cpu), 'memory': quantity(requests?.memory), 'ephemeral-storage': storage },
      limits: { 'cpu': quantity(limits?.cpu), 'memory': quantity(limits?.memory), 'ephemeral-storage': storage },
    };
  }

  private createPodMonitor(): ApiObject {
    // The operator's own `enablePodMonitor` is deprecated: monitoring comes from our PodMonitor.
    return new ApiObject(this.scope, 'PodMonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { ...this.metadata(this.s.name), labels: { ...this.labels, ...this.s.podMonitorLabels } },
      spec: {
        selector: { matchLabels: { 'cnpg.io/cluster': this.s.name } },
        podMetricsEndpoints: [{ port: 'metrics' }],
      },
    });
  }

  private createPoolers(): cnpg.Pooler[] {
    return [cnpg.PoolerSpecType.RW, cnpg.PoolerSpecType.RO].map(type => {
      const pooler = new cnpg.Pooler(this.scope, `Pooler-${type}`, {
        metadata: this.metadata(`${this.s.name}-pooler-${type}`),
        spec: {
          cluster: { name: this.s.name },
          instances: POOLER_INSTANCES,
          type,
          pgbouncer: {
            poolMode: POOL_MODE,
            parameters: { max_client_conn: '1000', default_pool_size: String(POOLER_SERVER_POOL) },
          },
        },
      });
      applyPoolerTemplate(pooler, this.s.poolerPod);
      return pooler;
    });
  }

  /**
   * What the PostgreSQL servers see when the Poolers stand between: each PgBouncer keeps at most
   * `default_pool_size` server connections for the one database and user the clients share, the
   * read-write Poolers' to the primary, the read-only Poolers' to the replica `-ro` picks.
   */
  private poolerServerPools(poolers: cnpg.Pooler[]): DatabaseConnectionPool[] {
    return poolers.map(pooler => {
      const readWrite = pooler.name.endsWith(`-${cnpg.PoolerSpecType.RW}`);
      return {
        client: `${pooler.node.path} (PgBouncer)`, maxPods: POOLER_INSTANCES,
        primaryPerPod: readWrite ? POOLER_SERVER_POOL : 0, replicaPerPod: readWrite ? 0 : POOLER_SERVER_POOL,
      };
    });
  }

  private createScheduledBackup(schedule: string): ApiObject {
    return new cnpg.ScheduledBackup(this.scope, 'ScheduledBackup', {
      metadata: this.metadata(this.s.name),
      spec: { cluster: { name: this.s.name }, schedule, method: cnpg.ScheduledBackupSpecMethod.VOLUME_SNAPSHOT, immediate: true },
    });
  }
}

/**
 * `pod` on the instances the operator runs for a Cluster (and the Jobs it runs for them, which
 * take the same scheduling): the Cluster's own fields for each option. Pod anti-affinity terms go
 * to `additionalPodAntiAffinity`, beside the operator's own; labels and annotations to
 * `inheritedMetadata`, which the operator puts on every object it makes for the Cluster.
 */
export function applyClusterPodOptions(cluster: ApiObject, o: PodOptions): void {
  if (isEmptyPodOptions(o)) return;
  const spec = patchableJson(cluster).spec ?? {};
  const affinity = JSON.parse(JSON.stringify({
    ...spec.affinity,
    nodeSelector: o.nodeSelector,
    tolerations: o.tolerations,
    nodeAffinity: o.affinity?.nodeAffinity,
    additionalPodAffinity: o.affinity?.podAffinity,
    additionalPodAntiAffinity: o.affinity?.podAntiAffinity,
  }));
  cluster.addJsonPatch(JsonPatch.add('/spec/affinity', affinity));
  if (o.priorityClassName) cluster.addJsonPatch(JsonPatch.add('/spec/priorityClassName', o.priorityClassName));
  if (o.imagePullSecrets?.length) cluster.addJsonPatch(JsonPatch.add('/spec/imagePullSecrets', o.imagePullSecrets.map(name => ({ name }))));
  if (o.labels || o.annotations) {
    cluster.addJsonPatch(JsonPatch.add('/spec/inheritedMetadata', JSON.parse(JSON.stringify({ labels: o.labels, annotations: o.annotations }))));
  }
  if (o.serviceAccountAnnotations) {
    cluster.addJsonPatch(JsonPatch.add('/spec/serviceAccountTemplate', { metadata: { annotations: o.serviceAccountAnnotations } }));
  }
}

/**
 * The Pooler's pod template, which the operator merges into its own by container name: the
 * `pgbouncer` container's resources, and the pods' options.
 */
function applyPoolerTemplate(pooler: ApiObject, o: PodOptions): void {
  const pgbouncer = { name: 'pgbouncer', resources: PGBOUNCER_RESOURCES };
  const template = podTemplateWithOptions({ metadata: {}, spec: withEphemeralStorage({ containers: [pgbouncer] }) }, o);
  pooler.addJsonPatch(JsonPatch.add('/spec/template', JSON.parse(JSON.stringify(template))));
}
