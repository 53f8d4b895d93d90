import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { MetricsEndpoint, WantedPods } from '../core/endpoints';
import { commonLabels, CONFIG_HASH_ANNOTATION, imageVersion, INSTANCE_LABEL, namespaceOf, RUNTIME_LABELS_ANNOTATION } from '../core/names';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume, statefulSetPlacement, withEphemeralStorage } from '../core/pod-defaults';
import { annotateServiceAccount, applyPodOptions } from '../core/pod-options';
import { tlsFiles, tlsVolume } from '../core/tls';
import { propError, requireWholeDuration } from '../core/validation';
import { PatroniEngineSettings, PatroniSettings, PgEngineModule, PgEngineOutput } from './engine';
import { DEFAULT_PATRONI_TIMING, patroniTimingViolation, renderPatroniConf, renderPatroniHba, withPatroniCertificateReload } from './patroni-conf';
import { renderPatroniLauncher } from './patroni-launcher';
import { parsePgSize, renderPrimaryInitScript } from './postgres-conf';
import { MEMBER_PROPS, resolveMemberSettings } from './resolve';
import { PatroniProps } from './settings';
import {
  APP_CREDENTIAL_KEYS, monitorInitEnv, createConfigMap, createPgServices, createDisruptionBudget, createNetworkPolicy, dataVolumeClaim, memberExporter, PG_PORT, PG_TLS_CHECK_SECONDS, PG_TLS_DIR, pgMetadata, podsServiceMetricsEndpoint, postgresClientEnv, secretEnv, sharedMemoryVolume,
} from './shared';

export const PATRONI_PORT = 8008;
/** The pod label Patroni keeps on each member: `master` on the leader, `replica` on the others (Patroni 3.0). */
export const PATRONI_ROLE_LABEL = 'role';
export const PATRONI_SUPERUSER = 'postgres';
/** The keys of the credentials Secret that hold the REST API's basic-auth user and password (patronictl reads them from the same env). */
export const PATRONI_RESTAPI_CREDENTIAL_KEYS = { user: 'restapi-username', password: 'restapi-password' } as const;
const PG_UID = 999;
const ETC = '/etc/patroni';
const SOCKET_DIR = '/var/run/postgresql';
const DATA = '/var/lib/postgresql/data';
const PGDATA = `${DATA}/pgdata`;
const BIN_DIR = '/usr/lib/postgresql/15/bin';
/**
 * The member container's command: Patroni's main through the launcher in the ConfigMap
 * ({@link renderPatroniLauncher}), whose name is no module's (a `patroni.py` would shadow Patroni), run by
 * the interpreter the package's own `patroni` script names.
 */
export const PATRONI_COMMAND = ['/usr/bin/python3', `${ETC}/launch-patroni.py`, `${ETC}/patroni.yml`];

/**
 * Automatic failover without an operator: one StatefulSet of `replicas + 1` members running
 * Patroni, with Kubernetes (ConfigMaps) as its store; `-rw` selects the member Patroni labels
 * `role=master`, `-ro` those labelled `role=replica`, `-pods` gives per-pod DNS.
 */
/** The image the patroni engine runs when the props name none: images/patroni/Dockerfile, PostgreSQL and Patroni versions in its tag. */
export const PATRONI_DEFAULT_IMAGE = 'ghcr.io/hscale/patroni:15.15-3.0.2';

/**
 * Patroni's Python process beside PostgreSQL, in the memory budget: 37.6-39.1 MiB resident
 * (Patroni 3.0.2, Python 3.11; every member the tests ran during two fresh-clone CIs on
 * 2026-12-07, sampled every 2 s), with room for the Python Patroni spawns to start the postmaster.
 */
const PATRONI_MEMORY = { name: 'Patroni', bytes: 64 * 2 ** 20 };

export const patroniEngine: PgEngineModule<PatroniEngineSettings> = {
  name: 'patroni',
  ownProps: [...MEMBER_PROPS, 'patroni'],
  resolve: (scope, props) => ({
    ...resolveMemberSettings(scope, props, PATRONI_DEFAULT_IMAGE, PATRONI_MEMORY), patroni: resolvePatroni(scope, props.patroni ?? {}),
  }),
  build: (scope, settings) => new PatroniBuilder(scope, settings).build(),
};

/** The `patroni` prop: a timing that fails over within `ttl` (`patroniTimingViolation`), a lag bound that is a PostgreSQL size. */
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


class PatroniBuilder {
  private readonly members: number;
  private readonly podsService: string;
  private readonly allPods: Record<string, string>;
  private readonly leaderPods: Record<string, string>;
  private readonly replicaPods: Record<string, string>;
  /** The members' StatefulSet, which wants them while its replicas are above 0. */
  private readonly membersWanted: WantedPods;

