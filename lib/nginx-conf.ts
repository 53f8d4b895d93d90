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

function rate(limit: NginxRateLimit): string {
  return `${limit.rate}r/${limit.per === 'second' ? 's' : 'm'}`;
}

/** Renders the complete `nginx.conf` of the load balancer tier. */
export function renderNginxConf(o: NginxConfOptions): string {
  const dir = o.writableDir;
  const securityHeaders = [
    ...(o.tls ? ['add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;'] : []),
    'add_header X-Frame-Options DENY always;',
    'add_header X-Content-Type-Options nosniff always;',
    'add_header Referrer-Policy no-referrer always;',
  ];
  const health = [
    '# Answered by nginx itself: the cloud load balancer\'s health check must not be rate limited or logged.',
    'location = /health {',
    '  access_log off;',
    '  default_type text/plain;',
    '  return 200 "ok\\n";',
    '}',
  ];
  const proxied = [
    ...securityHeaders,
    '',
    ...health,
    '',
    `location = ${o.loginPath} {`,
    `  limit_req zone=login_requests burst=${o.loginRateLimit.burst} nodelay;`,
    '  proxy_pass http://api;',
    '}',
    '',
    `location ${o.websocketPath} {`,
    '  # Websockets stay open for long; only idle ones time out.',
    '  proxy_read_timeout 3600s;',
    '  proxy_send_timeout 3600s;',
    '  proxy_pass http://api;',
    '}',
    '',
    'location / {',
    `  limit_req zone=api_requests burst=${o.apiRateLimit.burst} nodelay;`,
    '  proxy_pass http://api;',
    '}',
  ];
  const servers: string[][] = [];
  if (o.tls) {
    servers.push([
      `listen ${o.httpPort};`,
      '',
      ...health,
      '',
      'location / {',
      '  return 301 https://$host$request_uri;',
      '}',
    ]);
    servers.push([
      `listen ${o.tls.port} ssl;`,
      `ssl_certificate ${o.tls.certificatePath};`,
      `ssl_certificate_key ${o.tls.keyPath};`,
      'ssl_protocols TLSv1.2 TLSv1.3;',
      'ssl_prefer_server_ciphers off;',
      'ssl_session_cache shared:TLS:10m;',
      'ssl_session_timeout 1d;',
      'ssl_session_tickets off;',
      '',
      ...proxied,
    ]);
  } else {
    servers.push([`listen ${o.httpPort};`, '', ...proxied]);
  }
  servers.push([
    `listen 127.0.0.1:${o.statusPort};`,
    '',
    'location = /stub_status {',
    '  stub_status;',
    '  access_log off;',
    '}',
  ]);

  const http = [
    `log_format hscale ${HTTP_VERBOSE_LOG_FORMAT};`,
    `access_log ${o.accessLog} hscale;`,
    'server_tokens off;',
    'sendfile on;',
    'tcp_nopush on;',
    'keepalive_timeout 65s;',
    `client_max_body_size ${o.clientMaxBodySize};`,
    `client_body_temp_path ${dir}/client_body;`,
    `proxy_temp_path ${dir}/proxy;`,
    `fastcgi_temp_path ${dir}/fastcgi;`,
    `uwsgi_temp_path ${dir}/uwsgi;`,
    `scgi_temp_path ${dir}/scgi;`,
    '',
    'gzip on;',
    'gzip_vary on;',
    'gzip_proxied any;',
    'gzip_min_length 1024;',
    'gzip_types application/json application/javascript text/css text/plain text/xml application/xml;',
    '',
    ...(o.resolver ? [`resolver ${o.resolver} valid=10s ipv6=off;`, 'resolver_timeout 2s;', ''] : []),
    `limit_req_zone $binary_remote_addr zone=api_requests:10m rate=${rate(o.apiRateLimit)};`,
    `limit_req_zone $binary_remote_addr zone=login_requests:10m rate=${rate(o.loginRateLimit)};`,
    'limit_req_status 429;',
    '',
    '# An empty Connection header keeps upstream connections alive; websockets get "upgrade".',
    'map $http_upgrade $connection_upgrade {',
    '  default upgrade;',
    '  \'\' \'\';',
    '}',
    'map $http_x_request_id $request_id_out {',
    '  default $http_x_request_id;',
    '  \'\' $request_id;',
    '}',
    '',
    'upstream api {',
    '  # A shared zone lets every worker see the same server states and resolved addresses.',
    '  zone api_upstream 256k;',
    '  least_conn;',
    ...o.upstreamServers.map(s =>
      `  server ${s.address}${s.resolve ? ' resolve' : ''} max_fails=${o.maxFails} fail_timeout=${o.failTimeoutSeconds}s;`),
    `  keepalive ${o.keepalive};`,
    '}',
    '',
    'proxy_http_version 1.1;',
    'proxy_set_header Host $host;',
    'proxy_set_header Upgrade $http_upgrade;',
    'proxy_set_header Connection $connection_upgrade;',
    'proxy_set_header X-Real-IP $remote_addr;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Request-ID $request_id_out;',
    'proxy_connect_timeout 2s;',
    'proxy_send_timeout 30s;',
    'proxy_read_timeout 30s;',
    '# Retry another pod when one fails or is draining, a bounded number of times.',
    'proxy_next_upstream error timeout http_502 http_503;',
    `proxy_next_upstream_tries ${o.nextUpstreamTries};`,
    'proxy_next_upstream_timeout 10s;',
    '',
    ...servers.flatMap(server => ['server {', ...indent(server), '}', '']),
  ];

  return [
    '# Rendered by hscale renderNginxConf; edit the LoadBalancer props, not this file.',
    'worker_processes auto;',
    `pid ${dir}/nginx.pid;`,
    'error_log stderr warn;',
    '',
    'events {',
    '  worker_connections 4096;',
    '}',
    '',
    'http {',
    ...indent(http).map(line => line.trimEnd()),
    '}',
    '',
  ].join('\n').replace(/\n{3,}/g, '\n\n').replace(/\n\n}/g, '\n}');
}

function indent(lines: string[]): string[] {
  return lines.map(line => (line ? `  ${line}` : line));
}
