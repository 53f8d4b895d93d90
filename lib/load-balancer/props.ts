import { Duration, Size } from 'cdk8s';
import { ILoadBalancerBackend, PodPeer } from '../core/endpoints';
import { ContainerResources } from '../core/pod-defaults';
import { PodOptions } from '../core/pod-options';
import { SecretRef } from '../core/secret-refs';
import { NginxNextUpstreamCondition } from './nginx-conf';

/** How traffic reaches the backend; each mode is one module in lib/load-balancer/, listed in LOAD_BALANCER_MODES. */
export type LoadBalancerMode = 'nginx' | 'gateway' | 'ingress';

/** The unit of a rate limit. */
export type RateLimitUnit = 'second' | 'minute';

/** How nginx matches the login path: `location = <path>` or `location <path>`. */
export type LoginMatch = 'exact' | 'prefix';

/** A rate limit per client address. */
export interface RateLimit {
  /** Steady requests allowed per `per`. */
  readonly rate: number;
  /** Requests above the rate served at once before 429. */
  readonly burst: number;
  /** Unit of `rate`. @default 'second' for `apiRateLimit`, 'minute' for `loginRateLimit` */
  readonly per?: RateLimitUnit;
}

/** nginx's timeouts towards the backend; each is a whole number of seconds. */
export interface ProxyTimeouts {
  /** Establishing a connection to a pod (at most 75 s, nginx's own ceiling). @default Duration.seconds(2) */
  readonly connect?: Duration;
  /** Between two successive writes of the request to a pod. @default Duration.seconds(30) */
  readonly send?: Duration;
  /** Between two successive reads of the response from a pod. @default Duration.seconds(30) */
  readonly read?: Duration;
}

/** nginx's buffers for a proxied response, in whole KiB. */
export interface ProxyBuffers {
  /** `proxy_buffer_size`: the buffer of the response headers. */
  readonly headerBufferSize: Size;
  /** `proxy_buffers` count: body buffers per connection (at least 2). */
  readonly count: number;
  /** `proxy_buffers` size: each body buffer. */
  readonly bufferSize: Size;
}

/** When nginx tries the next pod (nginx's `proxy_next_upstream` conditions). */
export type NextUpstreamCondition = NginxNextUpstreamCondition;

/** A proxy cache of GET/HEAD responses that the backend marks cacheable. */
export interface ProxyCache {
  /** Shared memory for the keys (1 MiB holds about 8000 keys); counts against the nginx memory limit. @default Size.mebibytes(100) */
  readonly keysZoneSize?: Size;
  /** Disk used by cached responses before the least recently used are removed. @default Size.gibibytes(1) */
  readonly maxSize?: Size;
  /** Responses not requested for this long are removed, fresh or not. @default Duration.minutes(60) */
  readonly inactive?: Duration;
}

/** A path prefix sent to a backend of its own. */
export interface LoadBalancerRoute {
  /** Path prefix, e.g. '/' or '/static/'; '/' takes over the default location of `backend`. */
  readonly pathPrefix: string;
  /** The backend serving the prefix; may be `backend` itself. */
  readonly backend: ILoadBalancerBackend;
  /** Whether the per-client `apiRateLimit` applies (nginx mode). @default true */
  readonly rateLimited?: boolean;
}

/** Who answers `/health` at the load balancer. */
export type LoadBalancerHealth = 'nginx' | 'backend';

/** The Gateway (Gateway API) an HTTPRoute attaches to. */
export interface GatewayReference {
  /** Name of the Gateway. */
  readonly name: string;
  /** Namespace of the Gateway. @default - the chart's namespace */
  readonly namespace?: string;
  /** Listener of the Gateway to attach to. @default - every listener that admits the route */
  readonly sectionName?: string;
}

/** The certificate nginx serves: a `kubernetes.io/tls` Secret, made by hand or by cert-manager from a named issuer. */
export interface LoadBalancerTls extends SecretRef {
  /** cert-manager writes the Secret: a `Certificate` from this issuer. @default - the Secret is made by hand (`kubectl create secret tls`) */
  readonly certificate?: CertificateFromIssuer;
}

/** A cert-manager `Certificate` the LoadBalancer emits, which keeps its `tls.secretName` issued and renewed. */
export interface CertificateFromIssuer {
  /** The name of the Issuer or ClusterIssuer, e.g. 'letsencrypt-prod'. */
  readonly issuer: string;
  /** Whether the issuer is namespaced ('Issuer', in the chart's namespace) or cluster-wide. @default 'ClusterIssuer' */
  readonly issuerKind?: 'Issuer' | 'ClusterIssuer';
  /** The DNS names the certificate covers. */
  readonly dnsNames: string[];
}

