import { createHash } from 'crypto';
import { ApiObject, Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { DEFAULT_METRICS_SCRAPER, ILoadBalancerBackend, IMetricsTarget, MetricsEndpoint, PodPeer } from './endpoints';
import { commonLabels, imageVersion, namespaceOf, resourceName, selectorLabels } from './names';
import { renderNginxConf } from './nginx-conf';
import {
  ContainerResources, exporterSidecar, noUnavailableRollingUpdate, nodeAntiAffinity, resolveResources,
  restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume, zoneAndNodeSpread,
} from './pod-defaults';
import { PodNetworkPolicy } from './pod-network-policy';
import {
  propError, requireDnsLabel, requireIntInRange, requireOneOf, requirePinnedImage, requirePositive,
} from './validation';

export type LoadBalancerMode = 'nginx' | 'gateway';
const MODES: LoadBalancerMode[] = ['nginx', 'gateway'];

/** A rate limit per client address. */
export interface RateLimit {
  /** Steady requests allowed per unit (per second for the API, per minute for login). */
  readonly rate: number;
  /** Requests above the rate served at once before 429. */
  readonly burst: number;
}

/** The Gateway (Gateway API) an HTTPRoute attaches to. */
export interface GatewayReference {
  /** Name of the Gateway. */
  readonly name: string;
  /** Namespace of the Gateway. @default - the chart's namespace */
  readonly namespace?: string;
  /** Listener of the Gateway to attach to. @default - every listener that admits the route */
  readonly sectionName?: string;
}

/** Props of a {@link LoadBalancer}. */
export interface LoadBalancerProps {
  /** The API the load balancer sends traffic to. */
  readonly backend: ILoadBalancerBackend;
  /** 'nginx' runs our own nginx tier; 'gateway' attaches an HTTPRoute to an existing Gateway. @default 'nginx' */
  readonly mode?: LoadBalancerMode;
  /** nginx image; must be nginx >= 1.27.3 for `resolve` in upstreams, and run unprivileged. @default 'nginxinc/nginx-unprivileged:1.27.4-alpine' */
  readonly image?: string;
  /** Image of the stub_status exporter sidecar. @default 'nginx/nginx-prometheus-exporter:1.4.2' */
  readonly exporterImage?: string;
  /** Fewest nginx pods. @default 2 */
  readonly minReplicas?: number;
  /** Most nginx pods. @default 10 */
  readonly maxReplicas?: number;
  /** Average CPU utilization the nginx autoscaler aims for. @default 70 */
  readonly cpuUtilization?: number;
  /** API requests per second per client, and burst. @default { rate: 100, burst: 20 } */
  readonly apiRateLimit?: RateLimit;
  /** Login requests per minute per client, and burst. @default { rate: 5, burst: 3 } */
  readonly loginRateLimit?: RateLimit;
  /** Exact path of the login endpoint. @default '/api/v1/auth/login' */
  readonly loginPath?: string;
  /** Path prefix of websocket connections. @default '/ws' */
  readonly websocketPath?: string;
  /** Terminate TLS with the certificate of this `kubernetes.io/tls` Secret, and redirect HTTP to HTTPS. @default - plain HTTP only */
  readonly tls?: { readonly secretName: string };
  /** Failed attempts that mark a pod down for `failTimeout`. @default 3 */
  readonly maxFails?: number;
  /** How long a failing pod is skipped, and the window its failures are counted in. @default Duration.seconds(10) */
  readonly failTimeout?: Duration;
  /** Idle keepalive connections to the API kept per nginx worker. @default 32 */
  readonly keepalive?: number;
  /** Pods tried for one request before nginx answers with the error. @default 3 */
  readonly nextUpstreamTries?: number;
  /** Largest request body accepted. @default '1m' */
  readonly clientMaxBodySize?: string;
  /** DNS server nginx re-resolves the API's headless Service with. @default 'kube-dns.kube-system.svc.cluster.local' */
  readonly resolver?: string;
  /** Requests and limits of the nginx container. @default - 100m / 128Mi requested, 1 CPU / 256Mi limit */
  readonly resources?: Partial<ContainerResources>;
  /** Pods allowed to scrape the exporter. @default - pods labelled app.kubernetes.io/name=prometheus in any namespace */
  readonly metricsScraper?: PodPeer;
  /** Gateway mode: the Gateway to attach the HTTPRoute to. @default - required in gateway mode */
  readonly gateway?: GatewayReference;
  /** Gateway mode: host names the route matches. @default - every host name of the listener */
  readonly hostnames?: string[];
  /** Gateway mode: the Gateway's data-plane pods, which the API must admit. @default - every pod in the Gateway's namespace */
  readonly gatewayPods?: PodPeer;
}

const HTTP_PORT = 8080;
const HTTPS_PORT = 8443;
const STATUS_PORT = 8081;
const EXPORTER_PORT = 9113;
const CONFIG_DIR = '/etc/nginx';
const WRITABLE_DIR = '/tmp/nginx';
const TLS_DIR = '/etc/nginx/tls';

/**
 * The load balancing tier in front of a {@link ScaledApi}. In 'nginx' mode, an nginx
 * Deployment whose upstream resolves the API's headless Service, so `least_conn`,
 * `max_fails` and keepalive act on each pod rather than on one ClusterIP; in 'gateway' mode,
 * an HTTPRoute on a Gateway the cluster already runs.
 */
export class LoadBalancer extends Construct implements IMetricsTarget {
  public readonly mode: LoadBalancerMode;
  public readonly name: string;
  public readonly podSelector: Record<string, string>;
  public readonly metricsEndpoints: MetricsEndpoint[] = [];
  /** The rendered nginx.conf (nginx mode). */
  public readonly nginxConf?: string;
  public readonly configMap?: k8s.KubeConfigMap;
  public readonly deployment?: k8s.KubeDeployment;
  public readonly service?: k8s.KubeService;
  public readonly autoscaler?: k8s.KubeHorizontalPodAutoscalerV2;
  public readonly disruptionBudget?: k8s.KubePodDisruptionBudget;
  public readonly networkPolicy?: PodNetworkPolicy;
  /** The HTTPRoute (gateway mode). */
  public readonly httpRoute?: ApiObject;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    this.name = resourceName(this);
    this.mode = requireOneOf(this, 'mode', props.mode ?? 'nginx', MODES);
    this.podSelector = selectorLabels(this, 'load-balancer');
    if (this.mode === 'gateway') {
      this.httpRoute = this.buildHttpRoute(props);
      return;
    }

    const apiRate = this.resolveRateLimit('apiRateLimit', props.apiRateLimit, { rate: 100, burst: 20 });
    const loginRate = this.resolveRateLimit('loginRateLimit', props.loginRateLimit, { rate: 5, burst: 3 });
    if (props.tls !== undefined && !props.tls.secretName) {
      throw propError(this, 'tls.secretName', props.tls.secretName ?? '',
        'must name a kubernetes.io/tls Secret when TLS is asked for');
    }
    const image = requirePinnedImage(this, 'image', props.image ?? 'nginxinc/nginx-unprivileged:1.27.4-alpine');
    const exporterImage = requirePinnedImage(this, 'exporterImage', props.exporterImage ?? 'nginx/nginx-prometheus-exporter:1.4.2');
    const minReplicas = requireIntInRange(this, 'minReplicas', props.minReplicas ?? 2, 1, 1000);
    const maxReplicas = requireIntInRange(this, 'maxReplicas', props.maxReplicas ?? 10, 1, 1000);
    if (minReplicas > maxReplicas) {
      throw propError(this, 'minReplicas', minReplicas, `must be less than or equal to 'maxReplicas' (${maxReplicas})`);
    }
    const cpuUtilization = requireIntInRange(this, 'cpuUtilization', props.cpuUtilization ?? 70, 1, 100);
    const failTimeoutSeconds = props.failTimeout?.toSeconds() ?? 10;
    requirePositive(this, 'failTimeout', failTimeoutSeconds);
    const backendHost = `${props.backend.headlessServiceName}.${namespaceOf(this) ?? 'default'}.svc.cluster.local`;

    this.nginxConf = renderNginxConf({
      upstreamServers: [{ address: `${backendHost}:${props.backend.port}`, resolve: true }],
      resolver: props.resolver ?? 'kube-dns.kube-system.svc.cluster.local',
      httpPort: HTTP_PORT,
      tls: props.tls ? { port: HTTPS_PORT, certificatePath: `${TLS_DIR}/tls.crt`, keyPath: `${TLS_DIR}/tls.key` } : undefined,
      statusPort: STATUS_PORT,
      apiRateLimit: { ...apiRate, per: 'second' },
      loginRateLimit: { ...loginRate, per: 'minute' },
      loginPath: props.loginPath ?? '/api/v1/auth/login',
      websocketPath: props.websocketPath ?? '/ws',
      maxFails: requireIntInRange(this, 'maxFails', props.maxFails ?? 3, 1, 100),
      failTimeoutSeconds,
      keepalive: requireIntInRange(this, 'keepalive', props.keepalive ?? 32, 1, 10000),
      nextUpstreamTries: requireIntInRange(this, 'nextUpstreamTries', props.nextUpstreamTries ?? 3, 1, 10),
      clientMaxBodySize: props.clientMaxBodySize ?? '1m',
      accessLog: '/dev/stdout',
      writableDir: WRITABLE_DIR,
    });

    const labels = commonLabels(this, 'nginx', 'load-balancer', imageVersion(image));
    const metadata = { name: this.name, labels, namespace: namespaceOf(this) };
    this.configMap = new k8s.KubeConfigMap(this, 'Config', { metadata, data: { 'nginx.conf': this.nginxConf } });

    const tmp = scratchVolume('tmp', '/tmp');
    const volumes: k8s.Volume[] = [tmp.volume, { name: 'config', configMap: { name: this.configMap.name } }];
    const mounts: k8s.VolumeMount[] = [tmp.mount, { name: 'config', mountPath: `${CONFIG_DIR}/nginx.conf`, subPath: 'nginx.conf', readOnly: true }];
    if (props.tls) {
      volumes.push({ name: 'tls', secret: { secretName: props.tls.secretName } });
      mounts.push({ name: 'tls', mountPath: TLS_DIR, readOnly: true });
    }
    const ports: k8s.ContainerPort[] = [{ name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' }];
    if (props.tls) ports.push({ name: 'https', containerPort: HTTPS_PORT, protocol: 'TCP' });
    const health = { httpGet: { path: '/health', port: k8s.IntOrString.fromString('http') } };

    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata,
      spec: {
        selector: { matchLabels: this.podSelector },
        revisionHistoryLimit: 5,
        strategy: noUnavailableRollingUpdate(),
        template: {
          metadata: {
            labels,
            // A changed nginx.conf changes the template, so the pods roll and load it.
            annotations: { 'hscale.io/config-sha256': createHash('sha256').update(this.nginxConf).digest('hex') },
          },
          spec: {
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(101),
            terminationGracePeriodSeconds: 30,
            topologySpreadConstraints: zoneAndNodeSpread(this.podSelector, 'ScheduleAnyway'),
            affinity: nodeAntiAffinity(this.podSelector, false),
            volumes,
            containers: [
              {
                name: 'nginx',
                image,
                imagePullPolicy: 'IfNotPresent',
                // The temp paths of nginx.conf live under the emptyDir; nginx creates the leaves, not their parent.
                command: ['/bin/sh', '-c', `mkdir -p ${WRITABLE_DIR} && exec nginx -g 'daemon off;'`],
                ports,
                resources: resolveResources(this, 'resources', props.resources, {
                  cpuRequest: '100m', memoryRequest: '128Mi', cpuLimit: '1', memoryLimit: '256Mi',
                }),
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: mounts,
                // nginx finishes in-flight requests on SIGQUIT; the pause lets endpoints drop the pod first.
                lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', 'sleep 5 && nginx -s quit && sleep 10'] } } },
                readinessProbe: { ...health, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                livenessProbe: { ...health, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              },
              exporterSidecar({
                image: exporterImage,
                port: EXPORTER_PORT,
                healthPath: '/metrics',
                args: [`--nginx.scrape-uri=http://127.0.0.1:${STATUS_PORT}/stub_status`, `--web.listen-address=:${EXPORTER_PORT}`],
              }),
            ],
          },
        },
      },
    });

    this.service = new k8s.KubeService(this, 'Service', {
      metadata,
      spec: {
        type: 'LoadBalancer',
        // Local keeps the client's address, which the per-client rate limits key on.
        externalTrafficPolicy: 'Local',
        selector: this.podSelector,
        ports: [
          { name: 'http', port: 80, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' },
          ...(props.tls ? [{ name: 'https', port: 443, targetPort: k8s.IntOrString.fromString('https'), protocol: 'TCP' }] : []),
        ],
      },
    });

    this.autoscaler = new k8s.KubeHorizontalPodAutoscalerV2(this, 'Autoscaler', {
      metadata,
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.name },
        minReplicas,
        maxReplicas,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpuUtilization } } }],
      },
    });

    this.disruptionBudget = new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata,
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.podSelector } },
    });

    this.networkPolicy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels });
    // Clients come from anywhere: the cloud load balancer keeps their addresses.
    this.networkPolicy.allowIngressFromAnywhere(ports.map(p => p.containerPort));
    this.networkPolicy.allowEgressTo({ peer: { podSelector: props.backend.podSelector }, ports: [props.backend.port] });
    props.backend.allowClient({ podSelector: this.podSelector });

    this.metricsEndpoints.push({
      exporter: 'nginx-exporter',
      workloadName: this.name,
      podSelector: this.podSelector,
      portName: 'metrics',
      port: EXPORTER_PORT,
      path: '/metrics',
    });
    this.allowScraper(props.metricsScraper ?? DEFAULT_METRICS_SCRAPER);
  }

  /** Admits pods matching `scraper` on the exporter port (nginx mode). */
  public allowScraper(scraper: PodPeer): void {
    this.networkPolicy?.allowIngressFrom(scraper, [EXPORTER_PORT]);
  }

  private resolveRateLimit(prop: string, given: RateLimit | undefined, defaults: RateLimit): RateLimit {
    const limit = { ...defaults, ...given };
    requirePositive(this, `${prop}.rate`, limit.rate);
    if (!Number.isInteger(limit.rate)) throw propError(this, `${prop}.rate`, limit.rate, 'must be a whole number of requests');
    requireIntInRange(this, `${prop}.burst`, limit.burst, 0, 100000);
    return limit;
  }

  private buildHttpRoute(props: LoadBalancerProps): ApiObject {
    if (!props.gateway?.name) {
      throw propError(this, 'gateway', props.gateway?.name ?? '', 'must name the Gateway to attach to in \'gateway\' mode');
    }
    // A Gateway API route has no portable rate limiting; dropping the limits silently would remove a protection.
    for (const prop of ['apiRateLimit', 'loginRateLimit', 'tls'] as const) {
      if (props[prop] !== undefined) {
        throw propError(this, prop, JSON.stringify(props[prop]),
          'cannot be expressed by a portable HTTPRoute; configure it on your Gateway implementation, or use mode \'nginx\'');
      }
    }
    requireDnsLabel(this, 'gateway.name', props.gateway.name);
    const route = new ApiObject(this, 'HTTPRoute', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: this.name, namespace: namespaceOf(this), labels: commonLabels(this, 'http-route', 'load-balancer') },
      spec: {
        parentRefs: [{
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: props.gateway.name,
          ...(props.gateway.namespace ? { namespace: props.gateway.namespace } : {}),
          ...(props.gateway.sectionName ? { sectionName: props.gateway.sectionName } : {}),
        }],
        ...(props.hostnames ? { hostnames: props.hostnames } : {}),
        rules: [{
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ name: props.backend.serviceName, port: props.backend.port }],
        }],
      },
    });
    const gatewayNamespace = props.gateway.namespace ?? namespaceOf(this);
    props.backend.allowClient(props.gatewayPods ?? {
      podSelector: {},
      ...(gatewayNamespace ? { namespaceSelector: { 'kubernetes.io/metadata.name': gatewayNamespace } } : {}),
    });
    return route;
  }
}
