import { valuesOf } from '../core/validation';

/** One `server` line of the upstream. */
export interface NginxUpstreamServer {
  /** `host:port`. */
  readonly address: string;
  /**
   * Re-resolve the host while running (nginx >= 1.27.3), so a headless Service's pod IPs are
   * followed as the autoscaler adds and removes pods.
   */
  readonly resolve: boolean;
}

/** A request rate limit: a steady rate and the burst allowed above it. */
export interface NginxRateLimit {
  /** Requests allowed per `per`. */
  readonly rate: number;
  /** Unit of the rate. */
  readonly per: 'second' | 'minute';
  /** Requests above the rate served at once before nginx answers 429. */
  readonly burst: number;
}

/** The conditions `proxy_next_upstream` accepts (nginx's own list). */
/** When nginx passes a request on to the next server. */
export type NginxNextUpstreamCondition =
  | 'error' | 'timeout' | 'invalid_header' | 'http_500' | 'http_502' | 'http_503' | 'http_504' | 'http_403' | 'http_404' | 'http_429'
  | 'non_idempotent' | 'off';
export const NGINX_NEXT_UPSTREAM_CONDITIONS = valuesOf<NginxNextUpstreamCondition>({
  'error': true, 'timeout': true, 'invalid_header': true, 'http_500': true, 'http_502': true, 'http_503': true, 'http_504': true,
  'http_403': true, 'http_404': true, 'http_429': true, 'non_idempotent': true, 'off': true,
});

/** `proxy_connect_timeout`, `proxy_send_timeout` and `proxy_read_timeout`, in seconds. */
export interface NginxProxyTimeouts {
  readonly connectSeconds: number;
  readonly sendSeconds: number;
  readonly readSeconds: number;
}

/** `proxy_buffer_size` (the response headers) and `proxy_buffers` (count x size of the body buffers), in KiB. */
export interface NginxProxyBuffers {
  readonly headerBufferKib: number;
  readonly count: number;
  readonly sizeKib: number;
}

/** A `proxy_cache_path` whose zone the general locations use. */
export interface NginxProxyCache {
  /** Directory of the cached responses; must be writable by nginx. */
  readonly path: string;
  /** Shared memory for the keys (1 MiB holds about 8000 keys). */
  readonly keysZoneMib: number;
  /** Disk size above which the cache manager removes the least recently used responses. */
  readonly maxSizeMib: number;
  /** Responses not requested for this long are removed, fresh or not. */
  readonly inactiveSeconds: number;
}

/** Another upstream beside the API's, for routes. */
export interface NginxExtraUpstream {
  readonly name: string;
  readonly servers: NginxUpstreamServer[];
}

/** A path prefix proxied to an upstream (`api` or one of `extraUpstreams`). */
export interface NginxRoute {
  /** What follows `location`; `/` replaces the API's default location. */
  readonly pathPrefix: string;
  readonly upstream: string;
  /** Whether the API rate limit applies. */
  readonly rateLimited: boolean;
}

/** TLS termination: port, certificate and key paths, and HTTP/2. */
export interface NginxTls {
  readonly port: number;
  readonly certificatePath: string;
  readonly keyPath: string;
  /**
   * Serve HTTP/2 (negotiated by ALPN): 'directive' writes `http2 on;` (nginx >= 1.25.1),
   * 'listen-parameter' writes `listen ... ssl http2;` (older nginx; deprecated since 1.25.1).
   * @default - HTTP/1.1 only
   */
  readonly http2?: 'directive' | 'listen-parameter';
}

