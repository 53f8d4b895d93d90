import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { commonLabels, CONFIG_HASH_ANNOTATION, imageVersion, INSTANCE_LABEL, namespaceOf, selectorLabels } from '../core/names';
import {
  restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume, statefulSetPlacement, withEphemeralStorage,
} from '../core/pod-defaults';
import { tlsFiles, tlsVolume } from '../core/tls';
import { PgEngineModule, PgEngineOutput, PgMemberSettings } from './engine';
import { EXPORTER_QUERIES_FILE } from './exporter-queries';
import { renderPgHba, renderPostgresConf, renderPrimaryInitScript, renderReplicaInitScript, withPostgresCertificateReload } from './postgres-conf';
import { MEMBER_PROPS, resolveMemberSettings } from './resolve';
import {
  APP_CREDENTIAL_KEYS, applyMemberPodOptions, monitorInitEnv, createConfigMap, createPgServices, createDisruptionBudget, createNetworkPolicy, dataVolumeClaim, memberExporter, PG_PORT, PG_TLS_CHECK_SECONDS, PG_TLS_DIR, podsServiceMetricsEndpoint, postgresClientEnv, secretEnv, sharedMemoryVolume, usedFilesHash,
} from './shared';

const PG_UID = 999;
const ETC = '/etc/postgresql';
const SOCKET_DIR = '/var/run/postgresql';
const PGDATA = '/var/lib/postgresql/data/pgdata';
/** The postgres image's entrypoint: initdb and the init scripts on an empty volume, then `exec` of its arguments (the postmaster). */
const IMAGE_ENTRYPOINT = 'docker-entrypoint.sh';

type Role = 'primary' | 'replica';

/**
 * Runs anywhere, with manual failover: renders every config itself (replicas bootstrap with
 * `pg_basebackup` and one slot each) and makes a primary and a replica StatefulSet, the Services
 * `-rw`, `-ro` and per-pod DNS, budgets and NetworkPolicies.
 */
/** The PostgreSQL image the statefulset engine runs when the props name none (the patroni image builds on it). */
export const STATEFULSET_DEFAULT_IMAGE = 'postgres:15.15';

export const statefulSetEngine: PgEngineModule<PgMemberSettings> = {
  name: 'statefulset',
  ownProps: MEMBER_PROPS,
  resolve: (scope, props) => resolveMemberSettings(scope, props, STATEFULSET_DEFAULT_IMAGE),
  build: (scope, settings) => new StatefulSetBuilder(scope, settings).build(),
};

class StatefulSetBuilder {
  private readonly podsService: string;
  private readonly replicaSetName: string;
  private readonly primaryHost: string;
  private readonly replicaHosts: string[];
  private readonly primaryPods: Record<string, string>;
  private readonly replicaPods: Record<string, string>;
  private readonly allPods: Record<string, string>;

  constructor(private readonly scope: Construct, private readonly s: PgMemberSettings) {
    this.podsService = `${s.name}-pods`;
    this.replicaSetName = `${s.name}-replica`;
    this.primaryHost = `${s.name}-rw.${s.dnsSuffix}`;
    this.replicaHosts = Array.from({ length: s.replicas }, (_, i) => `${this.replicaSetName}-${i}.${this.podsService}.${s.dnsSuffix}:${PG_PORT}`);
    this.primaryPods = selectorLabels(scope, 'primary');
    this.replicaPods = selectorLabels(scope, 'replica');
    this.allPods = { [INSTANCE_LABEL]: s.name, 'app.kubernetes.io/name': 'postgresql' };
  }