  constructor(private readonly scope: Construct, private readonly s: PatroniEngineSettings) {
    this.members = s.replicas + 1;
    this.membersWanted = { kind: 'StatefulSet', names: [s.name] };
    this.podsService = `${s.name}-pods`;
    this.allPods = { [INSTANCE_LABEL]: s.name, 'app.kubernetes.io/name': 'postgresql' };
    this.leaderPods = { ...this.allPods, [PATRONI_ROLE_LABEL]: 'master' };
    this.replicaPods = { ...this.allPods, [PATRONI_ROLE_LABEL]: 'replica' };
  }

  public build(): PgEngineOutput {
    const { configMap, hash, patroniConf } = this.createConfig();
    const { serviceAccount, role, roleBinding } = this.createAccess();
    const members = this.createStatefulSet(configMap, hash, serviceAccount);
    annotateServiceAccount(serviceAccount, this.s.pod.serviceAccountAnnotations);
    applyPodOptions(this.scope, 'pod', members, this.s.pod, { runtimeSelectorLabels: [PATRONI_ROLE_LABEL] });
    // -rw follows the leader by the role label Patroni keeps on its pod; -pods also serves Patroni's API.
    const services = createPgServices(this.scope, this.s.name, this.podsService,
      { primary: this.leaderPods, replica: this.replicaPods, all: this.allPods }, { patroni: PATRONI_PORT });
    // Any member may go, one at a time: a leader's eviction is a failover of seconds.
    const disruptionBudgets = [createDisruptionBudget(this.scope, this.s.name, 'members', this.allPods)];
    const primaryNetworkPolicy = this.createNetworkPolicy();
    const primaryHost = `${this.s.name}-rw.${this.s.dnsSuffix}`;
    const replicaHosts = Array.from({ length: this.members }, (_, i) => `${this.s.name}-${i}.${this.podsService}.${this.s.dnsSuffix}:${PG_PORT}`);
    return {
      postgresConf: patroniConf, primary: members, primaryNetworkPolicy, serviceAccount, role, roleBinding, configMap, services, disruptionBudgets,
      primaryHost,
      // Every member: the service checks each with pg_is_in_recovery() and reads only from replicas.
      replicaHosts: this.s.replicas > 0 ? replicaHosts : [],
      leaderIsReadTarget: true,
      // Patroni keeps one superuser connection to its PostgreSQL (Patroni 3.0: the loop's and the REST API's).
      agentConnections: [{ client: 'Patroni', pods: 1, perPod: 1 }],
      clientLinks: [{ peer: { podSelector: this.allPods }, ports: [PG_PORT] }],
      clientEnv: postgresClientEnv(this.s.credentialsSecret, APP_CREDENTIAL_KEYS, primaryHost, this.s.replicas > 0 ? replicaHosts : [], this.s.tls),
      metricsEndpoints: [podsServiceMetricsEndpoint(this.scope, this.s, this.allPods, this.membersWanted), this.patroniMetricsEndpoint()],
    };
  }

  /** Patroni's REST `/metrics` on each member (leader, role, timeline, WAL positions), beside postgres_exporter's; same Service, same `job`. */
  private patroniMetricsEndpoint(): MetricsEndpoint {
    const { serviceName, serviceLabels, withoutReplicas } = podsServiceMetricsEndpoint(this.scope, this.s, this.allPods, this.membersWanted);
    return {
      exporter: 'patroni', workloadName: this.s.name, podSelector: this.allPods, portName: 'patroni', port: PATRONI_PORT, path: '/metrics',
      serviceName, serviceLabels, withoutReplicas,
    };
  }

  /** patroni.yml, the script that runs Patroni and the post-bootstrap script, in one ConfigMap. */
  private createConfig() {
    const s = this.s;
    const patroniConf = renderPatroniConf({
      scope: s.name, labels: { 'app.kubernetes.io/name': 'postgresql' },
      scopeLabel: INSTANCE_LABEL, timing: s.patroni.timing, synchronousReplicas: s.synchronousReplicas,
      synchronousModeStrict: s.patroni.synchronousModeStrict, maximumLagOnFailover: parsePgSize(s.patroni.maximumLagOnFailover)!,
      dataDir: PGDATA, binDir: BIN_DIR, pgpass: '/tmp/pgpass', postBootstrap: `sh ${ETC}/post-bootstrap.sh`,
      hba: renderPatroniHba({ networks: s.podNetworks, superuser: PATRONI_SUPERUSER, requireTls: s.tls !== undefined }),
      postgres: {
        port: PG_PORT, socketDir: SOCKET_DIR, hbaFile: '', maxConnections: s.maxConnections, sharedBuffers: s.sharedBuffers, workMem: s.workMem,
        walKeepSize: s.walKeepSize, maxSlotWalKeepSize: s.maxSlotWalKeepSize, maxWalSenders: this.members + 5, maxReplicationSlots: this.members + 5,
        synchronousReplicas: s.synchronousReplicas, standbyNames: [], synchronousCommit: s.synchronousCommit, parameters: s.parameters,
        tls: s.tls && tlsFiles(PG_TLS_DIR),
      },
    });
    const { configMap, hash } = createConfigMap(this.scope, s.name, {
      'patroni.yml': patroniConf, 'launch-patroni.py': renderPatroniLauncher(), 'post-bootstrap.sh': renderPrimaryInitScript(),
    });
    return { configMap, hash, patroniConf };
  }

