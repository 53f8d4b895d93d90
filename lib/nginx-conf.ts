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

/** Everything `renderNginxConf` needs; the LoadBalancer construct resolves it from its props. */
export interface NginxConfOptions {
  readonly upstreamServers: NginxUpstreamServer[];
  /** DNS server for `resolve` upstreams, e.g. `kube-dns.kube-system.svc.cluster.local`. */
  readonly resolver?: string;
  /** Port of plain HTTP. */
  readonly httpPort: number;
  /** TLS termination: port and the paths of the certificate and key. */
  readonly tls?: { readonly port: number; readonly certificatePath: string; readonly keyPath: string };
  /** Loopback-only port of `stub_status`, which the exporter sidecar reads. */
  readonly statusPort: number;
  readonly apiRateLimit: NginxRateLimit;
  readonly loginRateLimit: NginxRateLimit;
  /** Exact path of the login endpoint. */
  readonly loginPath: string;
  /** Path prefix of websocket connections. */
  readonly websocketPath: string;
  /** Failed attempts within `failTimeoutSeconds` that mark a server down for that long. */
  readonly maxFails: number;
  readonly failTimeoutSeconds: number;
  /** Idle keepalive connections to the upstream kept per worker. */
  readonly keepalive: number;
  /** Servers tried for one request before nginx gives up. */
  readonly nextUpstreamTries: number;
  /** Largest request body accepted, e.g. `1m`. */
  readonly clientMaxBodySize: string;
  /** Where the access log goes: `/dev/stdout` in a container, a file in tests. */
  readonly accessLog: string;
  /** Writable directory for the pid file and temp paths (the root filesystem is read-only). */
  readonly writableDir: string;
}

const HTTP_VERBOSE_LOG_FORMAT = '\'$remote_addr - [$time_iso8601] "$request" $status $body_bytes_sent '
  + 'rt=$request_time ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time" rid=$request_id_out\'';

/** The upstream every proxied location forwards to. */
const API_UPSTREAM = 'api';

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
    'worker_processes auto;',
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
    renderHeaderMaps(),
    renderUpstream({
      name: API_UPSTREAM,
      servers: o.upstreamServers,
      maxFails: o.maxFails,
      failTimeoutSeconds: o.failTimeoutSeconds,
      keepalive: o.keepalive,
    }),
    [...renderProxyHeaders(), ...renderProxyTimeouts(), ...renderProxyRetries(o.nextUpstreamTries)],
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

/** The root filesystem is read-only: every path nginx writes lies under `dir`. */
function renderTempPaths(dir: string): string[] {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(kind => `${kind}_temp_path ${dir}/${kind};`);
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

function renderHeaderMaps(): string[] {
  return [
    '# An empty Connection header keeps upstream connections alive; websockets get "upgrade".',
    ...block('map $http_upgrade $connection_upgrade', ['default upgrade;', '\'\' \'\';']),
    ...block('map $http_x_request_id $request_id_out', ['default $http_x_request_id;', '\'\' $request_id;']),
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

function renderProxyHeaders(): string[] {
  return [
    'proxy_http_version 1.1;',
    'proxy_set_header Host $host;',
    'proxy_set_header Upgrade $http_upgrade;',
    'proxy_set_header Connection $connection_upgrade;',
    'proxy_set_header X-Real-IP $remote_addr;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Request-ID $request_id_out;',
  ];
}

function renderProxyTimeouts(): string[] {
  return ['proxy_connect_timeout 2s;', 'proxy_send_timeout 30s;', 'proxy_read_timeout 30s;'];
}

function renderProxyRetries(tries: number): string[] {
  return [
    '# Retry another pod when one fails or is draining, a bounded number of times.',
    'proxy_next_upstream error timeout http_502 http_503;',
    `proxy_next_upstream_tries ${tries};`,
    'proxy_next_upstream_timeout 10s;',
  ];
}

/** The bodies of the `server` blocks: the public ones, then the loopback status server. */
function renderServers(o: NginxConfOptions): string[][] {
  const app = renderAppLocations(o);
  const publicServers = o.tls
    ? [renderHttpsRedirectServer(o.httpPort), paragraphs(renderTlsListener(o.tls), app)]
    : [paragraphs([`listen ${o.httpPort};`], app)];
  return [...publicServers, renderStatusServer(o.statusPort)];
}

function renderHttpsRedirectServer(httpPort: number): string[] {
  return paragraphs(
    [`listen ${httpPort};`],
    renderHealthLocation(),
    block('location /', ['return 301 https://$host$request_uri;']),
  );
}

function renderTlsListener(tls: NonNullable<NginxConfOptions['tls']>): string[] {
  return [
    `listen ${tls.port} ssl;`,
    `ssl_certificate ${tls.certificatePath};`,
    `ssl_certificate_key ${tls.keyPath};`,
    'ssl_protocols TLSv1.2 TLSv1.3;',
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
  return paragraphs(
    renderSecurityHeaders(o.tls !== undefined),
    renderHealthLocation(),
    renderProxiedLocation({
      match: `= ${o.loginPath}`,
      upstream: API_UPSTREAM,
      rateLimit: { zone: 'login_requests', burst: o.loginRateLimit.burst },
    }),
    renderProxiedLocation({
      match: o.websocketPath,
      upstream: API_UPSTREAM,
      directives: ['# Websockets stay open for long; only idle ones time out.', 'proxy_read_timeout 3600s;', 'proxy_send_timeout 3600s;'],
    }),
    renderProxiedLocation({
      match: '/',
      upstream: API_UPSTREAM,
      rateLimit: { zone: 'api_requests', burst: o.apiRateLimit.burst },
    }),
  );
}

function renderSecurityHeaders(hsts: boolean): string[] {
  return [
    ...(hsts ? ['add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;'] : []),
    'add_header X-Frame-Options DENY always;',
    'add_header X-Content-Type-Options nosniff always;',
    'add_header Referrer-Policy no-referrer always;',
  ];
}

function renderHealthLocation(): string[] {
  return [
    '# Answered by nginx itself: the cloud load balancer\'s health check must not be rate limited or logged.',
    ...block('location = /health', ['access_log off;', 'default_type text/plain;', 'return 200 "ok\\n";']),
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
