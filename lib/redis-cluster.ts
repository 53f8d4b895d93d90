import { createHash } from 'crypto';
import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { DEFAULT_METRICS_SCRAPER, ICacheEndpoint, IMetricsTarget, IQueueBroker, MetricsEndpoint, NetworkLink, PodPeer } from './endpoints';
import { commonLabels, imageVersion, namespaceOf, resourceName, selectorLabels } from './names';
import {
  ContainerResources, exporterSidecar, fixedResources, nodeAntiAffinity, resolveResources,
  restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume,
} from './pod-defaults';
import { PodNetworkPolicy } from './pod-network-policy';
import {
  APPENDFSYNC_MODES, AppendFsync, MAXMEMORY_POLICIES, MaxmemoryPolicy, renderClusterCreateScript, renderRedisConf,
  renderRedisStartScript, renderSentinelConf, renderSentinelMasterSettings, renderSentinelStartScript,
} from './redis-conf';
import {
  parseQuantity, propError, requireDnsLabel, requireIntInRange, requireOneOf, requirePinnedImage, requireQuantity,
} from './validation';

export type RedisMode = 'cluster' | 'sentinel';
const MODES: RedisMode[] = ['cluster', 'sentinel'];

/** Props of a {@link RedisCluster}. */
export interface RedisClusterProps {
  /** 'cluster' shards the keyspace over masters; 'sentinel' runs one master with replicas and Sentinels. @default 'cluster' */
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
  /** What Redis evicts at maxmemory. @default 'allkeys-lru' */
  readonly maxmemoryPolicy?: MaxmemoryPolicy;
  /** Append-only file. @default true */
  readonly appendonly?: boolean;
  /** When the AOF is fsynced. @default 'everysec' */
  readonly appendfsync?: AppendFsync;
  /** RDB save points (`<seconds> <changes>`). @default ['3600 1', '300 100', '60 10000'] */
  readonly savePoints?: string[];
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

const REDIS_PORT = 6379;
const BUS_PORT = REDIS_PORT + 10000;
const SENTINEL_PORT = 26379;
const EXPORTER_PORT = 9121;
const REDIS_UID = 999;

/**
 * Redis for the API's cache: a Redis Cluster StatefulSet (default 3 masters + 3 replicas)
 * created by an idempotent Job, or a master + replicas with Sentinels. Configs are rendered by
 * the functions of `redis-conf.ts`; the password comes from a Secret at container start.
 */
export class RedisCluster extends Construct implements ICacheEndpoint, IQueueBroker, IMetricsTarget {
  public readonly mode: RedisMode;
  public readonly name: string;
  /** Redis pods in the data StatefulSet. */
  public readonly nodeCount: number;
  public readonly headlessServiceName: string;
  /** `host:port` of every Redis node, by stable DNS name. */
  public readonly nodes: string[];
  /** `host:port` of every Sentinel (sentinel mode). */
  public readonly sentinelHosts: string[] = [];
  /** The master name the Sentinels know (sentinel mode). */
  public readonly masterName?: string;
  public readonly maxmemoryBytes: number;
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
  private readonly podSelector: Record<string, string>;
  private readonly sentinelSelector: Record<string, string>;

