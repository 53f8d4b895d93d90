import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import {
  GeneratedSecretSpec, ICacheEndpoint, IMetricsTarget, IQueueBroker, ISecretConsumer, KedaTrigger, MaxmemoryPolicy, MetricsEndpoint, NetworkLink, PodPeer,
} from '../core/endpoints';
import { commonLabels, configHash, imageVersion, selectorLabels } from '../core/names';
import { disruptionBudget, restrictedContainerSecurityContext, scratchVolume, withEphemeralStorage } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { applyPodOptionsWithServiceAccount, PodOptions } from '../core/pod-options';
import { SecretKeyRef } from '../core/secret-refs';
import { TLS_KEYS, tlsFiles } from '../core/tls';
import { RedisModeObjects, RedisModePlan } from './mode';
import { plannedRedisMode } from './modes';
import { renderRedisAcl, REDIS_USERS } from './redis-acl';
import { renderRedisConf, renderRedisReadinessCheck } from './redis-conf';
import { resolveRedisClusterSettings } from './resolve';
import { RedisClusterProps, RedisClusterSettings, RedisMode } from './settings';
import {
  aclPasswordEnv, announceEnv, CONFIG_MOUNT, configVolume, createHeadlessService, createPeerNetworkPolicy, EXPORTER_PORT,
  namedServicePort, objectMeta, podAddresses, podTemplateMetadata, REDIS_PORT, redisExporter, redisPodBasics, scriptTls, SENTINEL_PASSWORD_KEY, SENTINEL_PORT,
  startScriptEnv, TLS_DIR, tlsMounts,
} from './shared';

/** The password Secret's key holding KEDA's user name, which a TriggerAuthentication can only read from a Secret. */
const KEDA_USERNAME_KEY = 'keda-username';

export { resolveRedisClusterSettings } from './resolve';
export type { RedisClusterProps, RedisClusterSettings, RedisMode } from './settings';

/**
 * Redis for the API's cache: a Redis Cluster StatefulSet (default 3 masters + 3 replicas)
 * created by an idempotent Job, a master + replicas with Sentinels, or one standalone Redis. Configs are rendered by
 * the functions of `redis-conf.ts`; the password comes from a Secret at container start. What
 * every mode shares is built here; what differs is in the mode's module under `lib/redis/`.
 */
