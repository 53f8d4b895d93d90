import { mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync } from 'fs';
import { createServer, request as httpRequest, RequestListener, Server } from 'http';
import { connect as http2Connect } from 'http2';
import { AddressInfo, connect as netConnect, Socket } from 'net';
import { join } from 'path';
import { connect as tlsConnect } from 'tls';
import { renderCertificateReloadLoop } from '../lib/core/tls';
import { NginxConfOptions, renderNginxConf } from '../lib/load-balancer/nginx-conf';
import { localHttp2Syntax, loopbackNginxOptions, nginxTest, selfSignedCertificate, startNginx } from './support/nginx';
import { freePort, ProcessGroup, run, sleep, waitFor } from './support/processes';
import { certificateFingerprint, servedFingerprint } from './support/tls';

const group = new ProcessGroup();
afterAll(() => group.cleanup());

async function ports() {
  return { http: await freePort(), status: await freePort(), tls: await freePort() };
}

test('the rendering with static upstreams passes nginx -t, without TLS and with it', async () => {
  const dir = group.tempDir();
  await selfSignedCertificate(dir);
  const p = await ports();
  await expect(nginxTest(dir, renderNginxConf(loopbackNginxOptions(dir, { http: p.http, status: p.status }, [9001, 9002])))).resolves.toBeDefined();
  await expect(nginxTest(dir, renderNginxConf(loopbackNginxOptions(dir, p, [9001, 9002])))).resolves.toBeDefined();
});

test('nginx -t rejects a broken rendering, so the check above can fail', async () => {
  const dir = group.tempDir();
  const p = await ports();
  const conf = renderNginxConf(loopbackNginxOptions(dir, { http: p.http, status: p.status }, [9001])).replace('least_conn;', 'least_conn');
  await expect(nginxTest(dir, conf)).rejects.toThrow('nginx -t rejected the config');
});