  constructor(scope: Construct, id: string, props: RedisClusterProps = {}) {
    super(scope, id);
    this.name = resourceName(this);
    this.mode = requireOneOf(this, 'mode', props.mode ?? 'cluster', MODES);
    const cluster = this.mode === 'cluster';
    let masterName = '';
    if (cluster) {
      const shards = requireIntInRange(this, 'shards', props.shards ?? 3, 3, 1000);
      const replicasPerShard = requireIntInRange(this, 'replicasPerShard', props.replicasPerShard ?? 1, 0, 10);
      this.nodeCount = shards * (1 + replicasPerShard);
    } else {
      const replicas = requireIntInRange(this, 'replicas', props.replicas ?? 2, 1, 100);
      const sentinels = props.sentinels ?? 3;
      if (!Number.isInteger(sentinels) || sentinels < 3) {
        throw propError(this, 'sentinels', sentinels, 'must be an integer of 3 or more, so a majority survives the loss of one');
      }
      const quorum = requireIntInRange(this, 'quorum', props.quorum ?? 2, 1, 1000);
      if (quorum > sentinels) {
        throw propError(this, 'quorum', quorum, `must be less than or equal to 'sentinels' (${sentinels}), or no failover can ever be agreed`);
      }
      masterName = requireDnsLabel(this, 'masterName', props.masterName ?? 'hscale');
      this.masterName = masterName;
      this.nodeCount = 1 + replicas;
    }

    const image = requirePinnedImage(this, 'image', props.image ?? 'redis:7.2.5');
    const exporterImage = requirePinnedImage(this, 'exporterImage', props.exporterImage ?? 'oliver006/redis_exporter:v1.62.0');
    const resources = resolveResources(this, 'resources', props.resources, {
      cpuRequest: '250m', memoryRequest: '1Gi', cpuLimit: '1', memoryLimit: '3Gi',
    });
    const memoryLimitText = props.resources?.memoryLimit ?? '3Gi';
    const memoryLimit = parseQuantity(memoryLimitText)!;
    this.maxmemoryBytes = props.maxmemory === undefined
      ? Math.floor(memoryLimit * 0.7)
      : Math.floor(requireQuantity(this, 'maxmemory', props.maxmemory));
    if (this.maxmemoryBytes > memoryLimit) {
      throw propError(this, 'maxmemory', props.maxmemory,
        `must be less than or equal to the memory limit (${memoryLimitText}), with headroom for forks and buffers`);
    }
    const maxmemoryPolicy = requireOneOf(this, 'maxmemoryPolicy', props.maxmemoryPolicy ?? 'allkeys-lru', MAXMEMORY_POLICIES);
    const appendfsync = requireOneOf(this, 'appendfsync', props.appendfsync ?? 'everysec', APPENDFSYNC_MODES);
    const savePoints = props.savePoints ?? ['3600 1', '300 100', '60 10000'];
    savePoints.forEach((point, i) => {
      if (!/^[1-9][0-9]* [1-9][0-9]*$/.test(point)) {
        throw propError(this, `savePoints[${i}]`, point, 'must be \'<seconds> <changes>\' with both numbers above 0');
      }
    });
    const clusterNodeTimeoutMs = props.clusterNodeTimeout?.toMilliseconds() ?? 5000;
    requireIntInRange(this, 'clusterNodeTimeout', clusterNodeTimeoutMs, 500, 60_000);
    const persistence = props.persistence ?? true;
    const storageSize = props.storageSize ?? '10Gi';
    if (persistence) requireQuantity(this, 'storageSize', storageSize);
    this.passwordSecret = props.passwordSecret ?? { name: `${this.name}-auth`, key: 'password' };

    const namespace = namespaceOf(this);
    const dnsSuffix = `${namespace ?? 'default'}.svc.cluster.local`;
    this.headlessServiceName = `${this.name}-nodes`;
    this.podSelector = selectorLabels(this, 'redis');
    this.sentinelSelector = selectorLabels(this, 'sentinel');
    const podHost = (set: string, headless: string, i: number) => `${set}-${i}.${headless}.${dnsSuffix}`;
    this.nodes = Array.from({ length: this.nodeCount }, (_, i) => `${podHost(this.name, this.headlessServiceName, i)}:${REDIS_PORT}`);
    const labels = commonLabels(this, 'redis', 'redis', imageVersion(image));
    const metadata = (name: string, objectLabels = labels) => ({ name, namespace, labels: objectLabels });
    const passwordEnv: k8s.EnvVar = { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: this.passwordSecret.name, key: this.passwordSecret.key } } };

