import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { DEFAULT_METRICS_SCRAPER, ILoadBalancerBackend, MetricsEndpoint, PodPeer } from '../core/endpoints';
import { commonLabels, CONFIG_HASH_ANNOTATION, configHash, imageVersion, namespaceDnsSuffix, namespaceOf, serviceDnsSuffix } from '../core/names';
import {
  deploymentAutoscaler, disruptionBudget, exporterSidecar, nodeAntiAffinity, noUnavailableRollingUpdate, resolveResources,
  restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume, utilizationMetric, withEphemeralStorage, zoneAndNodeSpread,
} from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { applyPodOptionsWithServiceAccount, PodOptions, resolvePodOptions } from '../core/pod-options';
import { backgroundReloadLoop } from '../core/tls';
import {
  parseQuantity, pinnedImage, propError, requireIntInRange, requireOneOf, requirePinnedPeer, requirePositive, requireReplicaRange,
  requireWholeDuration,
} from '../core/validation';
import { LoadBalancerModeModule, LoadBalancerScope } from './mode';
import { API_UPSTREAM, NGINX_HEALTH_PATH, NginxConfOptions, NginxUpstreamServer, renderNginxConf } from './nginx-conf';
import { NginxProxySettings, resolveClientMaxBodySize, resolveNginxProxySettings } from './nginx-proxy-settings';
import { LoadBalancerProps, LoadBalancerTls, LoginMatch, RateLimit } from './props';
import { otherBackends, ResolvedRoute, resolveInternalPaths, resolveRoutes } from './routes';
import { createCertificate, resolveTls } from './tls';

/** The resolved props of 'nginx' mode: our own autoscaled nginx tier. */
export interface NginxModeSettings extends NginxProxySettings {
  readonly mode: 'nginx';
  readonly backend: ILoadBalancerBackend;
  readonly image: string;
  readonly exporterImage: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly cpuUtilization: number;
  readonly apiRateLimit: Required<RateLimit>;
  readonly loginRateLimit: Required<RateLimit>;
  readonly loginPath: string;
  readonly loginMatch: LoginMatch;
  readonly websocketPath: string;
  /** Paths nginx answers 404 instead of proxying. */
  readonly internalPaths: string[];
  /** The `kubernetes.io/tls` Secret; plain HTTP only when absent. */
  readonly tls?: LoadBalancerTls;
  readonly maxFails: number;
  readonly failTimeoutSeconds: number;
  readonly keepalive: number;
  readonly nextUpstreamTries: number;
  readonly clientMaxBodySize: string;
  /** Path prefixes sent to other backends, or taking over `/`. */
  readonly routes: ResolvedRoute[];
  readonly resolver: string;
  readonly resources: k8s.ResourceRequirements;
  readonly metricsScraper: PodPeer;
  /** One worker per CPU of the limit, at least one. */
  readonly workerProcesses: number;
  /** Seconds a stopping pod keeps serving before nginx is told to quit. */
  readonly drainDelaySeconds: number;
  /** Pod options of the nginx pods. */
  readonly pod: PodOptions;
}

const HTTP_PORT = 8080;
const HTTPS_PORT = 8443;
const STATUS_PORT = 8081;
const EXPORTER_PORT = 9113;
const CONFIG_DIR = '/etc/nginx';
const WRITABLE_DIR = '/tmp/nginx';
const TLS_DIR = '/etc/nginx/tls';
const CACHE_DIR = '/var/cache/nginx/api';
// A quitting worker closes what is still open (websockets) after this; the grace period covers it.
const WORKER_SHUTDOWN_SECONDS = 10;
const CERTIFICATE_CHECK_SECONDS = 60;

type Metadata = { readonly name: string; readonly labels: Record<string, string>; readonly namespace?: string };