test('the in-cluster rendering follows pod IPs of the headless Service', () => {
  const conf = renderNginxConf({
    ...loopbackNginxOptions('/tmp', { http: 8080, status: 8081 }, []),
    upstreamServers: [{ address: 'hscale-api-pods.hscale.svc.cluster.local:8000', resolve: true }],
    resolver: 'kube-dns.kube-system.svc.cluster.local',
  });
  expect(conf).toMatch(/upstream api \{\n\s+# .*\n\s+zone api_upstream 256k;\n\s+least_conn;\n\s+server hscale-api-pods\.hscale\.svc\.cluster\.local:8000 resolve max_fails=3 fail_timeout=10s;\n\s+keepalive 32;\n\s+\}/);
  expect(conf).toContain('resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;');
});

test('TLS adds the redirect, TLSv1.2/1.3 only and HSTS; plain HTTP has no HSTS', () => {
  const plain = renderNginxConf(loopbackNginxOptions('/w', { http: 8080, status: 8081 }, [9001]));
  const tls = renderNginxConf(loopbackNginxOptions('/w', { http: 8080, status: 8081, tls: 8443 }, [9001]));
  expect(plain).not.toContain('Strict-Transport-Security');
  expect(plain).not.toContain('return 301');
  expect(tls).toContain('return 301 https://$host$request_uri;');
  expect(tls).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
  expect(tls).toContain('add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;');
  for (const conf of [plain, tls]) {
    expect(conf).toContain('add_header X-Frame-Options DENY always;');
    expect(conf).toContain('add_header X-Content-Type-Options nosniff always;');
    expect(conf).toContain('gzip on;');
    expect(conf).toContain('proxy_next_upstream error timeout http_502 http_503;');
    expect(conf).toContain('proxy_next_upstream_tries 3;');
    expect(conf).toMatch(/location \/ws\/ \{\n\s+limit_req zone=api_requests burst=20 nodelay;\n\s+# .*\n\s+proxy_read_timeout 3600s;/);
    expect(conf).toMatch(/location = \/health \{\n(.*\n){0,1}\s+access_log off;/);
  }
});

describe('nginx in front of two local backends', () => {
  const backends: Server[] = [];
  let base = '';
  let tlsBase = '';
  const hits = new Map<string, number>();

  beforeAll(async () => {
    for (const name of ['a', 'b']) {
      const server = createServer((req, res) => {
        hits.set(name, (hits.get(name) ?? 0) + 1);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ backend: name, path: req.url }));
      });
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
      backends.push(server);
    }
    const dir = group.tempDir();
    await selfSignedCertificate(dir);
    const p = await ports();
    const backendPorts = backends.map(s => (s.address() as { port: number }).port);
    const options = loopbackNginxOptions(dir, p, backendPorts);
    // The API limit of the guides (100 r/s) is tested on its own below; here it must not interfere.
    await startNginx(group, dir, renderNginxConf({ ...options, apiRateLimit: { rate: 10_000, per: 'second', burst: 1000 } }), p.http);
    base = `http://127.0.0.1:${p.http}`;
    tlsBase = `https://localhost:${p.tls}`;
  });

  afterAll(async () => {
    for (const server of backends) {
      server.closeAllConnections();
      await new Promise(resolve => server.close(resolve));
    }
  });

  test('plain HTTP is redirected to HTTPS, except /health', async () => {
    const redirect = await fetch(`${base}/api/v1/items`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe(`https://127.0.0.1${'/api/v1/items'}`);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
  });

  test('requests are balanced over both backends, and none fails when one stops', async () => {
    // Through the HTTPS listener (self-signed, so certificate checks are off): plain HTTP only redirects.
    const get = (path: string) => httpsGet(`${tlsBase}${path}`);
    hits.clear();
    for (let i = 0; i < 100; i++) expect((await get(`/api/v1/items/${i}`)).status).toBe(200);
    expect(hits.get('a')).toBeGreaterThan(10);
    expect(hits.get('b')).toBeGreaterThan(10);

    // WHEN one backend stops
    backends[0].closeAllConnections();
    await new Promise(resolve => backends[0].close(resolve));
    // THEN every request still succeeds, from the other one
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await get(`/api/v1/items/${i}`)).status);
    expect(statuses.filter(s => s !== 200)).toEqual([]);
  });

  test('the login path allows the burst of 3 and then answers 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await httpsGet(`${tlsBase}/api/v1/auth/login`)).status);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses.slice(4)).toEqual([429, 429, 429, 429]);
  });

  test('responses carry the security headers and HSTS', async () => {
    const response = await httpsGet(`${tlsBase}/api/v1/items/1`);
    expect(response.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });
});

test('the API rate limit of 100 r/s with burst 20 rejects a flood with 429', async () => {
  // GIVEN nginx with the guides' API limit in front of one backend
  const backend = createServer((_req, res) => res.end('ok'));
  await new Promise<void>(resolve => backend.listen(0, '127.0.0.1', resolve));
  try {
    const dir = group.tempDir();
    const p = await ports();
    const options = loopbackNginxOptions(dir, { http: p.http, status: p.status }, [(backend.address() as { port: number }).port]);
    await startNginx(group, dir, renderNginxConf(options), p.http);
    // WHEN 60 requests arrive at once
    const statuses = await Promise.all(Array.from({ length: 60 }, () => fetch(`http://127.0.0.1:${p.http}/api/v1/items`).then(r => r.status)));
    // THEN the burst is served and the rest is refused
    expect(statuses.filter(s => s === 200).length).toBeGreaterThanOrEqual(21);
    expect(statuses.filter(s => s === 429).length).toBeGreaterThan(0);
    expect(statuses.filter(s => s !== 200 && s !== 429)).toEqual([]);
  } finally {
    backend.closeAllConnections();
    await new Promise(resolve => backend.close(resolve));
  }
});

function httpsGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const https = require('https') as typeof import('https');
  return new Promise((resolve, reject) => {
    https.get(url, { rejectUnauthorized: false, headers }, res => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    }).on('error', reject);
  });
}

