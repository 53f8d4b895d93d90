import { createHash } from 'crypto';
import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { ICacheEndpoint, IMetricsTarget, IQueueBroker, MetricsEndpoint, NetworkLink, PodPeer } from './endpoints';
import type { GeneratedSecretSpec, ISecretConsumer } from './generated-secrets';
import { commonLabels, imageVersion, selectorLabels } from './names';
import { ContainerResources, restrictedContainerSecurityContext, scratchVolume } from './pod-defaults';
import { PodNetworkPolicy } from './pod-network-policy';
import { RedisModePlan } from './redis/mode';
import { planRedisMode, RedisMode } from './redis/modes';
import { RedisClusterSettings, resolveRedisClusterSettings } from './redis/settings';
import {
  announceEnv, CONFIG_MOUNT, configVolume, createDisruptionBudget, createHeadlessService, createPeerNetworkPolicy, EXPORTER_PORT,
  namedServicePort, objectMeta, podAddresses, podTemplateMetadata, REDIS_PORT, redisExporter, redisPodBasics, SENTINEL_PORT, startScriptEnv,
} from './redis/shared';
import { AppendFsync, MaxmemoryPolicy, renderRedisConf } from './redis-conf';

export type { RedisMode } from './redis/modes';
export { resolveRedisClusterSettings } from './redis/settings';
export type { RedisClusterSettings } from './redis/settings';

/** Props of a {@link RedisCluster}. */
export interface RedisClusterProps {
  /** 'cluster' shards the keyspace over masters; 'sentinel' runs one master with replicas and Sentinels; 'standalone' runs one Redis without replicas. @default 'cluster' */
  readonly mode?: RedisMode;
  /** Masters in cluster mode. @default 3 */
  readonly shards?: number;
  /** Replicas of each master in cluster mode. @default 1 */
  readonly replicasPerShard?: number;
  /** Replicas of the master in sentinel mode. @default 2 */
  readonly replicas?: number;
  /** Sentinel processes in sentinel mode. @default 3 */
  readonly sentinels?: number;
  /** Sentinels that must agree the master is down. @default 2 */
  readonly quorum?: number;
  /** Name clients ask the Sentinels for. @default 'hscale' */
  readonly masterName?: string;
  /** How long a master may be unreachable before Sentinels fail it over. @default Duration.seconds(5) */
  readonly sentinelDownAfter?: Duration;
  /** How long a cluster node may be unreachable before it is failed over (Redis's own default of 15 s makes failover take 15-17 s). @default Duration.seconds(5) */
  readonly clusterNodeTimeout?: Duration;
  /** Secret holding the password every node, replica and client uses. @default - a Secret named `<name>-auth` with key `password`, which you create */
  readonly passwordSecret?: { readonly name: string; readonly key: string };
  /** Redis image (7.x). @default 'redis:7.2.5' */
  readonly image?: string;
  /** redis_exporter image. @default 'oliver006/redis_exporter:v1.62.0' */
  readonly exporterImage?: string;
  /** Requests and limits of each Redis container. @default - 250m / 1Gi requested, 1 CPU / 3Gi limit */
  readonly resources?: Partial<ContainerResources>;
  /** Memory for the dataset, a Kubernetes quantity no larger than the memory limit. @default - 70% of the memory limit, leaving room for forks and buffers */
  readonly maxmemory?: string;
  /** What Redis evicts at maxmemory; a WorkerPool's broker needs 'noeviction' or a 'volatile-*' policy. @default 'allkeys-lru' */
  readonly maxmemoryPolicy?: MaxmemoryPolicy;
  /** Append-only file. @default true */
  readonly appendonly?: boolean;
  /** When the AOF is fsynced. @default 'everysec' */
  readonly appendfsync?: AppendFsync;
  /** RDB save points (`<seconds> <changes>`); an empty list turns RDB snapshots off. @default ['3600 1', '300 100', '60 10000'] */
  readonly savePoints?: string[];
  /** How often Redis sends TCP keepalives to clients (whole seconds, 10 s to 2 h), dropping dead ones and keeping idle ones through NATs and load balancers. @default Duration.seconds(60) */
  readonly tcpKeepalive?: Duration;
  /** Keep data on PersistentVolumes; off uses emptyDir (a cache that may start empty). @default true */
  readonly persistence?: boolean;
  /** Size of each node's volume. @default '10Gi' */
  readonly storageSize?: string;
  /** Storage class of the volumes. @default - the cluster's default storage class */
  readonly storageClassName?: string;
  /** Keep Redis pods on different nodes as a hard rule rather than a preference. @default false */
  readonly requireAntiAffinity?: boolean;
  /** Pods allowed to scrape the exporters. @default - pods labelled app.kubernetes.io/name=prometheus in any namespace */
  readonly metricsScraper?: PodPeer;
}