/** Props of a {@link LoadBalancer}. */
export interface LoadBalancerProps {
  /** The API the load balancer sends traffic to. */
  readonly backend: ILoadBalancerBackend;
  /**
   * 'nginx' runs our own nginx tier; 'gateway' attaches an HTTPRoute to an existing Gateway, whose implementation
   * configures what a portable route cannot express (rate limits, TLS, retries, buffers, caching, HTTP/2, /health);
   * 'ingress' emits an Ingress (with `tls`) for the cluster's Ingress controller, which likewise configures the rest.
   * @default 'nginx'
   */
  readonly mode?: LoadBalancerMode;
  /** nginx image; must be nginx >= 1.27.3 for `resolve` in upstreams, and run unprivileged. @default 'nginxinc/nginx-unprivileged:1.27.4-alpine' @onlyWhen mode=nginx */
  readonly image?: string;
  /** Digest of `image` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image @onlyWhen mode=nginx */
  readonly imageDigest?: string;
  /** Image of the stub_status exporter sidecar. @default 'nginx/nginx-prometheus-exporter:1.4.2' @onlyWhen mode=nginx */
  readonly exporterImage?: string;
  /** Digest of `exporterImage` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image @onlyWhen mode=nginx */
  readonly exporterImageDigest?: string;
  /** Fewest nginx pods. @default 2 @onlyWhen mode=nginx */
  readonly minReplicas?: number;
  /** Most nginx pods. @default 10 @onlyWhen mode=nginx */
  readonly maxReplicas?: number;
  /** Average CPU utilization the nginx autoscaler aims for. @default 70 @onlyWhen mode=nginx */
  readonly cpuUtilization?: number;
  /** API requests per client, burst and unit. @default { rate: 100, burst: 20, per: 'second' } @onlyWhen mode=nginx */
  readonly apiRateLimit?: RateLimit;
  /** Login requests per client, burst and unit. @default { rate: 5, burst: 3, per: 'minute' } @onlyWhen mode=nginx */
  readonly loginRateLimit?: RateLimit;
  /** Path of the login endpoint. @default '/api/v1/auth/login' @onlyWhen mode=nginx */
  readonly loginPath?: string;
  /** nginx mode: whether `loginRateLimit` applies to `loginPath` alone ('exact') or to every path below it too ('prefix'). @default 'exact' @onlyWhen mode=nginx */
  readonly loginMatch?: LoginMatch;
  /** Path prefix of websocket connections, matched at a segment boundary: '/ws' serves '/ws/...', never '/wsx'. @default '/ws' @onlyWhen mode=nginx */
  readonly websocketPath?: string;
  /**
   * Paths that are never forwarded (nginx answers 404, a Gateway answers with no backend), each with
   * everything below it: the backend's metrics, health details, replication status and cache
   * endpoints, which the scraper and the kubelet reach on the pod. `/health` stays public.
   * @default ['/metrics', '/api/v1/scaling', '/api/v1/cache']
   */
  readonly internalPaths?: string[];
  /** Terminate TLS with the certificate of this `kubernetes.io/tls` Secret (nginx: and redirect HTTP to HTTPS). @default - plain HTTP only @onlyWhen mode=nginx|ingress */
  readonly tls?: LoadBalancerTls;
  /** Failed attempts that mark a pod down for `failTimeout`. @default 3 @onlyWhen mode=nginx */
  readonly maxFails?: number;
  /** How long a failing pod is skipped, and the window its failures are counted in. @default Duration.seconds(10) @onlyWhen mode=nginx */
  readonly failTimeout?: Duration;
  /** Idle keepalive connections to the API kept per nginx worker. @default 32 @onlyWhen mode=nginx */
  readonly keepalive?: number;
  /** Pods tried for one request before nginx answers with the error. @default 3 @onlyWhen mode=nginx */
  readonly nextUpstreamTries?: number;
  /**
   * What makes nginx try the next pod. `non_idempotent` here would retry POST, PATCH and LOCK on
   * every condition and to every backend, so a write answered 503 is sent to each pod in turn;
   * `resendWrites` resends them on failures alone. @default ['error', 'timeout', 'http_502', 'http_503']
   * @onlyWhen mode=nginx
   */
  readonly nextUpstreamOn?: NextUpstreamCondition[];
  /**
   * Resend a POST, PATCH or LOCK to `backend` to the next pod when its pod failed before answering
   * (`error`, `timeout` of `nextUpstreamOn`), with an `Idempotency-Key` header (the client's, else
   * nginx's request id) that the backend must dedupe by, as hscale's service does: then a pod
   * killed mid-request fails no write. Set false for a backend that does not dedupe; the
   * writes of `routes` to other backends are never resent.
   * @default true, unless `nextUpstreamOn` holds 'off' or 'non_idempotent'
   * @onlyWhen mode=nginx
   */
  readonly resendWrites?: boolean;
  /** Connect, send and read timeouts towards the backend. @default - connect 2 s, send 30 s, read 30 s @onlyWhen mode=nginx */
  readonly proxyTimeouts?: ProxyTimeouts;
  /** Response buffer sizes. @default - nginx's: one memory page for headers, 8 buffers of one page for the body @onlyWhen mode=nginx */
  readonly proxyBuffers?: ProxyBuffers;
  /**
   * How long an idle websocket stays open (nginx's read timeout on `websocketPath`), at most 1 day.
   * Clients must ping more often anyway: the cloud load balancer closes idle connections first. @default Duration.hours(1)
   * @onlyWhen mode=nginx
   */
  readonly websocketReadTimeout?: Duration;
  /**
   * How long a stopping nginx pod keeps serving before it drains: longer than the cloud load balancer's health-check
   * window (interval × unhealthy threshold, 10-30 s), which with externalTrafficPolicy Local is how it learns the node
   * has no ready nginx left; shorter, and it sends new connections to a closed port. @default Duration.seconds(35) @onlyWhen mode=nginx
   */
  readonly drainDelay?: Duration;
  /** Serve HTTP/2 on the TLS listener (needs `tls`). @default false @onlyWhen mode=nginx */
  readonly http2?: boolean;
  /** Cache GET responses the backend marks cacheable; never those of requests with Authorization or Cookie. @default - no cache @onlyWhen mode=nginx */
  readonly proxyCache?: ProxyCache;
  /** Path prefixes sent to other backends (each its own upstream and NetworkPolicy link). @default - every path goes to `backend` */
  readonly routes?: LoadBalancerRoute[];
  /** 'nginx' answers `/health` itself; 'backend' proxies it to the backend's `/health`, so it reflects the pods. @default 'nginx' @onlyWhen mode=nginx */
  readonly health?: LoadBalancerHealth;
  /** Largest request body accepted (`client_max_body_size`), in whole KiB; nginx's /tmp emptyDir holds 16 such bodies beside 64 MiB. @default Size.mebibytes(1) @onlyWhen mode=nginx */
  readonly clientMaxBodySize?: Size;
  /** DNS server nginx re-resolves the API's headless Service with. @default 'kube-dns.kube-system.svc.cluster.local' @onlyWhen mode=nginx */
  readonly resolver?: string;
  /** Requests and limits of the nginx container. @default - 100m / 128Mi requested, 1 CPU / 256Mi limit @onlyWhen mode=nginx */
  readonly resources?: Partial<ContainerResources>;
  /** Pods allowed to scrape the exporter. @default - pods labelled app.kubernetes.io/name=prometheus in the namespace 'monitoring' (a namespaceSelector must pin kubernetes.io/metadata.name) @onlyWhen mode=nginx */
  readonly metricsScraper?: PodPeer;
  /** Gateway mode: the Gateway to attach the HTTPRoute to. @default - required in gateway mode @onlyWhen mode=gateway */
  readonly gateway?: GatewayReference;
  /** Gateway and ingress mode: host names the route or Ingress matches (ingress: and its TLS serves). @default - every host name of the listener; ingress: `tls.certificate.dnsNames` @onlyWhen mode=gateway|ingress */
  readonly hostnames?: string[];
  /** Gateway mode: the Gateway's data-plane pods, which the API must admit. @default - every pod in the Gateway's namespace @onlyWhen mode=gateway */
  readonly gatewayPods?: PodPeer;
  /** Ingress mode: the IngressClass of the cluster's Ingress controller. @default - required in ingress mode @onlyWhen mode=ingress */
  readonly ingressClassName?: string;
  /** Ingress mode: the controller's pods, which the API must admit (the namespaceSelector must pin kubernetes.io/metadata.name). @default - required in ingress mode @onlyWhen mode=ingress */
  readonly ingressControllerPods?: PodPeer;
  /** nginx mode: pod options of the nginx pods (node pools, tolerations, priority, pull Secrets, labels, annotations, ServiceAccount annotations). @default - none @onlyWhen mode=nginx */
  readonly pod?: PodOptions;
}