  public build(): PgEngineOutput {
    const { postgresConf, hbaConf, configMap, files } = this.createConfig();
    const primary = this.createStatefulSet('primary', configMap, usedFilesHash(files, ['postgresql.conf', 'pg_hba.conf', 'primary-init.sh', EXPORTER_QUERIES_FILE]));
    const replicaSet = this.createStatefulSet('replica', configMap, usedFilesHash(files, ['postgresql.conf', 'pg_hba.conf', 'replica-init.sh', EXPORTER_QUERIES_FILE]));
    const serviceAccount = applyMemberPodOptions(this.scope, this.s.name, [primary, replicaSet], this.s.pod);
    const services = createPgServices(this.scope, this.s.name, this.podsService, { primary: this.primaryPods, replica: this.replicaPods, all: this.allPods });
    // Replicas may go one at a time, reads falling back to the primary; the single primary may not.
    const disruptionBudgets = [
      createDisruptionBudget(this.scope, this.s.name, 'primary', this.primaryPods,
        'the single primary: evicting it stops every write, and failover is the manual runbook; drain its node after a promotion (docs/runbooks/pg-failover.md)'),
      createDisruptionBudget(this.scope, this.s.name, 'replica', this.replicaPods),
    ];
    const primaryNetworkPolicy = createNetworkPolicy(this.scope, 'primary', this.primaryPods);
    const replicaNetworkPolicy = createNetworkPolicy(this.scope, 'replica', this.replicaPods);
    // Replicas stream from the primary.
    primaryNetworkPolicy.allowIngressFrom({ podSelector: this.replicaPods }, [PG_PORT]);
    replicaNetworkPolicy.allowEgressTo({ peer: { podSelector: this.primaryPods }, ports: [PG_PORT] });
    return {
      postgresConf, hbaConf, primary, replicaSet, primaryNetworkPolicy, replicaNetworkPolicy, serviceAccount, configMap, services, disruptionBudgets,
      primaryHost: this.primaryHost,
      replicaHosts: this.replicaHosts,
      // A replica promoted by the runbook stays in POSTGRES_READ_REPLICAS.
      leaderIsReadTarget: true,
      clientLinks: [{ peer: { podSelector: this.primaryPods }, ports: [PG_PORT] }, { peer: { podSelector: this.replicaPods }, ports: [PG_PORT] }],
      clientEnv: postgresClientEnv(this.s.credentialsSecret, APP_CREDENTIAL_KEYS, this.primaryHost, this.replicaHosts, this.s.tls),
      metricsEndpoints: [podsServiceMetricsEndpoint(this.scope, this.s, this.allPods, { kind: 'StatefulSet', names: [`${this.s.name}-primary`, this.replicaSetName] })],
    };
  }

  /** postgresql.conf, pg_hba.conf and the init scripts, in one ConfigMap. */
  private createConfig() {
    const s = this.s;
    const standbyNames = Array.from({ length: s.replicas }, (_, i) => `${this.replicaSetName}-${i}`.replace(/-/g, '_'));
    const postgresConf = renderPostgresConf({
      port: PG_PORT, socketDir: SOCKET_DIR, hbaFile: `${ETC}/pg_hba.conf`,
      maxConnections: s.maxConnections, sharedBuffers: s.sharedBuffers, workMem: s.workMem,
      walKeepSize: s.walKeepSize, maxSlotWalKeepSize: s.maxSlotWalKeepSize, maxWalSenders: s.replicas + 5, maxReplicationSlots: s.replicas + 5,
      synchronousReplicas: s.synchronousReplicas, standbyNames, synchronousCommit: s.synchronousCommit, parameters: s.parameters,
      tls: s.tls && tlsFiles(PG_TLS_DIR),
    });
    const hbaConf = renderPgHba({ replicationUser: 'all', replicationNetworks: s.podNetworks, clientNetworks: s.podNetworks, requireTls: s.tls !== undefined });
    const { configMap, files } = createConfigMap(this.scope, s.name, {
      'postgresql.conf': postgresConf,
      'pg_hba.conf': hbaConf,
      'primary-init.sh': renderPrimaryInitScript(),
      'replica-init.sh': renderReplicaInitScript(),
    });
    return { postgresConf, hbaConf, configMap, files };
  }

