import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { MetricsEndpoint, WantedPods } from '../core/endpoints';
import { commonLabels, configHash, namespaceOf } from '../core/names';
import { disruptionBudget , exporterSidecar } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { applyPodOptionsWithServiceAccount, PodOptions } from '../core/pod-options';
import { StoreTls, tlsCaEnv } from '../core/tls';
import { PgEngineSettings, PgMemberSettings, PgServices } from './engine';
import { EXPORTER_QUERIES_FILE, renderExporterQueries } from './exporter-queries';

export const PG_PORT = 5432;
export const EXPORTER_PORT = 9187;
/** Where the PostgreSQL pods mount the TLS Secret (`tls`). */
export const PG_TLS_DIR = '/etc/postgresql-tls';
/** How often a PostgreSQL container compares the TLS files' checksum (the kubelet updates a Secret volume within a minute or two). */
export const PG_TLS_CHECK_SECONDS = 60;
/** Where the exporter sidecar mounts the config volume, to read its custom queries. */
const EXPORTER_ETC = '/etc/postgres-exporter';
/**
 * Size of the memory-backed /dev/shm of every PostgreSQL pod. A container's own /dev/shm is 64 MiB,
 * which parallel queries' dynamic shared memory outgrow ("could not resize shared memory segment");
 * as tmpfs it counts against the memory limit, so the memory budget counts it.
 */
export const PG_SHARED_MEMORY_SIZE = '256Mi';

/** The memory-backed /dev/shm volume and its mount. */
export function sharedMemoryVolume(): { volume: k8s.Volume; mount: k8s.VolumeMount } {
  return {
    volume: { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString(PG_SHARED_MEMORY_SIZE) } },
    mount: { name: 'shm', mountPath: '/dev/shm' },
  };
}

/** Metadata of an object of a PgReplicaSet's `role`. */
export function pgMetadata(scope: Construct, name: string, role: string): k8s.ObjectMeta {
  return { name, namespace: namespaceOf(scope), labels: commonLabels(scope, 'postgresql', role) };
}