export class RedisCluster extends Construct implements ICacheEndpoint, IQueueBroker, IMetricsTarget, ISecretConsumer {
  /** How Redis runs: sharded Redis Cluster, a master with replicas and Sentinels, or one standalone Redis. */
  public readonly mode: RedisMode;
  /** Name of the data StatefulSet, its Service and the ConfigMap; prefix of every other object. */
  public readonly name: string;
  /** Redis pods in the data StatefulSet. */
  public readonly nodeCount: number;
  /** Name of the headless Service that gives each Redis pod its DNS name. */
  public readonly headlessServiceName: string;
  /** `host:port` of every Redis node, by stable DNS name. */
  public readonly nodes: string[];
  /** `host:port` of every Sentinel (sentinel mode). */
  public readonly sentinelHosts: string[];
  /** The master name the Sentinels know (sentinel mode). */
  public readonly masterName?: string;
  /** Redis's `maxmemory`, in bytes. */
  public readonly maxmemoryBytes: number;
  /** What Redis evicts at maxmemory. */
  public readonly maxmemoryPolicy: MaxmemoryPolicy;
  /** Secret and key of the app user's password; the same Secret holds the other users' passwords. */
  public readonly passwordSecret: SecretKeyRef;
  /** Key prefixes of the queues whose lists the KEDA user may read. */
  public readonly queuePrefixes: string[];
  /** Env a client container needs to reach and log in to Redis. */
  public readonly clientEnv: k8s.EnvVar[];
  /** The pods and ports a client opens connections to. */
  public readonly clientLinks: NetworkLink[];
  /** The exporter of every Redis pod, behind the headless Service. */
  public readonly metricsEndpoints: MetricsEndpoint[];
  /** The rendered redis.conf. */
  public readonly redisConf: string;
  /** The ConfigMap of redis.conf, users.acl and the mode's scripts and configs. */
  public readonly configMap: k8s.KubeConfigMap;
  /** The data StatefulSet: every Redis pod, with its exporter. */
  public readonly statefulSet: k8s.KubeStatefulSet;
  /** The Service `<name>` in front of the Redis pods. */
  public readonly service: k8s.KubeService;
  /** The headless Service `<name>-nodes`, which names each Redis pod. */
  public readonly headlessService: k8s.KubeService;
  /** The Redis pods' PodDisruptionBudget. */
  public readonly disruptionBudget: k8s.KubePodDisruptionBudget;
  /** The Redis pods' NetworkPolicy. */
  public readonly networkPolicy: PodNetworkPolicy;
  /** The cluster-create Job (cluster mode). */
  public readonly createJob?: k8s.KubeJob;
  /** The cluster-create Job's NetworkPolicy: it reaches the nodes' Redis port and nothing reaches it (cluster mode). */
  public readonly createJobNetworkPolicy?: PodNetworkPolicy;
  /** The Sentinel StatefulSet (sentinel mode). */
  public readonly sentinelStatefulSet?: k8s.KubeStatefulSet;
  /** The Sentinels' headless Service, which names each Sentinel (sentinel mode). */
  public readonly sentinelService?: k8s.KubeService;
  /** The Sentinels' PodDisruptionBudget (sentinel mode). */
  public readonly sentinelDisruptionBudget?: k8s.KubePodDisruptionBudget;
  /** The Sentinels' NetworkPolicy (sentinel mode). */
  public readonly sentinelNetworkPolicy?: PodNetworkPolicy;
  /** ServiceAccounts made for pod kinds whose pod options annotate one (`redis`, `sentinel`, `job`); none otherwise. */
  public readonly serviceAccounts: { readonly redis?: k8s.KubeServiceAccount; readonly sentinel?: k8s.KubeServiceAccount; readonly job?: k8s.KubeServiceAccount };
  private readonly settings: RedisClusterSettings;
  private readonly modeObjects: RedisModeObjects;
  private readonly podSelector: Record<string, string>;
  private readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: RedisClusterProps = {}) {
    super(scope, id);
    this.settings = resolveRedisClusterSettings(this, props);
    const settings = this.settings;
    const mode = plannedRedisMode(settings);
    const plan = mode.plan;
    this.mode = settings.mode;
    this.name = settings.name;
    this.nodeCount = settings.topology.nodeCount;
    this.headlessServiceName = settings.headlessServiceName;
    this.maxmemoryBytes = settings.maxmemoryBytes;
    this.maxmemoryPolicy = settings.maxmemoryPolicy;
    this.passwordSecret = settings.passwordSecret;
    this.queuePrefixes = settings.queuePrefixes;
    this.sentinelHosts = plan.sentinelHosts;
    this.masterName = plan.masterName;
    this.podSelector = selectorLabels(this, 'redis');
    this.labels = commonLabels(this, 'redis', 'redis', imageVersion(settings.image));
    this.nodes = podAddresses(settings, this.name, this.headlessServiceName, this.nodeCount, REDIS_PORT);

    this.redisConf = this.renderRedisConf(plan);
    const configFiles = { 'redis.conf': this.redisConf, 'users.acl': renderRedisAcl({ mode: this.mode, queuePrefixes: settings.queuePrefixes, tls: settings.tls !== undefined }), ...plan.configFiles };
    this.configMap = new k8s.KubeConfigMap(this, 'Config', { metadata: this.metadata(this.name), data: configFiles });
    const hash = configHash(configFiles);
    this.statefulSet = this.createStatefulSet(plan, hash);
    this.service = this.createService();
    this.headlessService = this.createHeadlessService();
    this.disruptionBudget = disruptionBudget(this, 'DisruptionBudget', this.metadata(this.name), this.podSelector);
    this.networkPolicy = createPeerNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels: this.labels }, plan.peerPorts);

    // What only the mode makes (the cluster-create Job, or the Sentinels) and how clients connect.
    const modeObjects = this.modeObjects = mode.build({
      scope: this, settings, nodes: this.nodes, podSelector: this.podSelector, networkPolicy: this.networkPolicy, configMap: this.configMap, configHash: hash,
    });
    ({ createJob: this.createJob, createJobNetworkPolicy: this.createJobNetworkPolicy, sentinelStatefulSet: this.sentinelStatefulSet, sentinelNetworkPolicy: this.sentinelNetworkPolicy } = modeObjects);
    ({ sentinelService: this.sentinelService, sentinelDisruptionBudget: this.sentinelDisruptionBudget, clientEnv: this.clientEnv, clientLinks: this.clientLinks } = modeObjects);
    this.metricsEndpoints = [this.exporterEndpoint(plan)];
    this.serviceAccounts = this.applyPodOptions();
    this.allowScraper(settings.metricsScraper);
  }

  /** The KEDA trigger that reads the length of the list `listName`, as this mode reaches it. */
  public listLengthTrigger(listName: string, listLength: number): KedaTrigger {
    return this.modeObjects.listLengthTrigger(listName, listLength);
  }

  /** The password Secret: a generated password per ACL user (and for the Sentinels), and KEDA's user name. */
  public get generatableSecrets(): GeneratedSecretSpec[] {
    const sentinel = this.mode === 'sentinel' ? [SENTINEL_PASSWORD_KEY] : [];
    return [{
      name: this.passwordSecret.secretName,
      randomKeys: [...this.settings.aclUsers.map(u => u.secretKey), ...sentinel],
      plainKeys: { [KEDA_USERNAME_KEY]: REDIS_USERS.keda },
    }];
  }

  /** KEDA's user name and password, in sentinel mode what the Sentinels require, and with TLS the CA it verifies Redis against. */
  public get scalerCredentials(): IQueueBroker['scalerCredentials'] {
    const name = this.passwordSecret.secretName;
    const keda = this.settings.aclUsers.find(u => u.name === REDIS_USERS.keda)!;
    return [
      { parameter: 'username', name, key: KEDA_USERNAME_KEY },
      { parameter: 'password', name, key: keda.secretKey },
      ...(this.mode === 'sentinel' ? [{ parameter: 'sentinelPassword', name, key: SENTINEL_PASSWORD_KEY }] : []),
      ...(this.settings.tls ? [{ parameter: 'ca', name: this.settings.tls.secretName, key: TLS_KEYS.ca }] : []),
    ];
  }

  /** Admits pods matching `client` on the Redis port (and the Sentinel port in sentinel mode). */
  public allowClient(client: PodPeer): void {
    this.networkPolicy.allowIngressFrom(client, [REDIS_PORT]);
    this.sentinelNetworkPolicy?.allowIngressFrom(client, [SENTINEL_PORT]);
  }

  /** Admits pods matching `scraper` on the exporter port. */
  public allowScraper(scraper: PodPeer): void {
    this.networkPolicy.allowIngressFrom(scraper, [EXPORTER_PORT]);
  }

  private metadata(name: string): k8s.ObjectMeta {
    return objectMeta(this.settings, name, this.labels);
  }

  /** Each kind's pod options on its pods, and a ServiceAccount of its own where they annotate one. */
  private applyPodOptions(): RedisCluster['serviceAccounts'] {
    const { redis, sentinel, job } = this.settings.podOptions;
    const apply = (prop: string, workload: k8s.KubeStatefulSet | k8s.KubeJob | undefined, options: PodOptions, id: string) => {
      if (!workload) return undefined;
      const { name, labels } = workload.metadata.toJson();
      return applyPodOptionsWithServiceAccount(this, prop, [workload], options, { id, metadata: objectMeta(this.settings, name, labels) });
    };
    return {
      redis: apply('pod', this.statefulSet, redis, 'ServiceAccount'),
      sentinel: apply('sentinelPod', this.sentinelStatefulSet, sentinel, 'SentinelServiceAccount'),
      job: apply('jobPod', this.createJob, job, 'JobServiceAccount'),
    };
  }

  private renderRedisConf(plan: RedisModePlan): string {
    const s = this.settings;
    return renderRedisConf({
      port: REDIS_PORT, bind: '* -::*', dir: '/data', cluster: plan.clusterEnabled, clusterNodeTimeoutMs: s.clusterNodeTimeoutMs,
      maxmemoryBytes: s.maxmemoryBytes, maxmemoryPolicy: s.maxmemoryPolicy, appendonly: s.appendonly, appendfsync: s.appendfsync,
      savePoints: s.savePoints, tcpKeepaliveSeconds: s.tcpKeepaliveSeconds, tls: s.tls && tlsFiles(TLS_DIR),
    });
  }

  private createStatefulSet(plan: RedisModePlan, configHash: string): k8s.KubeStatefulSet {
    const run = scratchVolume('run', '/run/redis');
    const data = this.settings.persistence ? [] : [scratchVolume('data', '/data', this.settings.storageSize).volume];
    return new k8s.KubeStatefulSet(this, 'StatefulSet', {
      metadata: this.metadata(this.name),
      spec: {
        serviceName: this.headlessServiceName,
        replicas: this.nodeCount,
        // Nodes must all start to find each other (cluster) or a master (sentinel); order buys nothing.
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: this.podSelector },
        template: {
          metadata: podTemplateMetadata(this.labels, configHash),
          spec: withEphemeralStorage({
            ...redisPodBasics(this.settings, this.podSelector),
            terminationGracePeriodSeconds: 30,
            volumes: [configVolume(this.configMap.name), run.volume, ...data, ...tlsMounts(this.settings, false).volumes, ...tlsMounts(this.settings, true).volumes],
            containers: [this.redisContainer(plan, run.mount), redisExporter(this.settings)],
          }),
        },
        volumeClaimTemplates: this.settings.persistence ? [this.dataVolumeClaim()] : undefined,
      },
    });
  }

  private redisContainer(plan: RedisModePlan, run: k8s.VolumeMount): k8s.Container {
    const redisPort = k8s.IntOrString.fromString('redis');
    const ready = { exec: { command: ['sh', '-c', renderRedisReadinessCheck(REDIS_PORT, scriptTls(this.settings))] } };
    return {
      name: 'redis',
      image: this.settings.image,
      imagePullPolicy: 'IfNotPresent',
      command: ['sh', '/etc/redis/start.sh'],
      env: [
        ...announceEnv(this.settings, this.headlessServiceName),
        { name: 'REDIS_PORT', value: String(REDIS_PORT) },
        // Every user's password: the start script writes their hashes, the readiness check and the peer meeting log in.
        ...startScriptEnv(run.mountPath, aclPasswordEnv(this.settings)),
        ...plan.redisEnv,
      ],
      ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }, ...plan.extraRedisPorts],
      resources: this.settings.resources,
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [CONFIG_MOUNT, run, { name: 'data', mountPath: '/data' }, ...tlsMounts(this.settings, false).mounts],
      startupProbe: { tcpSocket: { port: redisPort }, periodSeconds: 2, failureThreshold: 60 },
      livenessProbe: { tcpSocket: { port: redisPort }, periodSeconds: 10, failureThreshold: 3 },
      readinessProbe: { ...ready, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    };
  }

  private dataVolumeClaim(): k8s.KubePersistentVolumeClaimProps {
    const { storageSize, storageClassName } = this.settings;
    return {
      metadata: { name: 'data', labels: this.labels },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: k8s.Quantity.fromString(storageSize) } },
        ...(storageClassName ? { storageClassName } : {}),
      },
    };
  }

  private createService(): k8s.KubeService {
    return new k8s.KubeService(this, 'Service', {
      metadata: this.metadata(this.name),
      spec: { selector: this.podSelector, ports: [namedServicePort('redis', REDIS_PORT)] },
    });
  }

  /** Nodes must resolve each other before they are ready, or a cluster could never form. */
  private createHeadlessService(): k8s.KubeService {
    return createHeadlessService(this, 'HeadlessService', this.metadata(this.headlessServiceName), this.podSelector,
      [namedServicePort('redis', REDIS_PORT), namedServicePort('metrics', EXPORTER_PORT)]);
  }

  private exporterEndpoint(plan: RedisModePlan): MetricsEndpoint {
    return {
      exporter: 'redis-exporter', workloadName: this.name, podSelector: this.podSelector, portName: 'metrics', port: EXPORTER_PORT, path: '/metrics',
      serviceName: this.headlessServiceName, serviceLabels: this.labels, withoutReplicas: !plan.replicated,
      redisClusterEnabled: plan.clusterEnabled,
      volumeClaims: this.settings.persistence ? `data-${this.name}-` : undefined, wantedPods: { kind: 'StatefulSet', names: [this.name] },
      ...(this.modeObjects.jobNamePatterns ? { jobs: this.modeObjects.jobNamePatterns } : {}),
    };
  }
}