/** A loopback HTTP server, closed at cleanup; resolves with its port. */
async function startBackend(handler: RequestListener): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  group.onCleanup(async () => {
    server.closeAllConnections();
    await new Promise(resolve => server.close(resolve));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

test('the new options render the guides\' directives, and nginx -t accepts them all together', async () => {
  // GIVEN every new option at once, with the HTTP/2 syntax of the local nginx
  const dir = group.tempDir();
  await selfSignedCertificate(dir);
  const p = await ports();
  const base = loopbackNginxOptions(dir, p, [9001]);
  const conf = renderNginxConf({
    ...base,
    tls: { ...base.tls!, http2: localHttp2Syntax() },
    extraUpstreams: [{ name: 'frontend', servers: [{ address: '127.0.0.1:9002', resolve: false }] }],
    routes: [{ pathPrefix: '/', upstream: 'frontend', rateLimited: false }, { pathPrefix: '/api/', upstream: 'api', rateLimited: true }],
    apiRateLimit: { rate: 100, per: 'minute', burst: 20 },
    nextUpstreamConditions: ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503'],
    proxyTimeouts: { connectSeconds: 5, sendSeconds: 60, readSeconds: 60 },
    proxyBuffers: { headerBufferKib: 8, count: 16, sizeKib: 8 },
    websocketReadTimeoutSeconds: 600,
    cache: { path: join(dir, 'cache'), keysZoneMib: 100, maxSizeMib: 1024, inactiveSeconds: 3600 },
    health: 'upstream',
  });
  // THEN
  await expect(nginxTest(dir, conf)).resolves.toBeDefined();
  expect(conf).toContain('rate=100r/m;');
  expect(conf).toContain('proxy_next_upstream error timeout invalid_header http_500 http_502 http_503;');
  expect(conf).toContain('proxy_connect_timeout 5s;\n  proxy_send_timeout 60s;\n  proxy_read_timeout 60s;');
  expect(conf).toContain('proxy_buffer_size 8k;\n  proxy_buffers 16 8k;');
  expect(conf).toMatch(/location \/ws\/ \{\n.*\n.*\n\s+proxy_read_timeout 600s;/);
  expect(conf).toContain(`proxy_cache_path ${join(dir, 'cache')} levels=1:2 keys_zone=api_cache:100m max_size=1g inactive=3600s use_temp_path=off;`);
  expect(conf).toMatch(/upstream frontend \{\n.*\n\s+zone frontend_upstream 256k;/);
  expect(conf).toMatch(/location \/ \{\n\s+proxy_cache api_cache;[^}]*proxy_pass http:\/\/frontend;/);
  // The API's writes leave for the named location; the frontend's stay where they are.
  expect(conf).toMatch(/location \/api\/ \{\n\s+limit_req zone=api_requests burst=20 nodelay;\n.*\n\s+error_page 418 = @writes_api_requests;\n\s+if \(\$request_method ~ \^\(POST\|PATCH\|LOCK\)\$\) \{\n\s+return 418;\n\s+\}\n[^}]*proxy_pass http:\/\/api;/);
  expect(conf).toMatch(/location @writes_api_requests \{\n\s+limit_req zone=api_requests burst=20 nodelay;\n[^}]*proxy_set_header Idempotency-Key \$idempotency_key_out;\n\s+proxy_next_upstream error timeout non_idempotent;\n\s+proxy_pass http:\/\/api;/);
  expect(conf).toMatch(/location = \/api\/v1\/auth\/login \{\n\s+limit_req zone=login_requests burst=3 nodelay;\n.*\n\s+error_page 418 = @writes_login_requests;/);
  expect(conf).toMatch(/location @writes_login_requests \{\n\s+limit_req zone=login_requests burst=3 nodelay;/);
  expect(conf.match(/error_page 418/g)).toHaveLength(2);
  // The route took over `/`: no default location of the API beside it.
  expect(conf).not.toMatch(/location \/ \{\n\s+limit_req/);
});

test('HTTP/2 is written as the directive for nginx >= 1.25.1, or as a listen parameter for older nginx', () => {
  const base = loopbackNginxOptions('/w', { http: 8080, status: 8081, tls: 8443 }, [9001]);
  const directive = renderNginxConf({ ...base, tls: { ...base.tls!, http2: 'directive' } });
  const parameter = renderNginxConf({ ...base, tls: { ...base.tls!, http2: 'listen-parameter' } });
  expect(directive).toContain('listen 8443 ssl;\n    http2 on;');
  expect(parameter).toContain('listen 8443 ssl http2;');
  expect(parameter).not.toContain('http2 on;');
  expect(renderNginxConf(base)).not.toMatch(/http2/);
});

test('HTTP/2 is negotiated on the TLS listener only when asked for', async () => {
  // GIVEN nginx with HTTP/2 on TLS, and nginx without
  const backend = await startBackend((_req, res) => res.end('ok'));
  const alpn = async (http2: boolean) => {
    const dir = group.tempDir();
    await selfSignedCertificate(dir);
    const p = await ports();
    const base = loopbackNginxOptions(dir, p, [backend.port]);
    await startNginx(group, dir, renderNginxConf({ ...base, tls: { ...base.tls!, http2: http2 ? localHttp2Syntax() : undefined } }), p.http);
    return { port: p.tls, protocol: await negotiatedProtocol(p.tls) };
  };
  // WHEN a client offers h2 and http/1.1
  const withHttp2 = await alpn(true);
  const without = await alpn(false);
  // THEN
  expect(withHttp2.protocol).toBe('h2');
  expect(without.protocol).toBe('http/1.1');
  expect(await http2Get(withHttp2.port, '/api/v1/items')).toEqual({ status: 200, body: 'ok' });
});

test('a renewed certificate is served within the reload loop\'s interval, without a restart', async () => {
  // GIVEN nginx serving certificate A, and the reload loop watching its files every second
  const dir = group.tempDir();
  await selfSignedCertificate(dir);
  const p = await ports();
  const options = loopbackNginxOptions(dir, p, [9001]);
  await startNginx(group, dir, renderNginxConf(options), p.http);
  const files = [options.tls!.certificatePath, options.tls!.keyPath];
  group.spawn('sh', ['-c', renderCertificateReloadLoop({ files, reload: `kill -HUP "$(cat ${join(dir, 'nginx.pid')})"`, intervalSeconds: 1 })]);
  const first = await servedFingerprint(p.tls);
  // WHEN the Secret is renewed: both files replaced, as the kubelet swaps a Secret volume
  const renewed = join(dir, 'renewed');
  mkdirSync(renewed);
  await selfSignedCertificate(renewed);
  renameSync(join(renewed, 'tls.key'), options.tls!.keyPath);
  renameSync(join(renewed, 'tls.crt'), options.tls!.certificatePath);
  // THEN nginx serves the new certificate within a few intervals
  const served = await waitFor('nginx to serve the renewed certificate', async () => {
    const now = await servedFingerprint(p.tls);
    return now !== first && now;
  }, 10_000, 250);
  expect(served).toBe(certificateFingerprint(readFileSync(options.tls!.certificatePath, 'utf8')));
});

test('worker_processes follows the option, and a quitting worker\'s open connections are closed after the shutdown timeout', async () => {
  // GIVEN nginx with 2 workers and a 1 s shutdown timeout, and a request waiting on a backend that never answers (read timeout 30 s)
  const backend = await startBackend(() => undefined);
  const dir = group.tempDir();
  const p = await ports();
  const conf = renderNginxConf({ ...loopbackNginxOptions(dir, p, [backend.port]), tls: undefined, workerProcesses: 2, workerShutdownTimeoutSeconds: 1 });
  expect(conf).toMatch(/^worker_processes 2;\nworker_shutdown_timeout 1s;$/m);
  await startNginx(group, dir, conf, p.http);
  const socket = await openHangingRequest(p.http);
  await sleep(300);
  // WHEN nginx is told to quit
  const started = Date.now();
  await run('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-s', 'quit']);
  // THEN the held connection is closed by the timeout, not left to the kubelet's SIGKILL
  await new Promise(resolve => socket.once('close', resolve));
  expect(Date.now() - started).toBeLessThan(8_000);
});

test('a large response to a client that does not read is never spooled to the scratch volume, and still arrives whole when read', async () => {
  // GIVEN nginx over a pod answering 64 MiB (more than the loopback socket buffers take), and a client that sends its request and reads nothing
  const size = 64 * 2 ** 20;
  const backend = await startBackend((_req, res) => { res.writeHead(200, { 'Content-Length': size }).end(Buffer.alloc(size, 'x')); });
  const dir = group.tempDir();
  const p = await ports();
  await startNginx(group, dir, renderNginxConf({ ...loopbackNginxOptions(dir, p, [backend.port]), tls: undefined }), p.http);
  const socket = await openHangingRequest(p.http);
  socket.pause();
  // WHEN nginx has had the time to take the whole response from the pod
  await sleep(3000);
  // THEN nothing is written under the proxy temp path (nginx's default spools up to 1 GiB a request there: a few such clients fill a
  // 64 MiB /tmp). nginx unlinks a temp file as it opens it, so the workers' open files are what holds the space.
  expect(openFilesBytes(join(dir, 'proxy'))).toBe(0);
  let received = 0;
  socket.on('data', chunk => { received += chunk.length; }).resume();
  await waitFor('the whole response to arrive', async () => received > size);
  socket.destroy();
});

test('an API limit per minute refuses the second request of the same second, where per second it does not', async () => {
  const backend = await startBackend((_req, res) => res.end('ok'));
  const statusesAt = async (per: 'second' | 'minute') => {
    const dir = group.tempDir();
    const p = await ports();
    const options = loopbackNginxOptions(dir, { http: p.http, status: p.status }, [backend.port]);
    await startNginx(group, dir, renderNginxConf({ ...options, apiRateLimit: { rate: 60, per, burst: 2 } }), p.http);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await fetch(`http://127.0.0.1:${p.http}/api/v1/items`)).status);
      // 50 ms apart: slower than 60 r/s allows, far faster than 60 r/min.
      await sleep(50);
    }
    return statuses;
  };
  expect(await statusesAt('minute')).toEqual([200, 200, 200, 429, 429, 429]);
  expect(await statusesAt('second')).toEqual([200, 200, 200, 200, 200, 200]);
});

test('proxy_next_upstream http_500 retries a GET on the other pod, never a POST', async () => {
  // GIVEN one pod failing with 500 and one healthy, behind nginx retrying on http_500
  const failing = await startBackend((req, res) => req.resume().on('end', () => { res.statusCode = 500; res.end('broken'); }));
  const healthy = await startBackend((req, res) => req.resume().on('end', () => res.end('ok')));
  const dir = group.tempDir();
  const p = await ports();
  const options = loopbackNginxOptions(dir, { http: p.http, status: p.status }, [failing.port, healthy.port]);
  const conditions = ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503'] as const;
  await startNginx(group, dir, renderNginxConf({ ...options, nextUpstreamConditions: [...conditions], maxFails: 100 }), p.http);
  // WHEN
  const gets: number[] = [];
  const posts: number[] = [];
  for (let i = 0; i < 10; i++) gets.push((await fetch(`http://127.0.0.1:${p.http}/api/v1/items`)).status);
  for (let i = 0; i < 10; i++) posts.push((await fetch(`http://127.0.0.1:${p.http}/api/v1/items`, { method: 'POST', body: '{}' })).status);
  // THEN every GET is answered by the healthy pod; a POST that reached the failing pod is not sent again
  expect(gets.filter(s => s !== 200)).toEqual([]);
  expect(posts).toContain(500);
});

/** Starts nginx with the default options over `backends`; returns its HTTP port. */
async function nginxOver(backends: number[], overrides: Partial<NginxConfOptions> = {}): Promise<number> {
  const dir = group.tempDir();
  const p = await ports();
  await startNginx(group, dir, renderNginxConf({ ...loopbackNginxOptions(dir, { http: p.http, status: p.status }, backends), ...overrides }), p.http);
  return p.http;
}

interface SeenRequest { method?: string; path?: string; key?: string; body: string }

/** A pod that reads the request, records its method, path, Idempotency-Key and body, then does `answer`. */
function recordingBackend(seen: SeenRequest[], answer: RequestListener) {
  return startBackend((req, res) => {
    let body = '';
    req.on('data', chunk => { body += chunk; }).on('end', () => {
      seen.push({ method: req.method, path: req.url, key: req.headers['idempotency-key'] as string | undefined, body });
      answer(req, res);
    });
  });
}

test('a POST whose pod closes the connection without answering is resent to the next pod, with the same Idempotency-Key', async () => {
  // GIVEN one pod that drops every request unanswered (as one killed with -9) and one that answers
  const dropped: SeenRequest[] = [];
  const answered: SeenRequest[] = [];
  const dying = await recordingBackend(dropped, req => req.socket.destroy());
  const healthy = await recordingBackend(answered, (_req, res) => res.end('created'));
  const port = await nginxOver([dying.port, healthy.port], { maxFails: 100 });
  // WHEN POSTs are sent without a key, and one with the client's own key
  const post = (headers: Record<string, string>, i: number) =>
    fetch(`http://127.0.0.1:${port}/api/v1/items`, { method: 'POST', headers, body: `{"n":${i}}` });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await post({}, i)).status);
  statuses.push((await post({ 'Idempotency-Key': 'client-chosen:1' }, 6)).status);
  // THEN every POST is answered by the healthy pod, each once, with the key and body the dropped attempt had
  expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200]);
  expect(dropped.length).toBeGreaterThan(0);
  expect(answered.map(a => a.body)).toEqual([0, 1, 2, 3, 4, 5, 6].map(i => `{"n":${i}}`));
  expect(answered.slice(0, 6).every(a => /^[0-9a-f]{32}$/.test(a.key ?? ''))).toBe(true);
  expect(answered[6].key).toBe('client-chosen:1');
  expect(new Set(answered.map(a => a.key)).size).toBe(7);
  for (const attempt of dropped) expect(answered).toContainEqual(attempt);
});