    this.redisConf = renderRedisConf({
      port: REDIS_PORT, bind: '* -::*', dir: '/data', cluster, clusterNodeTimeoutMs,
      maxmemoryBytes: this.maxmemoryBytes, maxmemoryPolicy, appendonly: props.appendonly ?? true, appendfsync, savePoints,
    });
    const sentinelHeadless = `${this.name}-sentinel`;
    const sentinelOptions = {
      port: SENTINEL_PORT, bind: '* -::*', dir: '/run/sentinel', masterName, quorum: props.quorum ?? 2,
      downAfterMs: props.sentinelDownAfter?.toMilliseconds() ?? 5000, failoverTimeoutMs: 60_000, parallelSyncs: 1,
    };
    const files: Record<string, string> = { 'redis.conf': this.redisConf, 'start.sh': renderRedisStartScript(this.mode) };
    if (cluster) {
      files['create-cluster.sh'] = renderClusterCreateScript();
    } else {
      this.sentinelHosts = Array.from({ length: props.sentinels ?? 3 }, (_, i) => `${podHost(sentinelHeadless, sentinelHeadless, i)}:${SENTINEL_PORT}`);
      files['sentinel.conf'] = renderSentinelConf(sentinelOptions);
      files['sentinel-master.conf'] = renderSentinelMasterSettings(sentinelOptions);
      files['sentinel-start.sh'] = renderSentinelStartScript();
    }
    this.configMap = new k8s.KubeConfigMap(this, 'Config', { metadata: metadata(this.name), data: files });
    const configHash = createHash('sha256').update(JSON.stringify(files)).digest('hex');

    const sentinelEnv: k8s.EnvVar[] = cluster ? [] : [
      { name: 'SENTINEL_HOSTS', value: this.sentinelHosts.join(' ') },
      { name: 'MASTER_NAME', value: masterName },
      { name: 'INITIAL_MASTER_HOST', value: podHost(this.name, this.headlessServiceName, 0) },
    ];
    const configVolume: k8s.Volume = { name: 'config', configMap: { name: this.configMap.name, defaultMode: 0o555 } };
    const run = scratchVolume('run', '/run/redis');
    const data = persistence ? undefined : scratchVolume('data', '/data', storageSize);
    const exporter = exporterSidecar({
      image: exporterImage,
      port: EXPORTER_PORT,
      healthPath: '/health',
      env: [{ name: 'REDIS_ADDR', value: `redis://127.0.0.1:${REDIS_PORT}` }, passwordEnv],
    });
    const pingProbe = { exec: { command: ['sh', '-c', `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p ${REDIS_PORT} ping | grep -q PONG`] } };

