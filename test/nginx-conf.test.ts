import { createServer, Server } from 'http';
import { renderNginxConf } from '../lib/nginx-conf';
import { loopbackNginxOptions, nginxTest, selfSignedCertificate, startNginx } from './support/nginx';
import { freePort, ProcessGroup } from './support/processes';

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
    expect(conf).toMatch(/location \/ws \{\n\s+# .*\n\s+proxy_read_timeout 3600s;/);
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

function httpsGet(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const https = require('https') as typeof import('https');
  return new Promise((resolve, reject) => {
    https.get(url, { rejectUnauthorized: false }, res => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    }).on('error', reject);
  });
}