test('a write answered 503 is passed on once and marks no pod down; GETs still reach every pod', async () => {
  // GIVEN two pods that refuse writes with 503 (no primary) and serve reads
  const seen: SeenRequest[] = [];
  const answer: RequestListener = (req, res) => {
    res.statusCode = req.method === 'GET' ? 200 : 503;
    res.end();
  };
  const pods = [await recordingBackend(seen, answer), await recordingBackend(seen, answer)];
  const port = await nginxOver(pods.map(pod => pod.port));
  // WHEN ten writes are refused, more than max_fails (3) per pod would allow
  const writes: number[] = [];
  for (const method of ['POST', 'PATCH', 'POST', 'POST', 'PATCH', 'POST', 'POST', 'POST', 'POST', 'POST']) {
    writes.push((await fetch(`http://127.0.0.1:${port}/api/v1/items`, { method, body: '{}' })).status);
  }
  const reads: number[] = [];
  for (let i = 0; i < 6; i++) reads.push((await fetch(`http://127.0.0.1:${port}/api/v1/items`)).status);
  // THEN each write reached one pod once; reads are all served
  expect(writes).toEqual(Array(10).fill(503));
  expect(seen.filter(s => s.method !== 'GET')).toHaveLength(10);
  expect(reads).toEqual(Array(6).fill(200));
});