  /** The ServiceAccount Patroni reads and writes the store with, and a Role with exactly what it does. */
  private createAccess(): { serviceAccount: k8s.KubeServiceAccount; role: k8s.KubeRole; roleBinding: k8s.KubeRoleBinding } {
    const metadata = pgMetadata(this.scope, this.s.name, 'postgresql');
    const serviceAccount = new k8s.KubeServiceAccount(this.scope, 'ServiceAccount', { metadata, automountServiceAccountToken: false });
    const role = new k8s.KubeRole(this.scope, 'Role', {
      metadata,
      rules: [
        // The leader lock, the cluster config, the sync state and a pending switchover: ConfigMaps named
        // after the cluster (<name>-leader, -config, -sync, -failover), which Patroni creates.
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
        // Each member labels its own pod with its role and writes its status into an annotation.
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
      ],
    });
    const roleBinding = new k8s.KubeRoleBinding(this.scope, 'RoleBinding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount.name, namespace: namespaceOf(this.scope) }],
    });
    return { serviceAccount, role, roleBinding };
  }

  private createStatefulSet(configMap: k8s.KubeConfigMap, configHash: string, serviceAccount: k8s.KubeServiceAccount): k8s.KubeStatefulSet {
    const labels = commonLabels(this.scope, 'postgresql', 'member', imageVersion(this.s.image));
    const run = scratchVolume('run', SOCKET_DIR);
    const tmp = scratchVolume('tmp', '/tmp');
    const shm = sharedMemoryVolume();
    const tls = this.s.tls ? [tlsVolume(this.s.tls, PG_TLS_DIR)] : [];
    return new k8s.KubeStatefulSet(this.scope, 'Members', {
      metadata: { name: this.s.name, namespace: namespaceOf(this.scope), labels },
      spec: {
        serviceName: this.podsService,
        replicas: this.members,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: this.allPods },
        template: {
          metadata: {
            labels: { ...labels, ...this.allPods },
            annotations: {
              [CONFIG_HASH_ANNOTATION]: configHash,
              'hscale.io/needs-service-account-token': 'Patroni keeps its leader lock in ConfigMaps through the API server',
              [RUNTIME_LABELS_ANNOTATION]: JSON.stringify({ [PATRONI_ROLE_LABEL]: ['master', 'replica'] }),
            },
          },
          spec: withEphemeralStorage({
            serviceAccountName: serviceAccount.name,
            automountServiceAccountToken: true,
            securityContext: restrictedPodSecurityContext(PG_UID, PG_UID),
            terminationGracePeriodSeconds: 60,
            ...statefulSetPlacement(this.allPods, this.s.placement),
            volumes: [{ name: 'config', configMap: { name: configMap.name, defaultMode: 0o444 } }, run.volume, tmp.volume, shm.volume, ...tls.map(t => t.volume)],
            containers: [this.patroniContainer([run.mount, tmp.mount, shm.mount, ...tls.map(t => t.mount)]), memberExporter(this.s)],
          }),
        },
        volumeClaimTemplates: [dataVolumeClaim(this.s, labels)],
      },
    });
  }

  private patroniContainer(scratchMounts: k8s.VolumeMount[]): k8s.Container {
    const rest = (path: string) => ({ httpGet: { path, port: k8s.IntOrString.fromString('patroni') } });
    return {
      name: 'patroni',
      image: this.s.image,
      imagePullPolicy: 'IfNotPresent',
      // The image's Patroni, through renderPatroniLauncher's fix of a double demotion behind a partition;
      // with TLS beside the loop that has it reload renewed certificate files.
      command: this.s.tls ? withPatroniCertificateReload(PATRONI_COMMAND, tlsFiles(PG_TLS_DIR), PG_TLS_CHECK_SECONDS) : PATRONI_COMMAND,
      ports: [{ name: 'postgres', containerPort: PG_PORT, protocol: 'TCP' }, { name: 'patroni', containerPort: PATRONI_PORT, protocol: 'TCP' }],
      env: this.patroniEnv(),
      resources: this.s.resources,
      securityContext: restrictedContainerSecurityContext(),
      // A new replica clones the leader before it is ready: as long as the data takes to copy.
      startupProbe: { ...rest('/liveness'), periodSeconds: 5, failureThreshold: 360 },
      // Ready: the leader, or a replica that streams (Patroni's /readiness).
      readinessProbe: { ...rest('/readiness'), periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2 },
      // Patroni's HA loop ran within ttl; PostgreSQL itself Patroni restarts.
      livenessProbe: { ...rest('/liveness'), periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 6 },
      volumeMounts: [{ name: 'config', mountPath: ETC, readOnly: true }, { name: 'data', mountPath: DATA }, ...scratchMounts],
    };
  }

  /**
   * The host the other members reach this member's PostgreSQL at (replication, pg_rewind): its pod IP, or
   * with TLS its DNS name under the headless Service, which the certificate names and `verify-full` checks
   * (a pod IP is in no certificate cert-manager can issue).
   */
  private connectHost(): string {
    return this.s.tls ? `$(PATRONI_NAME).${this.podsService}.${this.s.dnsSuffix}` : '$(PATRONI_KUBERNETES_POD_IP)';
  }

  /** Patroni's per-member settings and the credentials, from env (PATRONI_* override patroni.yml). */
  private patroniEnv(): k8s.EnvVar[] {
    const secret = (name: string, key: string) => secretEnv(this.s.credentialsSecret, name, key);
    return [
      { name: 'PATRONI_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'PATRONI_KUBERNETES_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'PATRONI_KUBERNETES_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'PATRONI_POSTGRESQL_LISTEN', value: `0.0.0.0:${PG_PORT}` },
      { name: 'PATRONI_POSTGRESQL_CONNECT_ADDRESS', value: `${this.connectHost()}:${PG_PORT}` },
      { name: 'PATRONI_RESTAPI_LISTEN', value: `0.0.0.0:${PATRONI_PORT}` },
      { name: 'PATRONI_RESTAPI_CONNECT_ADDRESS', value: `$(PATRONI_KUBERNETES_POD_IP):${PATRONI_PORT}` },
      { name: 'PATRONI_SUPERUSER_USERNAME', value: PATRONI_SUPERUSER },
      secret('PATRONI_SUPERUSER_PASSWORD', 'superuser-password'),
      secret('PATRONI_REPLICATION_USERNAME', 'replication-username'),
      secret('PATRONI_REPLICATION_PASSWORD', 'replication-password'),
      secret('PATRONI_REWIND_USERNAME', 'rewind-username'),
      secret('PATRONI_REWIND_PASSWORD', 'rewind-password'),
      // Basic auth for the REST API's unsafe endpoints (switchover, failover, restart, reinitialize,
      // PATCH /config): its GETs (/metrics, /health, /readiness, /primary, /replica) stay open to the peers the NetworkPolicy admits.
      secret('PATRONI_RESTAPI_USERNAME', PATRONI_RESTAPI_CREDENTIAL_KEYS.user),
      secret('PATRONI_RESTAPI_PASSWORD', PATRONI_RESTAPI_CREDENTIAL_KEYS.password),
      // The post-bootstrap script's (renderPrimaryInitScript): the application's role and database.
      { name: 'PGHOST', value: SOCKET_DIR },
      secret('REPLICATION_USER', 'replication-username'), secret('REPLICATION_PASSWORD', 'replication-password'),
      secret('APP_USER', APP_CREDENTIAL_KEYS.user), secret('APP_PASSWORD', APP_CREDENTIAL_KEYS.password), secret('APP_DATABASE', APP_CREDENTIAL_KEYS.database),
      ...monitorInitEnv(this.s.credentialsSecret),
    ];
  }

  /** Members reach each other on 5432 (replication, pg_rewind) and 8008 (Patroni's positions before a promotion), and the API server. */
  private createNetworkPolicy() {
    const policy = createNetworkPolicy(this.scope, 'members', this.allPods);
    policy.allowIngressFrom({ podSelector: this.allPods }, [PG_PORT, PATRONI_PORT]);
    policy.allowEgressTo({ peer: { podSelector: this.allPods }, ports: [PG_PORT, PATRONI_PORT] });
    // The API server is no pod: its address differs per cluster, so egress to its ports is open.
    policy.allowEgressToAnywhere([443, 6443]);
    return policy;
  }
}