function resolveNginxSettings(scope: Construct, props: LoadBalancerProps): NginxModeSettings {
  const apiRateLimit = resolveRateLimit(scope, 'apiRateLimit', props.apiRateLimit, { rate: 100, burst: 20, per: 'second' });
  const loginRateLimit = resolveRateLimit(scope, 'loginRateLimit', props.loginRateLimit, { rate: 5, burst: 3, per: 'minute' });
  const image = pinnedImage(scope, 'image', props.image ?? 'nginxinc/nginx-unprivileged:1.27.4-alpine', props.imageDigest);
  const exporterImage = pinnedImage(scope, 'exporterImage', props.exporterImage ?? 'nginx/nginx-prometheus-exporter:1.4.2', props.exporterImageDigest);
  const minReplicas = requireIntInRange(scope, 'minReplicas', props.minReplicas ?? 2, 1, 1000);
  const maxReplicas = requireIntInRange(scope, 'maxReplicas', props.maxReplicas ?? 10, 1, 1000);
  requireReplicaRange(scope, minReplicas, maxReplicas);
  const resources = resolveResources(scope, 'resources', props.resources, {
    cpuRequest: '100m', memoryRequest: '128Mi', cpuLimit: '1', memoryLimit: '256Mi',
  });
  const websocketPath = props.websocketPath ?? '/ws';
  const loginPath = props.loginPath ?? '/api/v1/auth/login';
  const loginMatch = requireOneOf(scope, 'loginMatch', props.loginMatch ?? 'exact', ['exact', 'prefix']);
  // A prefix login location and a route of the same prefix would be one location twice.
  const takenPrefixes = { [websocketPath]: '\'websocketPath\'', ...(loginMatch === 'prefix' ? { [loginPath]: '\'loginPath\'' } : {}) };
  return {
    mode: 'nginx',
    backend: props.backend,
    image,
    exporterImage,
    minReplicas,
    maxReplicas,
    cpuUtilization: requireIntInRange(scope, 'cpuUtilization', props.cpuUtilization ?? 70, 1, 100),
    failTimeoutSeconds: requireWholeDuration(scope, 'failTimeout', props.failTimeout ?? Duration.seconds(10), 'seconds', 1, 3600),
    apiRateLimit,
    loginRateLimit,
    loginPath,
    loginMatch,
    websocketPath,
    internalPaths: resolveInternalPaths(scope, props.internalPaths),
    tls: resolveTls(scope, props.tls),
    maxFails: requireIntInRange(scope, 'maxFails', props.maxFails ?? 3, 1, 100),
    keepalive: requireIntInRange(scope, 'keepalive', props.keepalive ?? 32, 1, 10000),
    nextUpstreamTries: requireIntInRange(scope, 'nextUpstreamTries', props.nextUpstreamTries ?? 3, 1, 10),
    clientMaxBodySize: resolveClientMaxBodySize(scope, props.clientMaxBodySize),
    routes: requireOwnUpstreamNames(scope, props.backend, resolveRoutes(scope, props.routes, takenPrefixes)),
    resolver: props.resolver ?? `kube-dns.${namespaceDnsSuffix('kube-system')}`,
    resources,
    metricsScraper: requirePinnedPeer(scope, 'metricsScraper', props.metricsScraper ?? DEFAULT_METRICS_SCRAPER),
    workerProcesses: Math.max(1, Math.ceil(parseQuantity(String(resources.limits!.cpu!.value))!)),
    drainDelaySeconds: requireWholeDuration(scope, 'drainDelay', props.drainDelay ?? Duration.seconds(35), 'seconds', 0, 600),
    pod: resolvePodOptions(scope, 'pod', props.pod),
    ...resolveNginxProxySettings(scope, props, parseQuantity(String(resources.limits!.memory!.value))! / 2 ** 20),
  };
}

function resolveRateLimit(scope: Construct, prop: string, given: RateLimit | undefined, defaults: Required<RateLimit>): Required<RateLimit> {
  const limit = { ...defaults, ...given, per: given?.per ?? defaults.per };
  requireOneOf(scope, `${prop}.per`, limit.per, ['second', 'minute']);
  requirePositive(scope, `${prop}.rate`, limit.rate);
  if (!Number.isInteger(limit.rate)) throw propError(scope, `${prop}.rate`, limit.rate, 'must be a whole number of requests');
  requireIntInRange(scope, `${prop}.burst`, limit.burst, 0, 100000);
  return limit;
}

/** The one server of a backend's upstream: its headless Service, re-resolved so nginx follows the pod IPs. */
function upstreamServers(lb: LoadBalancerScope, backend: ILoadBalancerBackend): NginxUpstreamServer[] {
  return [{ address: `${backend.headlessServiceName}.${serviceDnsSuffix(lb)}:${backend.port}`, resolve: true }];
}

/** The upstream of a backend: `api` for the main one, the Service's name for the others. */
function upstreamName(s: NginxModeSettings, backend: ILoadBalancerBackend): string {
  return backend === s.backend ? API_UPSTREAM : backend.serviceName;
}