test('writes to a route\'s other backend are not resent and carry no Idempotency-Key; with resending off, neither are the API\'s', async () => {
  // GIVEN a route to a second backend, both backends one dying pod and one that answers
  const seen: SeenRequest[] = [];
  const dying = await recordingBackend(seen, req => req.socket.destroy());
  const healthy = await recordingBackend(seen, (_req, res) => res.end('ok'));
  const upstreamOf = (name: string) => ({ name, servers: [dying, healthy].map(pod => ({ address: `127.0.0.1:${pod.port}`, resolve: false })) });
  const routed = await nginxOver([dying.port, healthy.port], {
    maxFails: 100, extraUpstreams: [upstreamOf('web')], routes: [{ pathPrefix: '/web', upstream: 'web', rateLimited: false }],
  });
  const apiWithoutResend = await nginxOver([dying.port, healthy.port], { maxFails: 100, writeResendConditions: undefined });
  // WHEN
  const statuses = async (port: number, path: string) => {
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: '{}' })).status);
    return answers;
  };
  // THEN the writes that met the dying pod fail with 502
  expect(await statuses(routed, '/web/form')).toContain(502);
  expect(seen.filter(s => s.path === '/web/form').every(s => s.key === undefined)).toBe(true);
  expect(await statuses(apiWithoutResend, '/api/v1/items')).toContain(502);
  expect(await statuses(routed, '/api/v1/items')).toEqual(Array(6).fill(200));
});