  private createStatefulSet(role: Role, configMap: k8s.KubeConfigMap, configHash: string): k8s.KubeStatefulSet {
    const labels = commonLabels(this.scope, 'postgresql', role, imageVersion(this.s.image));
    return new k8s.KubeStatefulSet(this.scope, role === 'primary' ? 'Primary' : 'Replicas', {
      metadata: { name: role === 'primary' ? `${this.s.name}-primary` : this.replicaSetName, namespace: namespaceOf(this.scope), labels },
      spec: {
        serviceName: this.podsService,
        replicas: role === 'primary' ? 1 : this.s.replicas,
        podManagementPolicy: role === 'replica' ? 'Parallel' : 'OrderedReady',
        selector: { matchLabels: selectorLabels(this.scope, role) },
        template: {
          metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: configHash } },
          spec: this.podSpec(role, configMap),
        },
        volumeClaimTemplates: [dataVolumeClaim(this.s, labels)],
      },
    });
  }

  private podSpec(role: Role, configMap: k8s.KubeConfigMap): k8s.PodSpec {
    const run = scratchVolume('run', SOCKET_DIR);
    const tmp = scratchVolume('tmp', '/tmp');
    const shm = sharedMemoryVolume();
    const tls = this.s.tls ? [tlsVolume(this.s.tls, PG_TLS_DIR)] : [];
    return withEphemeralStorage({
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurityContext(PG_UID, PG_UID),
      terminationGracePeriodSeconds: 60,
      ...statefulSetPlacement(this.allPods, this.s.placement),
      volumes: [{ name: 'config', configMap: { name: configMap.name, defaultMode: 0o444 } }, run.volume, tmp.volume, shm.volume, ...tls.map(t => t.volume)],
      containers: [
        this.postgresContainer(role === 'primary' ? this.primaryStartup() : this.replicaStartup(), [run.mount, tmp.mount, shm.mount, ...tls.map(t => t.mount)]),
        memberExporter(this.s),
      ],
    });
  }

  /** The PostgreSQL container; `startup` is what differs between the primary and the replicas. */
  private postgresContainer(startup: Partial<k8s.Container>, scratchMounts: k8s.VolumeMount[]): k8s.Container {
    const isReady = () => ({ exec: { command: ['pg_isready', '-h', SOCKET_DIR, '-p', String(PG_PORT)] } });
    return {
      name: 'postgres',
      image: this.s.image,
      imagePullPolicy: 'IfNotPresent',
      ports: [{ name: 'postgres', containerPort: PG_PORT, protocol: 'TCP' }],
      resources: this.s.resources,
      securityContext: restrictedContainerSecurityContext(),
      startupProbe: { ...isReady(), periodSeconds: 5, failureThreshold: 360 },
      readinessProbe: { ...isReady(), periodSeconds: 5, timeoutSeconds: 3 },
      livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('postgres') }, periodSeconds: 10, failureThreshold: 6 },
      ...startup,
      volumeMounts: [
        { name: 'config', mountPath: ETC, readOnly: true },
        { name: 'data', mountPath: '/var/lib/postgresql/data' },
        ...scratchMounts,
        ...(startup.volumeMounts ?? []),
      ],
    };
  }

  /** `command`, with TLS run beside the loop that reloads renewed certificate files (`withPostgresCertificateReload`). */
  private withCertificateReload(command: string[]): string[] {
    return this.s.tls ? withPostgresCertificateReload(command, tlsFiles(PG_TLS_DIR), PG_TLS_CHECK_SECONDS) : command;
  }

  private primaryStartup(): Partial<k8s.Container> {
    const postgres = ['postgres', '-c', `config_file=${ETC}/postgresql.conf`];
    return {
      // The image's entrypoint runs them; with TLS the command names it, as it replaces the entrypoint.
      ...(this.s.tls ? { command: this.withCertificateReload([IMAGE_ENTRYPOINT, ...postgres]) } : { args: postgres }),
      env: [
        ...this.commonEnv(),
        this.secretEnv('POSTGRES_PASSWORD', 'superuser-password'),
        this.secretEnv('APP_USER', 'username'), this.secretEnv('APP_PASSWORD', 'password'), this.secretEnv('APP_DATABASE', 'database'),
        ...monitorInitEnv(this.s.credentialsSecret),
      ],
      // The image's entrypoint runs initdb on an empty volume, then this script, once.
      volumeMounts: [{ name: 'config', mountPath: '/docker-entrypoint-initdb.d/primary-init.sh', subPath: 'primary-init.sh', readOnly: true }],
    };
  }

  private replicaStartup(): Partial<k8s.Container> {
    return {
      command: this.withCertificateReload(['sh', `${ETC}/replica-init.sh`]),
      env: [
        ...this.commonEnv(),
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'PRIMARY_HOST', value: this.primaryHost },
        { name: 'PRIMARY_PORT', value: String(PG_PORT) },
        { name: 'CONFIG_FILE', value: `${ETC}/postgresql.conf` },
        // pg_basebackup -R writes both into primary_conninfo, so streaming verifies the primary too.
        ...(this.s.tls ? [{ name: 'PGSSLMODE', value: 'verify-full' }, { name: 'PGSSLROOTCERT', value: tlsFiles(PG_TLS_DIR).caFile }] : []),
      ],
    };
  }

  private commonEnv(): k8s.EnvVar[] {
    return [
      { name: 'PGDATA', value: PGDATA },
      this.secretEnv('REPLICATION_USER', 'replication-username'),
      this.secretEnv('REPLICATION_PASSWORD', 'replication-password'),
    ];
  }

  private secretEnv(name: string, key: string): k8s.EnvVar {
    return secretEnv(this.s.credentialsSecret, name, key);
  }
}
