import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { commonLabels, imageVersion, namespaceOf } from '../core/names';
import * as cnpg from '../imports/postgresql.cnpg.io';
import { PgEngineModule, PgEngineOutput, PgEngineSettings } from './engine';
import { PG_PORT, postgresClientEnv, postgresMetricsEndpoint } from './shared';

/**
 * Needs the CloudNativePG operator, which fails over by itself: a Cluster, our PodMonitor, and
 * optionally PgBouncer Poolers and a ScheduledBackup.
 */
export const cloudNativePgEngine: PgEngineModule = {
  defaultImage: 'ghcr.io/cloudnative-pg/postgresql:15.8',
  // The operator creates `<cluster>-app` with username, password and dbname.
  credentialsSecret: name => `${name}-app`,
  build: (scope, settings) => new CloudNativePgBuilder(scope, settings).build(),
};

class CloudNativePgBuilder {
  private readonly labels: Record<string, string>;

  constructor(private readonly scope: Construct, private readonly s: PgEngineSettings) {
    this.labels = commonLabels(scope, 'postgresql', 'cluster', imageVersion(s.image));
  }

  public build(): PgEngineOutput {
    const s = this.s;
    const cluster = this.createCluster();
    this.createPodMonitor();
    if (s.pooler) this.createPoolers();
    if (s.backup) this.createScheduledBackup(s.backup.schedule);
    const primaryHost = `${s.name}-rw.${s.dnsSuffix}`;
    // The operator moves the primary role between pods, so readers go through its `-ro` Service.
    const replicaHosts = s.replicas > 0 ? [`${s.name}-ro.${s.dnsSuffix}:${PG_PORT}`] : [];
    const clusterPods = { 'cnpg.io/cluster': s.name };
    return {
      cluster,
      primaryHost,
      replicaHosts,
      clientLinks: [{ peer: { podSelector: clusterPods }, ports: [PG_PORT] }],
      clientEnv: postgresClientEnv(s.credentialsSecret, { user: 'username', password: 'password', database: 'dbname' }, primaryHost, replicaHosts),
      metricsEndpoints: [postgresMetricsEndpoint(s.name, clusterPods, { hasMonitor: true }, s.replicas)],
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
        ...(s.backup ? { backup: { volumeSnapshot: { className: s.backup.volumeSnapshotClass } } } : {}),
        affinity: {
          enablePodAntiAffinity: true,
          podAntiAffinityType: s.requireAntiAffinity ? 'required' : 'preferred',
          topologyKey: 'kubernetes.io/hostname',
        },
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
        ...(synchronous ? { synchronous_commit: s.synchronousCommit } : {}),
        ...s.parameters,
      },
      sharedPreloadLibraries: ['pg_stat_statements'],
      ...(synchronous
        ? { synchronous: { method: cnpg.ClusterSpecPostgresqlSynchronousMethod.ANY, number: s.synchronousReplicas } }
        : {}),
    };
  }

  private clusterResources(): cnpg.ClusterSpecResources {
    const quantity = (value: k8s.Quantity | undefined) => cnpg.ClusterSpecResourcesLimits.fromString(String(value?.value));
    const { requests, limits } = this.s.resources;
    return {
      requests: { cpu: quantity(requests?.cpu), memory: quantity(requests?.memory) },
      limits: { cpu: quantity(limits?.cpu), memory: quantity(limits?.memory) },
    };
  }

  private createPodMonitor(): void {
    // The operator's own `enablePodMonitor` is deprecated: monitoring comes from our PodMonitor.
    new ApiObject(this.scope, 'PodMonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { ...this.metadata(this.s.name), labels: { ...this.labels, ...this.s.podMonitorLabels } },
      spec: {
        selector: { matchLabels: { 'cnpg.io/cluster': this.s.name } },
        podMetricsEndpoints: [{ port: 'metrics' }],
      },
    });
  }

  private createPoolers(): void {
    for (const type of [cnpg.PoolerSpecType.RW, cnpg.PoolerSpecType.RO]) {
      new cnpg.Pooler(this.scope, `Pooler-${type}`, {
        metadata: this.metadata(`${this.s.name}-pooler-${type}`),
        spec: {
          cluster: { name: this.s.name },
          instances: 2,
          type,
          pgbouncer: { poolMode: cnpg.PoolerSpecPgbouncerPoolMode.TRANSACTION, parameters: { max_client_conn: '1000', default_pool_size: '20' } },
        },
      });
    }
  }

  private createScheduledBackup(schedule: string): void {
    new cnpg.ScheduledBackup(this.scope, 'ScheduledBackup', {
      metadata: this.metadata(this.s.name),
      spec: { cluster: { name: this.s.name }, schedule, method: cnpg.ScheduledBackupSpecMethod.VOLUME_SNAPSHOT, immediate: true },
    });
  }
}