/** Every prop of {@link RedisClusterProps}: names outside it (typos from JavaScript) are refused at synth time. */
export const REDIS_CLUSTER_PROPS: Record<keyof RedisClusterProps, true> = {
  mode: true, shards: true, replicasPerShard: true, replicas: true, sentinels: true, quorum: true, masterName: true,
  sentinelDownAfter: true, clusterNodeTimeout: true, passwordSecret: true, image: true, exporterImage: true,
  resources: true, maxmemory: true, maxmemoryPolicy: true, appendonly: true, appendfsync: true, savePoints: true,
  tcpKeepalive: true, persistence: true, storageSize: true, storageClassName: true, requireAntiAffinity: true,
  metricsScraper: true,
};

/**
 * Redis for the API's cache: a Redis Cluster StatefulSet (default 3 masters + 3 replicas)
 * created by an idempotent Job, a master + replicas with Sentinels, or one standalone Redis. Configs are rendered by
 * the functions of `redis-conf.ts`; the password comes from a Secret at container start. What
 * every mode shares is built here; what differs is in the mode's module under `lib/redis/`.
 */
export class RedisCluster extends Construct implements ICacheEndpoint, IQueueBroker, IMetricsTarget, ISecretConsumer {
  public readonly mode: RedisMode;
  public readonly name: string;
  /** Redis pods in the data StatefulSet. */
  public readonly nodeCount: number;
  public readonly headlessServiceName: string;
  /** `host:port` of every Redis node, by stable DNS name. */
  public readonly nodes: string[];
  /** `host:port` of every Sentinel (sentinel mode). */
  public readonly sentinelHosts: string[];
  /** The master name the Sentinels know (sentinel mode). */
  public readonly masterName?: string;
  public readonly maxmemoryBytes: number;
  /** What Redis evicts at maxmemory. */
  public readonly maxmemoryPolicy: MaxmemoryPolicy;
  public readonly passwordSecret: { readonly name: string; readonly key: string };
  public readonly clientEnv: k8s.EnvVar[];
  public readonly clientLinks: NetworkLink[];
  public readonly metricsEndpoints: MetricsEndpoint[];
  public readonly redisConf: string;
  public readonly configMap: k8s.KubeConfigMap;
  public readonly statefulSet: k8s.KubeStatefulSet;
  public readonly service: k8s.KubeService;
  public readonly headlessService: k8s.KubeService;
  public readonly disruptionBudget: k8s.KubePodDisruptionBudget;
  public readonly networkPolicy: PodNetworkPolicy;
  /** The cluster-create Job (cluster mode). */
  public readonly createJob?: k8s.KubeJob;
  /** The Sentinel StatefulSet (sentinel mode). */
  public readonly sentinelStatefulSet?: k8s.KubeStatefulSet;
  public readonly sentinelNetworkPolicy?: PodNetworkPolicy;
  private readonly settings: RedisClusterSettings;
  private readonly podSelector: Record<string, string>;
  private readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: RedisClusterProps = {}) {
    super(scope, id);
    this.settings = resolveRedisClusterSettings(this, props);
    const settings = this.settings;
    const plan = planRedisMode(settings);
    this.mode = settings.mode;
    this.name = settings.name;
    this.nodeCount = settings.topology.nodeCount;
    this.headlessServiceName = settings.headlessServiceName;
    this.maxmemoryBytes = settings.maxmemoryBytes;
    this.maxmemoryPolicy = settings.maxmemoryPolicy;
    this.passwordSecret = settings.passwordSecret;
    this.sentinelHosts = plan.sentinelHosts;
    this.masterName = plan.masterName;
    this.podSelector = selectorLabels(this, 'redis');
    this.labels = commonLabels(this, 'redis', 'redis', imageVersion(settings.image));
    this.nodes = podAddresses(settings, this.name, this.headlessServiceName, this.nodeCount, REDIS_PORT);

    this.redisConf = this.renderRedisConf(plan);
    const configFiles = { 'redis.conf': this.redisConf, ...plan.configFiles };
    this.configMap = new k8s.KubeConfigMap(this, 'Config', { metadata: this.metadata(this.name), data: configFiles });
    const configHash = createHash('sha256').update(JSON.stringify(configFiles)).digest('hex');
    this.statefulSet = this.createStatefulSet(plan, configHash);
    this.service = this.createService();
    this.headlessService = this.createHeadlessService();
    this.disruptionBudget = createDisruptionBudget(this, 'DisruptionBudget', this.metadata(this.name), this.podSelector);
    this.networkPolicy = createPeerNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels: this.labels }, plan.peerPorts);
    this.metricsEndpoints = [this.exporterEndpoint(plan)];

    // What only the mode makes (the cluster-create Job, or the Sentinels) and how clients connect.
    const modeObjects = plan.build({
      scope: this, nodes: this.nodes, podSelector: this.podSelector, networkPolicy: this.networkPolicy, configMap: this.configMap, configHash,
    });
    this.createJob = modeObjects.createJob;
    this.sentinelStatefulSet = modeObjects.sentinelStatefulSet;
    this.sentinelNetworkPolicy = modeObjects.sentinelNetworkPolicy;
    this.clientEnv = modeObjects.clientEnv;
    this.clientLinks = modeObjects.clientLinks;
    this.allowScraper(settings.metricsScraper);
  }

  /** The password Secret, with a generated password. */
  public get generatableSecrets(): GeneratedSecretSpec[] {
    return [{ name: this.passwordSecret.name, randomKeys: [this.passwordSecret.key] }];
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

  private renderRedisConf(plan: RedisModePlan): string {
    const s = this.settings;
    return renderRedisConf({
      port: REDIS_PORT, bind: '* -::*', dir: '/data', cluster: plan.clusterEnabled, clusterNodeTimeoutMs: s.clusterNodeTimeoutMs,
      maxmemoryBytes: s.maxmemoryBytes, maxmemoryPolicy: s.maxmemoryPolicy, appendonly: s.appendonly, appendfsync: s.appendfsync,
      savePoints: s.savePoints, tcpKeepaliveSeconds: s.tcpKeepaliveSeconds,
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
          spec: {
            ...redisPodBasics(this.settings, this.podSelector),
            terminationGracePeriodSeconds: 30,
            volumes: [configVolume(this.configMap.name), run.volume, ...data],
            containers: [this.redisContainer(plan, run.mount), redisExporter(this.settings)],
          },
        },
        volumeClaimTemplates: this.settings.persistence ? [this.dataVolumeClaim()] : undefined,
      },
    });
  }

  private redisContainer(plan: RedisModePlan, run: k8s.VolumeMount): k8s.Container {
    const redisPort = k8s.IntOrString.fromString('redis');
    const ping = { exec: { command: ['sh', '-c', `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p ${REDIS_PORT} ping | grep -q PONG`] } };
    return {
      name: 'redis',
      image: this.settings.image,
      imagePullPolicy: 'IfNotPresent',
      command: ['sh', '/etc/redis/start.sh'],
      env: [
        ...announceEnv(this.settings, this.headlessServiceName),
        { name: 'REDIS_PORT', value: String(REDIS_PORT) },
        ...startScriptEnv(this.settings, run.mountPath),
        ...plan.redisEnv,
      ],
      ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }, ...plan.extraRedisPorts],
      resources: this.settings.resources,
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [CONFIG_MOUNT, run, { name: 'data', mountPath: '/data' }],
      startupProbe: { tcpSocket: { port: redisPort }, periodSeconds: 2, failureThreshold: 60 },
      livenessProbe: { tcpSocket: { port: redisPort }, periodSeconds: 10, failureThreshold: 3 },
      readinessProbe: { ...ping, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
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
    };
  }
}