/** An environment variable read from a key of the credentials Secret. */
export function secretEnv(secret: string, name: string, key: string): k8s.EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** The Secret keys holding the application's user, password and database. */
export interface CredentialKeys {
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** PGUSER, PGPASSWORD, PGDATABASE from the Secret, then a DATABASE_URL that expands them (no credential in the YAML). */
export function postgresClientEnv(secret: string, keys: CredentialKeys, primaryHost: string, replicaHosts: string[], tls?: StoreTls): k8s.EnvVar[] {
  return [
    secretEnv(secret, 'PGUSER', keys.user),
    secretEnv(secret, 'PGPASSWORD', keys.password),
    secretEnv(secret, 'PGDATABASE', keys.database),
    { name: 'DATABASE_URL', value: `postgres://$(PGUSER):$(PGPASSWORD)@${primaryHost}:${PG_PORT}/$(PGDATABASE)${tls ? '?sslmode=verify-full' : ''}` },
    { name: 'POSTGRES_READ_REPLICAS', value: replicaHosts.join(',') },
    // The CA alone (not the server's key): the service verifies every server of the set against it.
    ...(tls ? [tlsCaEnv('POSTGRES_TLS_CA', tls)] : []),
  ];
}

/** The postgres_exporter endpoint of the pods matching `podSelector`; `scrapeBy` says what Prometheus finds it by. */
export function postgresMetricsEndpoint(
  name: string, podSelector: Record<string, string>,
  scrapeBy: Pick<MetricsEndpoint, 'hasMonitor'> | Pick<MetricsEndpoint, 'serviceName' | 'serviceLabels'>, replicas: number,
): MetricsEndpoint {
  return {
    exporter: 'postgres-exporter', workloadName: name, podSelector, portName: 'metrics', port: EXPORTER_PORT, path: '/metrics', ...scrapeBy,
    withoutReplicas: replicas === 0,
  };
}

/** The keys of the credentials Secret holding the application's role, of the engines that take the Secret from the user. */
export const APP_CREDENTIAL_KEYS: CredentialKeys = { user: 'username', password: 'password', database: 'database' };

/** The keys of the credentials Secret holding the monitoring role the exporters log in as (`pg_monitor` only). */
export const MONITOR_CREDENTIAL_KEYS = { user: 'monitor-username', password: 'monitor-password' } as const;

/** MONITOR_USER and MONITOR_PASSWORD, which the primary's init script creates the monitoring role from. */
export function monitorInitEnv(secret: string): k8s.EnvVar[] {
  return [secretEnv(secret, 'MONITOR_USER', MONITOR_CREDENTIAL_KEYS.user), secretEnv(secret, 'MONITOR_PASSWORD', MONITOR_CREDENTIAL_KEYS.password)];
}

/** The exporters of an engine whose pods are all behind the headless `<name>-pods` Service, with their volume claims and the StatefulSets that want them. */
export function podsServiceMetricsEndpoint(
  scope: Construct, s: PgEngineSettings, podSelector: Record<string, string>, wantedPods: WantedPods,
): MetricsEndpoint {
  return {
    ...postgresMetricsEndpoint(s.name, podSelector, { serviceName: `${s.name}-pods`, serviceLabels: commonLabels(scope, 'postgresql', 'pods') }, s.replicas),
    volumeClaims: `data-${s.name}-`,
    wantedPods,
  };
}

/**
 * The postgres_exporter sidecar of a pod, connecting over the pod's loopback as the monitoring role, which can read statistics and no table;
 * it runs the custom queries of the pod's `config` volume.
 */
export function memberExporter(s: PgMemberSettings): k8s.Container {
  return {
    ...exporterSidecar({
      image: s.exporterImage, port: EXPORTER_PORT, healthPath: '/', cpuLimit: '200m',
      env: [
        { name: 'DATA_SOURCE_URI', value: `127.0.0.1:${PG_PORT}/postgres?sslmode=disable` },
        secretEnv(s.credentialsSecret, 'DATA_SOURCE_USER', MONITOR_CREDENTIAL_KEYS.user),
        secretEnv(s.credentialsSecret, 'DATA_SOURCE_PASS', MONITOR_CREDENTIAL_KEYS.password),
        { name: 'PG_EXPORTER_EXTEND_QUERY_PATH', value: `${EXPORTER_ETC}/${EXPORTER_QUERIES_FILE}` },
      ],
    }),
    volumeMounts: [{ name: 'config', mountPath: EXPORTER_ETC, readOnly: true }],
  };
}

/** The `data` volume claim template of a member StatefulSet. */
export function dataVolumeClaim(s: PgMemberSettings, labels: Record<string, string>): k8s.KubePersistentVolumeClaimProps {
  return {
    metadata: { name: 'data', labels },
    spec: {
      accessModes: [s.accessMode],
      resources: { requests: { storage: k8s.Quantity.fromString(s.storageSize) } },
      ...(s.storageClassName ? { storageClassName: s.storageClassName } : {}),
    },
  };
}

/**
 * A ConfigMap `<name>-config` with `files` and the exporter's custom queries, and the hash of its content for a pod annotation
 * that rolls the pods on change.
 */
export function createConfigMap(
  scope: Construct, name: string, files: Record<string, string>,
): { configMap: k8s.KubeConfigMap; hash: string; files: Record<string, string> } {
  const data = { ...files, [EXPORTER_QUERIES_FILE]: renderExporterQueries() };
  const configMap = new k8s.KubeConfigMap(scope, 'Config', {
    metadata: pgMetadata(scope, `${name}-config`, 'config'),
    data,
  });
  return { configMap, hash: usedFilesHash(data, Object.keys(data)), files: data };
}

/** The hash of the `used` files of a ConfigMap, for the annotation of pods that read only those: a change to another file rolls none of them. */
export function usedFilesHash(files: Record<string, string>, used: string[]): string {
  return configHash(JSON.stringify(used.map(file => [file, files[file]])));
}

/** A budget of one unavailable pod among those of `role`, or of none when `blocksDrain` gives the reason (the manifest checks read it). */
export function createDisruptionBudget(
  scope: Construct, name: string, role: string, selector: Record<string, string>, blocksDrain?: string,
): k8s.KubePodDisruptionBudget {
  const metadata = pgMetadata(scope, `${name}-${role}`, role);
  return disruptionBudget(
    scope, `${role}-budget`, blocksDrain ? { ...metadata, annotations: { 'hscale.io/blocks-drain': blocksDrain } } : metadata,
    selector, { maxUnavailable: blocksDrain ? 0 : 1 });
}

/** A NetworkPolicy isolating the pods of `role` (`primary` -> id `PrimaryNetworkPolicy`, name `<name>-primary`). */
export function createNetworkPolicy(scope: Construct, role: string, podSelector: Record<string, string>): PodNetworkPolicy {
  const id = `${role.charAt(0).toUpperCase()}${role.slice(1)}NetworkPolicy`;
  return new PodNetworkPolicy(scope, id, { podSelector, labels: commonLabels(scope, 'postgresql', role), role });
}

/**
 * `pod` on every PostgreSQL workload of an engine whose pods have no ServiceAccount of their own:
 * one `<name>` ServiceAccount is made for them when the options annotate it. An engine with its
 * own ServiceAccount applies `applyPodOptions` and `annotateServiceAccount` instead.
 */
export function applyMemberPodOptions(
  scope: Construct, name: string, workloads: ApiObject[], options: PodOptions,
): k8s.KubeServiceAccount | undefined {
  return applyPodOptionsWithServiceAccount(scope, 'pod', workloads, options, { id: 'ServiceAccount', metadata: pgMetadata(scope, name, 'postgresql') });
}

/** Pods a PgReplicaSet's Services select: the primary's (the leader's), the replicas', and every member. */
export interface PgServiceSelectors {
  readonly primary: Record<string, string>;
  readonly replica: Record<string, string>;
  readonly all: Record<string, string>;
}

/**
 * `-rw` (the primary), `-ro` (the replicas) and the headless `-pods` (`podsService`) for per-pod
 * DNS and metrics, which also serves the named `extraPodPorts` (Patroni's API).
 */
export function createPgServices(
  scope: Construct, name: string, podsService: string, pods: PgServiceSelectors, extraPodPorts: Record<string, number> = {},
): PgServices {
  const port = (portName: string, number: number) => ({ name: portName, port: number, targetPort: k8s.IntOrString.fromString(portName), protocol: 'TCP' });
  const pgPort = port('postgres', PG_PORT);
  return {
    readWrite: new k8s.KubeService(scope, 'ReadWrite', { metadata: pgMetadata(scope, `${name}-rw`, 'primary'), spec: { selector: pods.primary, ports: [pgPort] } }),
    readOnly: new k8s.KubeService(scope, 'ReadOnly', { metadata: pgMetadata(scope, `${name}-ro`, 'replica'), spec: { selector: pods.replica, ports: [pgPort] } }),
    pods: new k8s.KubeService(scope, 'Pods', {
      metadata: pgMetadata(scope, podsService, 'pods'),
      spec: {
        clusterIp: 'None', selector: pods.all,
        ports: [pgPort, port('metrics', EXPORTER_PORT), ...Object.entries(extraPodPorts).map(([portName, number]) => port(portName, number))],
      },
    }),
  };
}