/** Another backend's upstream is named after its Service, which must not take the main backend's upstream name. */
function requireOwnUpstreamNames(scope: Construct, backend: ILoadBalancerBackend, routes: ResolvedRoute[]): ResolvedRoute[] {
  const clash = routes.findIndex(route => route.backend !== backend && route.backend.serviceName === API_UPSTREAM);
  if (clash >= 0) {
    throw propError(scope, `routes[${clash}].backend`, API_UPSTREAM, 'must have a Service name other than the upstream name of \'backend\'');
  }
  return routes;
}

/** What renderNginxConf needs, with the pod's ports and paths. */
function nginxConfOptions(lb: LoadBalancerScope, s: NginxModeSettings): NginxConfOptions {
  return {
    upstreamServers: upstreamServers(lb, s.backend),
    extraUpstreams: otherBackends(s.backend, s.routes).map(backend => ({ name: upstreamName(s, backend), servers: upstreamServers(lb, backend) })),
    routes: s.routes.map(route => ({ pathPrefix: route.pathPrefix, upstream: upstreamName(s, route.backend), rateLimited: route.rateLimited })),
    resolver: s.resolver,
    httpPort: HTTP_PORT,
    tls: s.tls ? {
      port: HTTPS_PORT, certificatePath: `${TLS_DIR}/tls.crt`, keyPath: `${TLS_DIR}/tls.key`, http2: s.http2 ? 'directive' : undefined,
    } : undefined,
    statusPort: STATUS_PORT,
    apiRateLimit: s.apiRateLimit,
    loginRateLimit: s.loginRateLimit,
    loginPath: s.loginPath,
    loginMatch: s.loginMatch,
    websocketPath: s.websocketPath,
    internalPaths: s.internalPaths,
    maxFails: s.maxFails,
    failTimeoutSeconds: s.failTimeoutSeconds,
    keepalive: s.keepalive,
    nextUpstreamTries: s.nextUpstreamTries,
    nextUpstreamConditions: s.nextUpstreamConditions,
    writeResendConditions: s.writeResendConditions,
    proxyTimeouts: s.proxyTimeouts,
    websocketReadTimeoutSeconds: s.websocketReadTimeoutSeconds,
    proxyBuffers: s.proxyBuffers,
    cache: s.proxyCache && { ...s.proxyCache, path: CACHE_DIR },
    health: s.health === 'backend' ? 'upstream' : 'nginx',
    clientMaxBodySize: s.clientMaxBodySize,
    accessLog: '/dev/stdout',
    writableDir: WRITABLE_DIR,
    workerProcesses: s.workerProcesses,
    workerShutdownTimeoutSeconds: WORKER_SHUTDOWN_SECONDS,
  };
}