/** Everything `renderNginxConf` needs; the LoadBalancer construct resolves it from its props. */
export interface NginxConfOptions {
  readonly upstreamServers: NginxUpstreamServer[];
  /** Upstreams of other backends, each with the same `max_fails`, `fail_timeout` and `keepalive`. */
  readonly extraUpstreams?: NginxExtraUpstream[];
  /** Path prefixes sent to an upstream other than the default location's. */
  readonly routes?: NginxRoute[];
  /** DNS server for `resolve` upstreams, e.g. `kube-dns.kube-system.svc.cluster.local`. */
  readonly resolver?: string;
  /** Port of plain HTTP. */
  readonly httpPort: number;
  /** TLS termination: port and the paths of the certificate and key. */
  readonly tls?: NginxTls;
  /** Loopback-only port of `stub_status`, which the exporter sidecar reads. */
  readonly statusPort: number;
  readonly apiRateLimit: NginxRateLimit;
  readonly loginRateLimit: NginxRateLimit;
  /** Path of the login endpoint. */
  readonly loginPath: string;
  /** Whether the login limit applies to everything below `loginPath` too. @default 'exact' */
  readonly loginMatch?: 'exact' | 'prefix';
  /** Path prefix of websocket connections, matched at a segment boundary (`/ws` serves `/ws/...`, never `/wsx`). */
  readonly websocketPath: string;
  /**
   * Paths answered 404 by nginx itself, each with everything below it, whatever the case, trailing
   * slash or encoding: the backend's ops endpoints, which the scraper and the kubelet reach on the pod.
   * @default - every path is proxied
   */
  readonly internalPaths?: string[];
  /** Failed attempts within `failTimeoutSeconds` that mark a server down for that long. */
  readonly maxFails: number;
  readonly failTimeoutSeconds: number;
  /** Idle keepalive connections to the upstream kept per worker. */
  readonly keepalive: number;
  /** Servers tried for one request before nginx gives up. */
  readonly nextUpstreamTries: number;
  /** What makes nginx try the next server. */
  readonly nextUpstreamConditions: NginxNextUpstreamCondition[];
  /**
   * When a POST, PATCH or LOCK to the API upstream is resent to the next server (these conditions
   * plus `non_idempotent`), with an `Idempotency-Key` header (the client's, else the request id)
   * that the API dedupes by. Other backends' writes are never resent.
   * @default - writes follow `nextUpstreamConditions`
   */
  readonly writeResendConditions?: NginxNextUpstreamCondition[];
  readonly proxyTimeouts: NginxProxyTimeouts;
  /** Read timeout of the websocket location: how long an idle websocket stays open. */
  readonly websocketReadTimeoutSeconds: number;
  /** Proxy buffer sizes; nginx's defaults (one memory page each) when absent. */
  readonly proxyBuffers?: NginxProxyBuffers;
  /** Cache GET responses that the backend marks cacheable; nothing is cached when absent. */
  readonly cache?: NginxProxyCache;
  /**
   * Who answers `/health`: 'nginx' itself (always 200), or 'upstream': the API's `/health`
   * through the upstream, so it reflects the backends; `/nginx-health` then answers for nginx alone.
   * @default 'nginx'
   */
  readonly health?: 'nginx' | 'upstream';
  /** Largest request body accepted, e.g. `1m`. */
  readonly clientMaxBodySize: string;
  /** Where the access log goes: `/dev/stdout` in a container, a file in tests. */
  readonly accessLog: string;
  /** Writable directory for the pid file and temp paths (the root filesystem is read-only). */
  readonly writableDir: string;
  /**
   * Worker processes: one per CPU of the container's limit. `auto` counts the node's CPUs, so
   * under a 1-CPU limit on a 16-core node 16 workers share one CPU's quota and are throttled.
   * @default - 'auto'
   */
  readonly workerProcesses?: number;
  /**
   * Seconds a worker told to quit (`nginx -s quit`) keeps open connections, websockets
   * included, before it closes them; without it a websocket holds the worker until SIGKILL.
   * @default - until the last connection closes
   */
  readonly workerShutdownTimeoutSeconds?: number;
}

// nginx's own id is the request's id; the client's X-Request-ID is only logged, quoted and escaped, in a field of its own.
const HTTP_VERBOSE_LOG_FORMAT = '\'$remote_addr - [$time_iso8601] "$request" $status $body_bytes_sent '
  + 'rt=$request_time ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time" rid=$request_id '
  + 'client_rid="$http_x_request_id"\'';

/** Mozilla's "intermediate" TLS 1.2 suites: AEAD with forward secrecy only (no CBC, no static RSA). */
export const MOZILLA_INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305', 'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
];

/** The upstream of the API, which the login, websocket and default locations forward to. */
export const API_UPSTREAM = 'api';

/** The keys zone of the proxy cache. */
const CACHE_ZONE = 'api_cache';