describe('nginx with routes, cache, timeouts, buffers and health from the API', () => {
  let base = '';
  let apiHealthy = true;
  const apiHits = new Map<string, number>();

  beforeAll(async () => {
    const api = await startBackend((req, res) => {
      const path = req.url ?? '';
      apiHits.set(path, (apiHits.get(path) ?? 0) + 1);
      if (path === '/health') {
        res.statusCode = apiHealthy ? 200 : 503;
        res.end(JSON.stringify({ status: apiHealthy ? 'ok' : 'down' }));
      } else if (path.startsWith('/api/slow')) {
        setTimeout(() => res.end('late'), 2500);
      } else if (path.startsWith('/api/big-header')) {
        res.setHeader('x-big', 'x'.repeat(3000));
        res.end('big');
      } else {
        if (path.startsWith('/api/cacheable')) res.setHeader('cache-control', 'public, max-age=60');
        res.end(`api ${path}`);
      }
    });
    api.server.on('upgrade', (_req, socket) => {
      // The HTTP server keeps sockets half open; an upgraded one is ours to close when nginx does.
      socket.on('end', () => socket.destroy());
      // An idle websocket: upgraded, then silent; nginx's read timeout is what closes it.
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    const frontend = await startBackend((req, res) => res.end(`frontend ${req.url}`));
    const dir = group.tempDir();
    const p = await ports();
    const options = loopbackNginxOptions(dir, { http: p.http, status: p.status }, [api.port]);
    await startNginx(group, dir, renderNginxConf({
      ...options,
      apiRateLimit: { rate: 10_000, per: 'second', burst: 1000 },
      extraUpstreams: [{ name: 'frontend', servers: [{ address: `127.0.0.1:${frontend.port}`, resolve: false }] }],
      routes: [{ pathPrefix: '/', upstream: 'frontend', rateLimited: false }, { pathPrefix: '/api/', upstream: 'api', rateLimited: true }],
      proxyTimeouts: { connectSeconds: 2, sendSeconds: 30, readSeconds: 1 },
      proxyBuffers: { headerBufferKib: 1, count: 8, sizeKib: 4 },
      websocketReadTimeoutSeconds: 1,
      cache: { path: join(dir, 'cache'), keysZoneMib: 1, maxSizeMib: 10, inactiveSeconds: 60 },
      health: 'upstream',
    }), p.http);
    base = `http://127.0.0.1:${p.http}`;
  });

  test('each path prefix reaches its own backend', async () => {
    expect(await (await fetch(`${base}/`)).text()).toBe('frontend /');
    expect(await (await fetch(`${base}/about`)).text()).toBe('frontend /about');
    expect(await (await fetch(`${base}/api/v1/items`)).text()).toBe('api /api/v1/items');
  });

  test('a second GET of a cacheable response is a HIT, and the API sees one request', async () => {
    const first = await fetch(`${base}/api/cacheable/1`);
    const second = await fetch(`${base}/api/cacheable/1`);
    expect(await second.text()).toBe('api /api/cacheable/1');
    expect([first.headers.get('x-cache-status'), second.headers.get('x-cache-status')]).toEqual(['MISS', 'HIT']);
    expect(apiHits.get('/api/cacheable/1')).toBe(1);
    // The security headers survive the cache's own header.
    expect(second.headers.get('x-frame-options')).toBe('DENY');
  });

  test('a response the API does not mark cacheable is not cached', async () => {
    await fetch(`${base}/api/plain`);
    expect((await fetch(`${base}/api/plain`)).headers.get('x-cache-status')).toBe('MISS');
    expect(apiHits.get('/api/plain')).toBe(2);
  });

  test('a GET with Authorization or a Cookie is never answered from the cache nor stored in it', async () => {
    // GIVEN a cached response
    await fetch(`${base}/api/cacheable/2`);
    // WHEN the same URL is asked with credentials
    const authorized = await fetch(`${base}/api/cacheable/2`, { headers: { authorization: 'Bearer user-1' } });
    const withCookie = await fetch(`${base}/api/cacheable/2`, { headers: { cookie: 'session=user-1' } });
    // THEN both go to the API
    expect([authorized.headers.get('x-cache-status'), withCookie.headers.get('x-cache-status')]).toEqual(['BYPASS', 'BYPASS']);
    expect(apiHits.get('/api/cacheable/2')).toBe(3);
    // AND a response fetched with credentials is not served to the next anonymous client
    await fetch(`${base}/api/cacheable/3`, { headers: { authorization: 'Bearer user-1' } });
    expect((await fetch(`${base}/api/cacheable/3`)).headers.get('x-cache-status')).toBe('MISS');
  });

  test('the read timeout answers 504 for an API slower than it', async () => {
    const started = Date.now();
    expect((await fetch(`${base}/api/slow`)).status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2400);
  });

  test('response headers larger than the header buffer are refused with 502', async () => {
    expect((await fetch(`${base}/api/big-header`)).status).toBe(502);
  });

  test('an idle websocket is closed after the websocket read timeout', async () => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(`${base}/ws/feed`, { headers: { connection: 'Upgrade', upgrade: 'websocket' } });
      request.on('upgrade', (_res, socket) => socket.on('close', () => resolve(Date.now() - started)));
      request.on('response', res => reject(new Error(`no upgrade: ${res.statusCode}`)));
      request.on('error', reject);
      request.setTimeout(10_000, () => reject(new Error('the websocket stayed open')));
      request.end();
    });
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(5000);
  });

  test('/health is the API\'s: 200 while it is healthy, 503 when not; /nginx-health stays 200', async () => {
    const healthy = await fetch(`${base}/health`);
    expect([healthy.status, await healthy.json()]).toEqual([200, { status: 'ok' }]);
    apiHealthy = false;
    try {
      expect((await fetch(`${base}/health`)).status).toBe(503);
      const nginxAlone = await fetch(`${base}/nginx-health`);
      expect([nginxAlone.status, await nginxAlone.text()]).toEqual([200, 'ok\n']);
    } finally {
      apiHealthy = true;
    }
  });
});