function containerPorts(s: NginxModeSettings): k8s.ContainerPort[] {
  return [
    { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
    ...(s.tls ? [{ name: 'https', containerPort: HTTPS_PORT, protocol: 'TCP' }] : []),
  ];
}

function createConfigMap(lb: LoadBalancerScope, metadata: Metadata, nginxConf: string): k8s.KubeConfigMap {
  return new k8s.KubeConfigMap(lb, 'Config', { metadata, data: { 'nginx.conf': nginxConf } });
}

/** Request bodies each pod's `/tmp` holds at `clientMaxBodySize` at once (bodies above client_body_buffer_size, 16 KiB, are spooled there). */
const NGINX_SPOOLED_BODIES = 16;

/**
 * nginx's `/tmp` in MiB: 64 MiB for its pid and small files, and NGINX_SPOOLED_BODIES bodies at `clientMaxBodySize` (nginx's `512k` or
 * `8m`); responses are never spooled (`proxy_max_temp_file_size 0`).
 */
function nginxScratchMib(clientMaxBodySize: string): number {
  const kib = Number(clientMaxBodySize.slice(0, -1)) * (clientMaxBodySize.endsWith('m') ? 1024 : 1);
  return 64 + Math.ceil(NGINX_SPOOLED_BODIES * kib / 1024);
}

function createDeployment(
  lb: LoadBalancerScope, s: NginxModeSettings, metadata: Metadata, configMap: k8s.KubeConfigMap, nginxConf: string,
): k8s.KubeDeployment {
  const tmp = scratchVolume('tmp', '/tmp', `${nginxScratchMib(s.clientMaxBodySize)}Mi`);
  const cache = s.proxyCache && cacheVolume(s.proxyCache.maxSizeMib);
  return new k8s.KubeDeployment(lb, 'Deployment', {
    metadata,
    spec: {
      selector: { matchLabels: lb.podSelector },
      revisionHistoryLimit: 5,
      strategy: noUnavailableRollingUpdate(),
      template: {
        metadata: {
          labels: metadata.labels,
          // A changed nginx.conf changes the template, so the pods roll and load it.
          annotations: { [CONFIG_HASH_ANNOTATION]: configHash(nginxConf) },
        },
        spec: withEphemeralStorage({
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurityContext(101),
          // The drain, then the workers' shutdown, then a margin for the exporter and the kubelet.
          terminationGracePeriodSeconds: s.drainDelaySeconds + WORKER_SHUTDOWN_SECONDS + 5,
          topologySpreadConstraints: zoneAndNodeSpread(lb.podSelector, 'preferred'),
          affinity: nodeAntiAffinity(lb.podSelector, 'preferred'),
          volumes: [
            tmp.volume,
            { name: 'config', configMap: { name: configMap.name } },
            ...(s.tls ? [{ name: 'tls', secret: { secretName: s.tls.secretName } }] : []),
            ...(cache ? [cache.volume] : []),
          ],
          containers: [
            nginxContainer(s, [
              tmp.mount,
              { name: 'config', mountPath: `${CONFIG_DIR}/nginx.conf`, subPath: 'nginx.conf', readOnly: true },
              ...(s.tls ? [{ name: 'tls', mountPath: TLS_DIR, readOnly: true }] : []),
              ...(cache ? [cache.mount] : []),
            ]),
            exporterSidecar({
              image: s.exporterImage,
              port: EXPORTER_PORT,
              healthPath: '/metrics',
              args: [`--nginx.scrape-uri=http://127.0.0.1:${STATUS_PORT}/stub_status`, `--web.listen-address=:${EXPORTER_PORT}`],
            }),
          ],
        }),
      },
    },
  });
}

/**
 * The cache's own emptyDir, 25% above the cache's size: nginx's cache manager trims the cache only
 * after it has grown past `max_size`, and a full sizeLimit evicts the pod.
 */
function cacheVolume(maxSizeMib: number): { volume: k8s.Volume; mount: k8s.VolumeMount } {
  return scratchVolume('cache', CACHE_DIR, `${Math.ceil(maxSizeMib * 1.25)}Mi`);
}

function nginxContainer(s: NginxModeSettings, volumeMounts: k8s.VolumeMount[]): k8s.Container {
  // When /health reflects the backends, the probes ask nginx alone: a backend outage must not take the load balancers down.
  const healthPath = s.health === 'backend' ? NGINX_HEALTH_PATH : '/health';
  const health = { httpGet: { path: healthPath, port: k8s.IntOrString.fromString('http') } };
  return {
    name: 'nginx',
    image: s.image,
    imagePullPolicy: 'IfNotPresent',
    // The temp paths of nginx.conf live under the emptyDir; nginx creates the leaves, not their parent.
    command: ['/bin/sh', '-c', `mkdir -p ${WRITABLE_DIR} || exit 1; ${certificateReload(s)}exec nginx -g 'daemon off;'`],
    ports: containerPorts(s),
    resources: s.resources,
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts,
    // Serving on through the drain lets the cloud load balancer's health checks (and kube-proxy) drop the pod first; nginx
    // then finishes in-flight requests on SIGQUIT (the kubelet's SIGTERM, sent once preStop returns, would cut them).
    lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', `sleep ${s.drainDelaySeconds} && nginx -s quit && sleep ${WORKER_SHUTDOWN_SECONDS}`] } } },
    readinessProbe: { ...health, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    livenessProbe: { ...health, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
  };
}

/** With TLS, the background loop that reloads nginx when the kubelet updates the renewed Secret's files. */
function certificateReload(s: NginxModeSettings): string {
  if (!s.tls) return '';
  return `${backgroundReloadLoop({
    files: [`${TLS_DIR}/tls.crt`, `${TLS_DIR}/tls.key`], reload: `kill -HUP "$(cat ${WRITABLE_DIR}/nginx.pid)"`, intervalSeconds: CERTIFICATE_CHECK_SECONDS,
  })} `;
}

function createService(lb: LoadBalancerScope, s: NginxModeSettings, metadata: Metadata): k8s.KubeService {
  return new k8s.KubeService(lb, 'Service', {
    metadata,
    spec: {
      type: 'LoadBalancer',
      // Local keeps the client's address, which the per-client rate limits key on.
      externalTrafficPolicy: 'Local',
      selector: lb.podSelector,
      ports: [
        { name: 'http', port: 80, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' },
        ...(s.tls ? [{ name: 'https', port: 443, targetPort: k8s.IntOrString.fromString('https'), protocol: 'TCP' }] : []),
      ],
    },
  });
}

function createAutoscaler(
  lb: LoadBalancerScope, s: NginxModeSettings, metadata: Metadata, deployment: k8s.KubeDeployment,
): k8s.KubeHorizontalPodAutoscalerV2 {
  return deploymentAutoscaler(lb, metadata, deployment, {
    minReplicas: s.minReplicas, maxReplicas: s.maxReplicas, metrics: [utilizationMetric('cpu', s.cpuUtilization)],
  });
}

/** Clients from anywhere, egress to each backend (which admits nginx in turn), and the metrics scraper. */
function createNetworkPolicy(lb: LoadBalancerScope, s: NginxModeSettings, metadata: Metadata): PodNetworkPolicy {
  const policy = new PodNetworkPolicy(lb, 'NetworkPolicy', { podSelector: lb.podSelector, labels: metadata.labels });
  // Clients come from anywhere: the cloud load balancer keeps their addresses.
  policy.allowIngressFromAnywhere(containerPorts(s).map(p => p.containerPort));
  for (const backend of [s.backend, ...otherBackends(s.backend, s.routes)]) {
    policy.allowEgressTo({ peer: { podSelector: backend.podSelector }, ports: [backend.port] });
    backend.allowClient({ podSelector: lb.podSelector });
  }
  policy.allowIngressFrom(s.metricsScraper, [EXPORTER_PORT]);
  return policy;
}

function exporterEndpoint(lb: LoadBalancerScope): MetricsEndpoint {
  return {
    exporter: 'nginx-exporter', workloadName: lb.name, podSelector: lb.podSelector, portName: 'metrics', port: EXPORTER_PORT, path: '/metrics',
    wantedPods: { kind: 'Deployment', names: [lb.name] },
  };
}

/** 'nginx' mode: an nginx Deployment whose upstream resolves the backend's headless Service, so it balances per pod. */
export const nginxMode: LoadBalancerModeModule<NginxModeSettings> = {
  name: 'nginx',
  ownProps: [
    'image', 'imageDigest', 'exporterImage', 'exporterImageDigest', 'minReplicas', 'maxReplicas', 'cpuUtilization', 'apiRateLimit', 'loginRateLimit',
    'loginPath', 'loginMatch', 'websocketPath', 'tls', 'maxFails', 'failTimeout', 'keepalive', 'nextUpstreamTries', 'nextUpstreamOn', 'resendWrites',
    'proxyTimeouts', 'proxyBuffers', 'websocketReadTimeout', 'drainDelay', 'http2', 'proxyCache', 'health', 'clientMaxBodySize', 'resolver', 'resources',
    'metricsScraper', 'pod',
  ],
  resolve: resolveNginxSettings,
  build(lb, settings) {
    const nginxConf = renderNginxConf(nginxConfOptions(lb, settings));
    const labels = commonLabels(lb, 'nginx', 'load-balancer', imageVersion(settings.image));
    const metadata = { name: lb.name, labels, namespace: namespaceOf(lb) };
    const configMap = createConfigMap(lb, metadata, nginxConf);
    const deployment = createDeployment(lb, settings, metadata, configMap, nginxConf);
    return {
      certificate: settings.tls?.certificate && createCertificate(lb, settings.tls, metadata),
      nginxConf,
      configMap,
      deployment,
      service: createService(lb, settings, metadata),
      autoscaler: createAutoscaler(lb, settings, metadata, deployment),
      disruptionBudget: disruptionBudget(lb, 'DisruptionBudget', metadata, lb.podSelector),
      networkPolicy: createNetworkPolicy(lb, settings, metadata),
      metricsEndpoints: [exporterEndpoint(lb)],
      serviceAccount: applyPodOptionsWithServiceAccount(lb, 'pod', [deployment], settings.pod, { id: 'ServiceAccount', metadata }),
    };
  },
};