/** Answered by nginx alone when `/health` reflects the backends; the pod's probes use it. */
export const NGINX_HEALTH_PATH = '/nginx-health';

/** One `upstream` block: the servers of one backend and how nginx treats them. */
interface NginxUpstream {
  readonly name: string;
  readonly servers: NginxUpstreamServer[];
  readonly maxFails: number;
  readonly failTimeoutSeconds: number;
  readonly keepalive: number;
}

/** One `location` that forwards to an upstream. */
interface NginxProxiedLocation {
  /** What follows `location`, e.g. `= /login` or `/ws`. */
  readonly match: string;
  readonly upstream: string;
  /** The `limit_req` zone and burst that apply, if any. */
  readonly rateLimit?: { readonly zone: string; readonly burst: number };
  /** Directives of this location only, placed before `proxy_pass`. */
  readonly directives?: string[];
}

/** Renders the complete `nginx.conf` of the load balancer tier. */
export function renderNginxConf(o: NginxConfOptions): string {
  return [
    '# Rendered by hscale renderNginxConf; edit the LoadBalancer props, not this file.',
    `worker_processes ${o.workerProcesses ?? 'auto'};`,
    ...(o.workerShutdownTimeoutSeconds === undefined ? [] : [`worker_shutdown_timeout ${o.workerShutdownTimeoutSeconds}s;`]),
    `pid ${o.writableDir}/nginx.pid;`,
    'error_log stderr warn;',
    '',
    ...block('events', ['worker_connections 4096;']),
    '',
    ...block('http', renderHttp(o)),
    '',
  ].join('\n');
}

function renderHttp(o: NginxConfOptions): string[] {
  return paragraphs(
    [...renderLogging(o.accessLog), ...renderConnectionSettings(o.clientMaxBodySize), ...renderTempPaths(o.writableDir)],
    renderGzip(),
    o.resolver ? renderResolver(o.resolver) : [],
    renderRateLimitZones(o),
    o.cache ? renderCachePath(o.cache) : [],
    renderHeaderMaps(o.writeResendConditions !== undefined),
    ...[{ name: API_UPSTREAM, servers: o.upstreamServers }, ...(o.extraUpstreams ?? [])].map(upstream => renderUpstream({
      ...upstream,
      maxFails: o.maxFails,
      failTimeoutSeconds: o.failTimeoutSeconds,
      keepalive: o.keepalive,
    })),
    [
      ...renderProxyHeaders(),
      ...renderProxyTimeouts(o.proxyTimeouts),
      ...(o.proxyBuffers ? renderProxyBuffers(o.proxyBuffers) : []),
      ...renderProxyRetries(o),
    ],
    ...renderServers(o).map(server => block('server', server)),
  );
}

function renderLogging(accessLog: string): string[] {
  return [`log_format hscale ${HTTP_VERBOSE_LOG_FORMAT};`, `access_log ${accessLog} hscale;`];
}

function renderConnectionSettings(clientMaxBodySize: string): string[] {
  return [
    'server_tokens off;',
    'sendfile on;',
    'tcp_nopush on;',
    'keepalive_timeout 65s;',
    `client_max_body_size ${clientMaxBodySize};`,
  ];
}

/**
 * The root filesystem is read-only: every path nginx writes lies under `dir`. A response larger than the proxy buffers is passed on
 * as the client reads it, never spooled to `dir` (nginx's default spools up to 1 GiB per request, so a few slow downloads would fill
 * a small scratch volume and get the pod evicted); request bodies above client_body_buffer_size still are, up to client_max_body_size.
 */
function renderTempPaths(dir: string): string[] {
  return [...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(kind => `${kind}_temp_path ${dir}/${kind};`), 'proxy_max_temp_file_size 0;'];
}

function renderGzip(): string[] {
  return [
    'gzip on;',
    'gzip_vary on;',
    'gzip_proxied any;',
    'gzip_min_length 1024;',
    'gzip_types application/json application/javascript text/css text/plain text/xml application/xml;',
  ];
}

function renderResolver(resolver: string): string[] {
  return [`resolver ${resolver} valid=10s ipv6=off;`, 'resolver_timeout 2s;'];
}