describe('nginx keeps the ops endpoints, the websocket prefix and the request id to itself', () => {
  const seen: { path?: string; requestId?: string }[] = [];
  let base = '';
  let tlsPort = 0;
  let dir = '';

  beforeAll(async () => {
    const api = await startBackend((req, res) => {
      seen.push({ path: req.url, requestId: req.headers['x-request-id'] as string | undefined });
      if (req.url === '/wsx-slow') setTimeout(() => res.end('late'), 2500);
      else res.end(`api ${req.url}`);
    });
    dir = group.tempDir();
    await selfSignedCertificate(dir);
    const p = await ports();
    await startNginx(group, dir, renderNginxConf({
      ...loopbackNginxOptions(dir, p, [api.port]),
      internalPaths: ['/metrics', '/api/v1/scaling', '/api/v1/cache'],
      apiRateLimit: { rate: 1, per: 'minute', burst: 5 },
      proxyTimeouts: { connectSeconds: 2, sendSeconds: 30, readSeconds: 1 },
    }), p.http);
    base = `https://localhost:${p.tls}`;
    tlsPort = p.tls;
  });

  test('the ops endpoints answer 404 from nginx in every spelling, and never reach the API', async () => {
    const internal = [
      '/metrics', '/metrics/', '/METRICS', '//metrics', '/%6detrics', '/metrics?format=json', '/api/v1/scaling/metrics/prometheus',
      '/api/v1/scaling/replication/status', '/api/v1/scaling/health/deep', '/api/v1/scaling/health/readiness',
      '/api/v1/scaling/health/liveness', '/API/V1/Scaling/health/readiness/', '/api/v1/cache/stats', '/api/v1/items/../cache/stats',
    ];
    const statuses: number[] = [];
    for (const path of internal) statuses.push((await httpsGet(`${base}${path}`)).status);
    expect(statuses).toEqual(internal.map(() => 404));
    expect(seen).toEqual([]);
    // A path that only begins like one is the API's, and nginx's own /health stays public.
    expect((await httpsGet(`${base}/metricsx`)).status).toBe(200);
    expect((await httpsGet(`${base}/health`)).status).toBe(200);
    expect(seen.map(s => s.path)).toEqual(['/metricsx']);
  });

  test('the API sees nginx\'s request id, never the client\'s; the log keeps the client\'s in a field of its own', async () => {
    seen.length = 0;
    await httpsGet(`${base}/api/v1/items/1`, { 'X-Request-ID': 'forged" rid=0000' });
    expect(seen).toHaveLength(1);
    expect(seen[0].requestId).toMatch(/^[0-9a-f]{32}$/);
    // nginx writes the access log after it sent the response, so the line may trail the answer.
    const line = await waitFor('the access log line', async () =>
      readFileSync(join(dir, 'access.log'), 'utf8').split('\n').find(l => l.includes(`rid=${seen[0].requestId}`)), 5_000, 20);
    expect(line).toContain(`rid=${seen[0].requestId} client_rid="forged\\x22 rid=0000"`);
  });

  test('TLS 1.2 offers only forward-secret AEAD suites: a CBC suite is refused', async () => {
    await expect(tls12Handshake(tlsPort, 'ECDHE-RSA-AES128-GCM-SHA256')).resolves.toBe('ECDHE-RSA-AES128-GCM-SHA256');
    await expect(tls12Handshake(tlsPort, 'ECDHE-RSA-AES128-SHA')).rejects.toThrow(/handshake failure|no shared cipher/i);
    await expect(tls12Handshake(tlsPort, 'AES128-GCM-SHA256')).rejects.toThrow(/handshake failure|no shared cipher/i);
  });

  test('the websocket location is /ws/ and rate limited; /wsx is an ordinary API path with its timeouts', async () => {
    // /wsx is proxied by the general location, whose read timeout (1 s) ends a slow answer.
    expect((await httpsGet(`${base}/wsx-slow`)).status).toBe(504);
    // A flood of websocket connections meets the API limit (1 r/min, burst 5) after the burst.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await httpsGet(`${base}/ws/feed`)).status);
    expect(statuses.filter(s => s === 429).length).toBeGreaterThanOrEqual(2);
  });
});