    this.statefulSet = new k8s.KubeStatefulSet(this, 'StatefulSet', {
      metadata: metadata(this.name),
      spec: {
        serviceName: this.headlessServiceName,
        replicas: this.nodeCount,
        // Nodes must all start to find each other (cluster) or a master (sentinel); order buys nothing.
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: this.podSelector },
        template: {
          metadata: { labels, annotations: { 'hscale.io/config-sha256': configHash } },
          spec: {
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(REDIS_UID, REDIS_UID),
            terminationGracePeriodSeconds: 30,
            affinity: nodeAntiAffinity(this.podSelector, props.requireAntiAffinity ?? false),
            volumes: [configVolume, run.volume, ...(data ? [data.volume] : [])],
            containers: [
              {
                name: 'redis',
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '/etc/redis/start.sh'],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'ANNOUNCE_HOST', value: `$(POD_NAME).${this.headlessServiceName}.${dnsSuffix}` },
                  { name: 'REDIS_PORT', value: String(REDIS_PORT) },
                  { name: 'CONF_DIR', value: '/etc/redis' },
                  { name: 'RUN_DIR', value: '/run/redis' },
                  passwordEnv,
                  ...sentinelEnv,
                ],
                ports: [
                  { name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' },
                  ...(cluster ? [{ name: 'cluster-bus', containerPort: BUS_PORT, protocol: 'TCP' }] : []),
                ],
                resources,
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/redis', readOnly: true },
                  run.mount,
                  { name: 'data', mountPath: '/data' },
                ],
                startupProbe: { tcpSocket: { port: k8s.IntOrString.fromString('redis') }, periodSeconds: 2, failureThreshold: 60 },
                livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('redis') }, periodSeconds: 10, failureThreshold: 3 },
                readinessProbe: { ...pingProbe, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
              },
              exporter,
            ],
          },
        },
        volumeClaimTemplates: persistence ? [{
          metadata: { name: 'data', labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: k8s.Quantity.fromString(storageSize) } },
            ...(props.storageClassName ? { storageClassName: props.storageClassName } : {}),
          },
        }] : undefined,
      },
    });

    const redisPorts: k8s.ServicePort[] = [
      { name: 'redis', port: REDIS_PORT, targetPort: k8s.IntOrString.fromString('redis'), protocol: 'TCP' },
      { name: 'metrics', port: EXPORTER_PORT, targetPort: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' },
    ];
    this.service = new k8s.KubeService(this, 'Service', {
      metadata: metadata(this.name),
      spec: { selector: this.podSelector, ports: [redisPorts[0]] },
    });
    // Nodes must resolve each other before they are ready, or a cluster could never form.
    this.headlessService = new k8s.KubeService(this, 'HeadlessService', {
      metadata: metadata(this.headlessServiceName),
      spec: { clusterIp: 'None', publishNotReadyAddresses: true, selector: this.podSelector, ports: redisPorts },
    });
    this.disruptionBudget = new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: metadata(this.name),
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.podSelector } },
    });

    this.networkPolicy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels });
    const self = { podSelector: this.podSelector };
    const peerPorts = cluster ? [REDIS_PORT, BUS_PORT] : [REDIS_PORT];
    this.networkPolicy.allowIngressFrom(self, peerPorts);
    this.networkPolicy.allowEgressTo({ peer: self, ports: peerPorts });
    this.metricsEndpoints = [{
      exporter: 'redis-exporter', workloadName: this.name, podSelector: this.podSelector, portName: 'metrics', port: EXPORTER_PORT, path: '/metrics',
      serviceName: this.headlessServiceName, serviceLabels: labels,
    }];

    if (cluster) {
      this.createJob = this.buildCreateJob(image, configVolume, passwordEnv, props.replicasPerShard ?? 1);
      this.clientLinks = [{ peer: self, ports: [REDIS_PORT] }];
      this.clientEnv = [{ name: 'REDIS_CLUSTER_NODES', value: this.nodes.join(',') }, passwordEnv];
    } else {
      const sentinelLabels = commonLabels(this, 'redis-sentinel', 'sentinel', imageVersion(image));
      this.sentinelStatefulSet = new k8s.KubeStatefulSet(this, 'Sentinel', {
        metadata: metadata(sentinelHeadless, sentinelLabels),
        spec: {
          serviceName: sentinelHeadless,
          replicas: this.sentinelHosts.length,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: this.sentinelSelector },
          template: {
            metadata: { labels: sentinelLabels, annotations: { 'hscale.io/config-sha256': configHash } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: restrictedPodSecurityContext(REDIS_UID, REDIS_UID),
              affinity: nodeAntiAffinity(this.sentinelSelector, props.requireAntiAffinity ?? false),
              volumes: [configVolume, scratchVolume('run', '/run/sentinel').volume],
              containers: [{
                name: 'sentinel',
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '/etc/redis/sentinel-start.sh'],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'ANNOUNCE_HOST', value: `$(POD_NAME).${sentinelHeadless}.${dnsSuffix}` },
                  { name: 'SENTINEL_PORT', value: String(SENTINEL_PORT) },
                  { name: 'REDIS_PORT', value: String(REDIS_PORT) },
                  { name: 'QUORUM', value: String(sentinelOptions.quorum) },
                  { name: 'CONF_DIR', value: '/etc/redis' },
                  { name: 'RUN_DIR', value: '/run/sentinel' },
                  passwordEnv,
                  ...sentinelEnv,
                ],
                ports: [{ name: 'sentinel', containerPort: SENTINEL_PORT, protocol: 'TCP' }],
                resources: fixedResources('50m', '64Mi', '250m', '128Mi'),
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: [{ name: 'config', mountPath: '/etc/redis', readOnly: true }, { name: 'run', mountPath: '/run/sentinel' }],
                livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('sentinel') }, periodSeconds: 10 },
                readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('sentinel') }, periodSeconds: 5 },
              }],
            },
          },
        },
      });
      new k8s.KubeService(this, 'SentinelService', {
        metadata: metadata(sentinelHeadless, sentinelLabels),
        spec: {
          clusterIp: 'None', publishNotReadyAddresses: true, selector: this.sentinelSelector,
          ports: [{ name: 'sentinel', port: SENTINEL_PORT, targetPort: k8s.IntOrString.fromString('sentinel'), protocol: 'TCP' }],
        },
      });
      new k8s.KubePodDisruptionBudget(this, 'SentinelDisruptionBudget', {
        metadata: metadata(sentinelHeadless, sentinelLabels),
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.sentinelSelector } },
      });
      const sentinels = { podSelector: this.sentinelSelector };
      this.sentinelNetworkPolicy = new PodNetworkPolicy(this, 'SentinelNetworkPolicy', { podSelector: this.sentinelSelector, labels: sentinelLabels, role: 'sentinel' });
      // Sentinels talk to each other and to every Redis node; Redis nodes ask Sentinels for the master at start.
      this.sentinelNetworkPolicy.allowIngressFrom(sentinels, [SENTINEL_PORT]);
      this.sentinelNetworkPolicy.allowIngressFrom(self, [SENTINEL_PORT]);
      this.sentinelNetworkPolicy.allowEgressTo({ peer: sentinels, ports: [SENTINEL_PORT] });
      this.sentinelNetworkPolicy.allowEgressTo({ peer: self, ports: [REDIS_PORT] });
      this.networkPolicy.allowIngressFrom(sentinels, [REDIS_PORT]);
      this.networkPolicy.allowEgressTo({ peer: sentinels, ports: [SENTINEL_PORT] });
      this.clientLinks = [{ peer: self, ports: [REDIS_PORT] }, { peer: sentinels, ports: [SENTINEL_PORT] }];
      this.clientEnv = [
        { name: 'REDIS_SENTINELS', value: this.sentinelHosts.join(',') },
        { name: 'REDIS_SENTINEL_MASTER', value: masterName },
        passwordEnv,
      ];
    }
    this.allowScraper(props.metricsScraper ?? DEFAULT_METRICS_SCRAPER);
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

  private buildCreateJob(image: string, configVolume: k8s.Volume, passwordEnv: k8s.EnvVar, replicasPerShard: number): k8s.KubeJob {
    const jobSelector = selectorLabels(this, 'cluster-create');
    const jobLabels = commonLabels(this, 'redis-cluster-create', 'cluster-create', imageVersion(image));
    this.networkPolicy.allowIngressFrom({ podSelector: jobSelector }, [REDIS_PORT]);
    return new k8s.KubeJob(this, 'CreateCluster', {
      metadata: { name: `${this.name}-create`, namespace: namespaceOf(this), labels: jobLabels },
      spec: {
        backoffLimit: 10,
        ttlSecondsAfterFinished: 3600,
        activeDeadlineSeconds: 1800,
        template: {
          metadata: { labels: jobLabels },
          spec: {
            restartPolicy: 'OnFailure',
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(REDIS_UID),
            containers: [{
              name: 'create-cluster',
              image,
              imagePullPolicy: 'IfNotPresent',
              command: ['sh', '/etc/redis/create-cluster.sh'],
              env: [
                { name: 'REDIS_NODES', value: this.nodes.join(' ') },
                { name: 'REPLICAS_PER_SHARD', value: String(replicasPerShard) },
                { name: 'WAIT_SECONDS', value: '600' },
                passwordEnv,
              ],
              resources: fixedResources('10m', '32Mi', '200m', '128Mi'),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'config', mountPath: '/etc/redis', readOnly: true }],
            }],
            volumes: [configVolume],
          },
        },
      },
    });
  }
}