function renderRateLimitZones(o: NginxConfOptions): string[] {
  return [
    renderRateLimitZone('api_requests', o.apiRateLimit),
    renderRateLimitZone('login_requests', o.loginRateLimit),
    'limit_req_status 429;',
  ];
}

function renderRateLimitZone(zone: string, limit: NginxRateLimit): string {
  return `limit_req_zone $binary_remote_addr zone=${zone}:10m rate=${limit.rate}r/${limit.per === 'second' ? 's' : 'm'};`;
}

/** The zone is named like the guides' (`api_cache`); `use_temp_path=off` writes responses straight into `path`. */
function renderCachePath(cache: NginxProxyCache): string[] {
  return [
    `proxy_cache_path ${cache.path} levels=1:2 keys_zone=${CACHE_ZONE}:${nginxMebibytes(cache.keysZoneMib)} `
      + `max_size=${nginxMebibytes(cache.maxSizeMib)} inactive=${cache.inactiveSeconds}s use_temp_path=off;`,
  ];
}

/** `1024` -> `1g`, `100` -> `100m`. */
function nginxMebibytes(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}g` : `${mib}m`;
}

function renderHeaderMaps(idempotencyKey: boolean): string[] {
  return [
    '# An empty Connection header keeps upstream connections alive; websockets get "upgrade".',
    ...block('map $http_upgrade $connection_upgrade', ['default upgrade;', '\'\' \'\';']),
    ...(idempotencyKey ? [
      '# The key a resent write keeps: the client\'s, else the request id, the same on every attempt.',
      ...block('map $http_idempotency_key $idempotency_key_out', ['default $http_idempotency_key;', '\'\' $request_id;']),
    ] : []),
  ];
}

function renderUpstream(u: NginxUpstream): string[] {
  return block(`upstream ${u.name}`, [
    '# A shared zone lets every worker see the same server states and resolved addresses.',
    `zone ${u.name}_upstream 256k;`,
    'least_conn;',
    ...u.servers.map(s => `server ${s.address}${s.resolve ? ' resolve' : ''} max_fails=${u.maxFails} fail_timeout=${u.failTimeoutSeconds}s;`),
    `keepalive ${u.keepalive};`,
  ]);
}

/** A location that sets one header of its own inherits none of these: it lists them all again with `extra`. */
function renderProxyHeaders(extra: string[] = []): string[] {
  return [
    'proxy_http_version 1.1;',
    'proxy_set_header Host $host;',
    'proxy_set_header Upgrade $http_upgrade;',
    'proxy_set_header Connection $connection_upgrade;',
    'proxy_set_header X-Real-IP $remote_addr;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    '# nginx\'s own id, never the client\'s: a client cannot choose what the logs correlate on.',
    'proxy_set_header X-Request-ID $request_id;',
    ...extra,
  ];
}

function renderProxyTimeouts(t: NginxProxyTimeouts): string[] {
  return [`proxy_connect_timeout ${t.connectSeconds}s;`, `proxy_send_timeout ${t.sendSeconds}s;`, `proxy_read_timeout ${t.readSeconds}s;`];
}

function renderProxyBuffers(b: NginxProxyBuffers): string[] {
  return [`proxy_buffer_size ${b.headerBufferKib}k;`, `proxy_buffers ${b.count} ${b.sizeKib}k;`];
}

function renderProxyRetries(o: NginxConfOptions): string[] {
  return [
    '# Retry another pod when one fails or is draining, a bounded number of times.',
    `proxy_next_upstream ${o.nextUpstreamConditions.join(' ')};`,
    `proxy_next_upstream_tries ${o.nextUpstreamTries};`,
    'proxy_next_upstream_timeout 10s;',
  ];
}

/** The bodies of the `server` blocks: the public ones, then the loopback status server. */
function renderServers(o: NginxConfOptions): string[][] {
  const app = renderAppLocations(o);
  const publicServers = o.tls
    ? [renderHttpsRedirectServer(o.httpPort, o.health), paragraphs(renderTlsListener(o.tls), app)]
    : [paragraphs([`listen ${o.httpPort};`], app)];
  return [...publicServers, renderStatusServer(o.statusPort)];
}

function renderHttpsRedirectServer(httpPort: number, health: NginxConfOptions['health']): string[] {
  return paragraphs(
    [`listen ${httpPort};`],
    renderHealthLocations(health),
    block('location /', ['return 301 https://$host$request_uri;']),
  );
}

function renderTlsListener(tls: NginxTls): string[] {
  return [
    `listen ${tls.port} ssl${tls.http2 === 'listen-parameter' ? ' http2' : ''};`,
    ...(tls.http2 === 'directive' ? ['http2 on;'] : []),
    `ssl_certificate ${tls.certificatePath};`,
    `ssl_certificate_key ${tls.keyPath};`,
    'ssl_protocols TLSv1.2 TLSv1.3;',
    `ssl_ciphers ${MOZILLA_INTERMEDIATE_CIPHERS.join(':')};`,
    'ssl_prefer_server_ciphers off;',
    'ssl_session_cache shared:TLS:10m;',
    'ssl_session_timeout 1d;',
    'ssl_session_tickets off;',
  ];
}

function renderStatusServer(statusPort: number): string[] {
  return paragraphs(
    [`listen 127.0.0.1:${statusPort};`],
    block('location = /stub_status', ['stub_status;', 'access_log off;']),
  );
}

/** What the server that serves the API holds: headers, health, then the proxied locations. */
function renderAppLocations(o: NginxConfOptions): string[] {
  const routes = o.routes ?? [];
  const defaultRoute: NginxRoute = { pathPrefix: '/', upstream: API_UPSTREAM, rateLimited: true };
  const general = routes.some(route => route.pathPrefix === '/') ? routes : [...routes, defaultRoute];
  const websocket: NginxProxiedLocation = {
    match: o.websocketPath.endsWith('/') ? o.websocketPath : `${o.websocketPath}/`,
    upstream: API_UPSTREAM,
    rateLimit: { zone: 'api_requests', burst: o.apiRateLimit.burst },
    directives: [
      '# Websockets stay open for long; only idle ones time out.',
      `proxy_read_timeout ${o.websocketReadTimeoutSeconds}s;`,
      'proxy_send_timeout 3600s;',
    ],
  };
  const withWrites = [
    {
      match: o.loginMatch === 'prefix' ? o.loginPath : `= ${o.loginPath}`,
      upstream: API_UPSTREAM, rateLimit: { zone: 'login_requests', burst: o.loginRateLimit.burst },
    },
    ...general.map(route => ({
      match: route.pathPrefix,
      upstream: route.upstream,
      rateLimit: route.rateLimited ? { zone: 'api_requests', burst: o.apiRateLimit.burst } : undefined,
      directives: o.cache ? renderCacheUse() : undefined,
    })),
  ];
  const [login, ...others] = o.writeResendConditions ? withWriteResend(withWrites, o.writeResendConditions) : withWrites;
  return paragraphs(
    renderSecurityHeaders(o.tls !== undefined, o.cache !== undefined),
    renderHealthLocations(o.health),
    renderInternalLocation(o.internalPaths ?? []),
    ...[login, websocket, ...others].map(renderProxiedLocation),
  );
}

/**
 * A regex location is chosen over every prefix location (none is `^~`), and nginx matches the
 * decoded, slash-merged path: `/METRICS/`, `//metrics` and `/%6detrics` are refused too, since
 * Express routes case-insensitively and with or without a trailing slash.
 */