/** Completes a TLS 1.2 handshake offering only `cipher`; resolves with the suite the server chose. */
function tls12Handshake(port: number, cipher: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ciphers: cipher, maxVersion: 'TLSv1.2' }, () => {
      resolve(socket.getCipher().name);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** Bytes of the files under `path` that some process holds open, deleted or not (this machine's /proc). */
function openFilesBytes(path: string): number {
  const fds = readdirSync('/proc').filter(pid => /^\d+$/.test(pid)).flatMap(pid => {
    try {
      return readdirSync(`/proc/${pid}/fd`).map(fd => `/proc/${pid}/fd/${fd}`);
    } catch {
      return []; // the process has exited
    }
  });
  return fds.reduce((sum, fd) => {
    try {
      return readlinkSync(fd).startsWith(`${path}/`) ? sum + statSync(fd).size : sum;
    } catch {
      return sum; // closed meanwhile
    }
  }, 0);
}

/** The protocol the TLS listener picks when a client offers h2 and http/1.1. */
/** A connection whose request nginx has passed on and is waiting for (bounded by nginx's read timeout). */
function openHangingRequest(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => {
      socket.write('GET /api/v1/items HTTP/1.1\r\nHost: localhost\r\n\r\n');
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

function negotiatedProtocol(port: number): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** One GET over HTTP/2. */
function http2Get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://localhost:${port}`, { rejectUnauthorized: false });
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let status = 0;
    let body = '';
    stream.on('response', headers => { status = Number(headers[':status']); });
    stream.setEncoding('utf8');
    stream.on('data', chunk => { body += chunk; });
    stream.on('end', () => {
      session.close();
      resolve({ status, body });
    });
    stream.on('error', reject);
  });
}
