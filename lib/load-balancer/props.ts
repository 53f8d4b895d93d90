import { Duration } from 'cdk8s';
import { ILoadBalancerBackend, PodPeer } from '../endpoints';
import { ContainerResources } from '../pod-defaults';

/** How traffic reaches the backend; each mode is one module in lib/load-balancer/, listed in LOAD_BALANCER_MODES. */
export type LoadBalancerMode = 'nginx' | 'gateway';

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

/** Every prop of {@link LoadBalancerProps}: names outside it (typos from JavaScript) are refused at synth time. */
export const LOAD_BALANCER_PROPS: Record<keyof LoadBalancerProps, true> = {
  backend: true, mode: true, image: true, exporterImage: true, minReplicas: true, maxReplicas: true, cpuUtilization: true,
  apiRateLimit: true, loginRateLimit: true, loginPath: true, websocketPath: true, tls: true, maxFails: true,
  failTimeout: true, keepalive: true, nextUpstreamTries: true, clientMaxBodySize: true, resolver: true, resources: true,
  metricsScraper: true, gateway: true, hostnames: true, gatewayPods: true,
};