function renderInternalLocation(paths: string[]): string[] {
  if (paths.length === 0) return [];
  const alternatives = paths.map(path => path.replace(/^\/+|\/+$/g, '').replace(/[.]/g, '\\.')).join('|');
  return [
    '# Ops endpoints: the scraper and the kubelet reach them on the pod, never through the load balancer.',
    ...block(`location ~* ^/(${alternatives})(/|$)`, ['return 404;']),
  ];
}

/**
 * The locations with their API writes sent to a named location (one per rate limit), followed
 * by those named locations. `proxy_next_upstream` cannot differ by method within a location;
 * `return` is one of the two directives nginx documents as safe inside `if` in a location.
 */
function withWriteResend(locations: NginxProxiedLocation[], conditions: NginxNextUpstreamCondition[]): NginxProxiedLocation[] {
  const writeLocations = new Map<string, NginxProxiedLocation>();
  const redirected = locations.map(location => {
    if (location.upstream !== API_UPSTREAM) return location;
    const name = `@writes_${location.rateLimit?.zone ?? 'not_rate_limited'}`;
    writeLocations.set(name, writeLocation(name, conditions, location.rateLimit));
    return {
      ...location,
      directives: [
        `# Writes go to ${name}, which resends them only when their pod failed to answer.`,
        `error_page 418 = ${name};`,
        ...block('if ($request_method ~ ^(POST|PATCH|LOCK)$)', ['return 418;']),
        ...(location.directives ?? []),
      ],
    };
  });
  return [...redirected, ...writeLocations.values()];
}

/**
 * A write whose pod failed before answering (killed, refused) goes to the next pod with its
 * Idempotency-Key, which the API dedupes by. An answer, 503 included, is passed on and never
 * counts against the pod: a write refused for want of a primary would be refused by every pod.
 */
function writeLocation(name: string, conditions: NginxNextUpstreamCondition[], rateLimit: NginxProxiedLocation['rateLimit']): NginxProxiedLocation {
  return {
    match: name,
    upstream: API_UPSTREAM,
    rateLimit,
    directives: [
      ...renderProxyHeaders(['proxy_set_header Idempotency-Key $idempotency_key_out;']),
      `proxy_next_upstream ${conditions.join(' ')};`,
    ],
  };
}

/** Where `add_header` appears in a location, the server's are not inherited: every header is set here. */
function renderSecurityHeaders(hsts: boolean, cacheStatus: boolean): string[] {
  return [
    ...(hsts ? ['add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;'] : []),
    'add_header X-Frame-Options DENY always;',
    'add_header X-Content-Type-Options nosniff always;',
    'add_header Referrer-Policy no-referrer always;',
    ...(cacheStatus ? ['add_header X-Cache-Status $upstream_cache_status always;'] : []),
  ];
}

/**
 * nginx stores only what the backend marks cacheable (Cache-Control, Expires; no Set-Cookie;
 * one variant per Vary). A request with credentials could get a response meant for one user:
 * it is neither answered from the cache nor stored in it.
 */
function renderCacheUse(): string[] {
  return [
    `proxy_cache ${CACHE_ZONE};`,
    'proxy_cache_key $scheme$host$request_uri;',
    'proxy_cache_lock on;',
    '# Never cache for a request with credentials: its response may be one user\'s.',
    'proxy_cache_bypass $http_authorization $http_cookie;',
    'proxy_no_cache $http_authorization $http_cookie;',
  ];
}

function renderHealthLocations(health: NginxConfOptions['health']): string[] {
  const nginxAlone = ['access_log off;', 'default_type text/plain;', 'return 200 "ok\\n";'];
  if (health !== 'upstream') {
    return [
      '# Answered by nginx itself: the cloud load balancer\'s health check must not be rate limited or logged.',
      ...block('location = /health', nginxAlone),
    ];
  }
  return [
    '# The API\'s own /health: its answer while some pod is healthy, its 503 when none is.',
    ...block('location = /health', ['access_log off;', `proxy_pass http://${API_UPSTREAM};`]),
    '# nginx alone, for the pod\'s probes: a backend outage must not restart or unready the load balancers.',
    ...block(`location = ${NGINX_HEALTH_PATH}`, nginxAlone),
  ];
}

function renderProxiedLocation(l: NginxProxiedLocation): string[] {
  return block(`location ${l.match}`, [
    ...(l.rateLimit ? [`limit_req zone=${l.rateLimit.zone} burst=${l.rateLimit.burst} nodelay;`] : []),
    ...(l.directives ?? []),
    `proxy_pass http://${l.upstream};`,
  ]);
}

/** `name { ... }` with its lines indented. */
function block(name: string, lines: string[]): string[] {
  return [`${name} {`, ...lines.map(line => (line ? `  ${line}` : line)), '}'];
}

/** The non-empty sections, one blank line between each two. */
function paragraphs(...sections: string[][]): string[] {
  return sections.filter(section => section.length > 0).flatMap((section, i) => (i === 0 ? section : ['', ...section]));
}
