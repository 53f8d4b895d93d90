import { ChildProcess, spawn } from 'child_process';
import { writeFileSync } from 'fs';
import { request as httpRequest } from 'http';
import { hostname } from 'os';
import { join } from 'path';
import { TEST_SIGNING_KEY, writeHeaders } from './support/auth';
import { CrashProxy } from './support/crash-proxy';
import { startReplicatedPostgres, ReplicatedPostgres } from './support/postgres';
import { freePort, ProcessGroup, run, sleep, waitFor } from './support/processes';

// The built server as a real process (what the image runs), on a primary + 1 replica.
const group = new ProcessGroup();
const ROOT = join(__dirname, '..');
let pg: ReplicatedPostgres;
/** The Authorization header of a write token the servers accept. */
let writing: Record<string, string>;
/** The signing key as a file, as a mounted Secret gives it (AUTH_SIGNING_KEY_FILE), with the trailing newline an editor adds. */
let signingKeyFile: string;

beforeAll(async () => {
  writing = await writeHeaders();
  signingKeyFile = join(group.tempDir(), 'signing-key');
  writeFileSync(signingKeyFile, `${TEST_SIGNING_KEY}\n`, { mode: 0o600 });
  // Always build: a stale service/dist from an older tree would test other code.
  await Promise.all([
    run('npx', ['tsc', '-p', 'service/tsconfig.json'], { cwd: ROOT, timeoutMs: 120_000 }),
    startReplicatedPostgres(group, 1).then(started => { pg = started; }),
  ]);
}, 180_000);

afterAll(() => group.cleanup(), 60_000);

interface Answer { status?: number; error?: string; body: string; token?: string; requestId?: string }

/** Responses each server port gave, probes included: compared with what the server says it accepted. */
const answered = new Map<number, number>();

/** One request on a fresh connection (no keep-alive), as the test's load balancer sends it. */
function send(port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise(resolve => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false, timeout: 10_000,
      headers: { Connection: 'close', ...headers, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) } }, res => {
      let text = '';
      res.on('data', chunk => { text += chunk; });
      res.on('end', () => {
        answered.set(port, (answered.get(port) ?? 0) + 1);
        resolve({
          status: res.statusCode, body: text, token: res.headers['x-consistency-token'] as string | undefined,
          requestId: res.headers['x-request-id'] as string | undefined,
        });
      });
      res.on('error', error => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message, body: text }));
    });
    req.on('error', error => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message, body: '' }));
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.end(payload);
  });
}

/** A GET its client gives up on `ms` after sending it; resolves once its connection is closed. */
function abandon(port: number, path: string, headers: Record<string, string>, ms: number): Promise<void> {
  return new Promise(resolve => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, headers: { Connection: 'close', ...headers } });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.end();
    setTimeout(() => req.destroy(), ms);
  });
}

async function startServer(extraEnv: Record<string, string>): Promise<{ port: number; child: ChildProcess; exited: Promise<number | null>; output: () => string }> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, ['service/dist/server.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH, PORT: String(port), DATABASE_URL: pg.databaseUrl, POSTGRES_READ_REPLICAS: pg.replicaHosts,
      ADMIN_TOKEN: 'test-only-admin', LOG_LEVEL: 'info', AUTH_SIGNING_KEY_FILE: signingKeyFile, ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', chunk => { output += chunk; });
  child.stderr!.on('data', chunk => { output += chunk; });
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)));
  group.onCleanup(async () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  await waitFor('the server to be ready', async () => {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${output}`);
    return (await send(port, 'GET', '/api/v1/scaling/health/readiness')).status === 200;
  }, 30_000, 100);
  return { port, child, exited, output: () => output };
}

test('SIGTERM under load: readiness fails at once, every accepted request succeeds, and the process exits 0', async () => {
  // GIVEN a running server and 8 workers that read and write until readiness fails, as a load balancer would
  const server = await startServer({ SHUTDOWN_DELAY_MS: '1000', SHUTDOWN_TIMEOUT_MS: '10000' });
  const created = await send(server.port, 'POST', '/api/v1/items', { name: 'seed' }, writing);
  const id = JSON.parse(created.body).id as string;
  // Reads carry the write's token, as a client reading its own write must (a replica may not have it yet).
  const consistency = { 'X-Consistency-Token': created.token! };
  const answers: Answer[] = [];
  let routable = true;
  let notReady: Answer | undefined;
  let drainingMetrics: Answer | undefined;
  const poller = (async () => {
    for (let i = 0; i < 200 && routable; i++) {
      const probe = await send(server.port, 'GET', '/api/v1/scaling/health/readiness');
      if (probe.status !== 200) {
        routable = false;
        notReady = probe;
        drainingMetrics = await send(server.port, 'GET', '/metrics');
      }
      await sleep(50);
    }
  })();
  const workers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; i < 5000 && routable; i++) {
      answers.push(await (w % 2 === 0
        ? send(server.port, 'GET', `/api/v1/items/${id}`, undefined, consistency)
        : send(server.port, 'POST', '/api/v1/items', { name: `load-${w}-${i}` }, writing)));
    }
  });

  // WHEN it gets SIGTERM in the middle of the load (a loaded machine may need longer to reach it)
  await waitFor('60 answers under load', async () => answers.length >= 60, 30_000, 50);
  const signalled = Date.now();
  server.child.kill('SIGTERM');
  await poller;
  const notReadyAfterMs = Date.now() - signalled;
  // The listener stays open for SHUTDOWN_DELAY_MS: the probe that failed was answered 503, not refused.
  expect(notReady).toMatchObject({ status: 503 });
  expect(JSON.parse(notReady!.body)).toEqual({ status: 'not ready', checks: { process: 'shutting down' } });
  expect(drainingMetrics?.body).toMatch(/^app_ready 0$/m);
  await Promise.all(workers);
  const code = await server.exited;

  // THEN
  expect(code).toBe(0);
  expect(notReadyAfterMs).toBeLessThan(1000);
  expect(answers.length).toBeGreaterThan(50);
  // Refused connections were never accepted; anything else that is not a 2xx is a dropped request.
  const failed = answers.filter(a => a.error !== 'ECONNREFUSED' && !(a.status! >= 200 && a.status! < 300));
  // The server's own error lines go with the failures, so a red run says why.
  const serverErrors = server.output().split('\n').filter(line => /"level":(50|60)/.test(line));
  expect({ failed, serverErrors }).toEqual({ failed: [], serverErrors: [] });
  // Every request the process took in got its answer back.
  const stopped = JSON.parse(server.output().split('\n').find(line => line.includes('"msg":"stopped"'))!);
  expect(stopped.accepted).toBe(answered.get(server.port));
  expect(await send(server.port, 'GET', '/health')).toMatchObject({ error: 'ECONNREFUSED' });
}, 60_000);

test('the built server puts the request id on its request and error lines and in the response; /health names the instance and version', async () => {
  // GIVEN a server that reads from the primary only, with a short statement timeout
  const server = await startServer({ SERVICE_VERSION: '3.1.4', METRICS_PREFIX: 'fastnext', READ_POLICY: 'primary', PG_STATEMENT_TIMEOUT_MS: '300' });
  const missing = '00000000-0000-4000-8000-000000000000';

  // WHEN a request answers 200, one fails because the primary stops answering, and the client of
  // another gives up on it first (the read's deadline is the statement timeout plus 1 s)
  const ok = await send(server.port, 'GET', '/api/v1/items?limit=1', undefined, { 'X-Request-ID': 'rid-ok-1' });
  pg.primary.freeze(true);
  let failed: Answer;
  try {
    const abandoned = abandon(server.port, `/api/v1/items/${missing}?fields=all`, { 'X-Request-ID': 'rid-abandoned-1' }, 100);
    failed = await send(server.port, 'GET', `/api/v1/items/${missing}`, undefined, { 'X-Request-ID': 'rid-fail-1' });
    await abandoned;
  } finally {
    pg.primary.freeze(false);
  }
  const health = await send(server.port, 'GET', '/health');
  const metrics = await send(server.port, 'GET', '/metrics');
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);

  // THEN each answer carries the service's own id, and every log line of its request has it, beside the client's id
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  expect(ok).toMatchObject({ status: 200, requestId: expect.stringMatching(uuid) });
  expect(failed).toMatchObject({ status: 503, requestId: expect.stringMatching(uuid) });
  const lines = server.output().split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line));
  expect(lines.filter(l => l.requestId === ok.requestId)).toEqual([
    expect.objectContaining({ level: 30, msg: 'request', clientRequestId: 'rid-ok-1', method: 'GET', path: '/api/v1/items', status: 200, ms: expect.any(Number) }),
  ]);
  expect(lines.find(l => l.requestId === ok.requestId)).not.toHaveProperty('aborted');
  // The line of a request whose client left first says so, its path without the query string.
  expect(lines.filter(l => l.clientRequestId === 'rid-abandoned-1' && l.msg === 'request')).toEqual([
    expect.objectContaining({ level: 30, requestId: expect.stringMatching(uuid), method: 'GET', path: `/api/v1/items/${missing}`, aborted: true, ms: expect.any(Number) }),
  ]);
  expect(lines.filter(l => l.requestId === failed.requestId)).toEqual([
    expect.objectContaining({ level: 50, msg: 'request failed', clientRequestId: 'rid-fail-1', path: `/api/v1/items/${missing}` }),
    expect.objectContaining({ level: 30, msg: 'request', clientRequestId: 'rid-fail-1', status: 503 }),
  ]);
  // The client's id is never taken as the service's.
  expect(lines.filter(l => l.requestId === 'rid-ok-1' || l.requestId === 'rid-fail-1')).toEqual([]);
  // A request without an id got a new one too, on its log line as well.
  expect(health.requestId).toMatch(uuid);
  expect(lines.find(l => l.requestId === health.requestId)).toMatchObject({ msg: 'request', path: '/health', status: 200 });
  expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', instance: hostname(), version: '3.1.4', checks: { replicas: { status: 'ok', healthy: 1, total: 1 } } });
  for (const name of ['db_pool_size', 'db_pool_checked_out', 'cpu_percent', 'memory_percent']) expect(metrics.body).toMatch(new RegExp(`^fastnext_${name} [0-9.e+-]+$`, 'm'));
}, 60_000);

/** True once the server's /health reports every replica healthy again. */
async function replicasHealthy(port: number): Promise<boolean> {
  const health = await send(port, 'GET', '/health');
  return health.status === 200 && JSON.parse(health.body).checks?.replicas?.healthy === 1;
}

test('a replica dying again and again under read load, at once or while a new connection starts up, never ends the process nor fails a read', async () => {
  // GIVEN a server whose one replica is behind a proxy that can die like a SIGKILLed server, and 8 readers
  const proxy = await CrashProxy.start(await freePort(), pg.replicas[0].port);
  group.onCleanup(async () => proxy.crash());
  const server = await startServer({ POSTGRES_READ_REPLICAS: `127.0.0.1:${proxy.port}`, REPLICA_CHECK_INTERVAL_MS: '200', PG_CONNECT_TIMEOUT_MS: '500' });
  const created = await send(server.port, 'POST', '/api/v1/items', { name: 'crash-seed' }, writing);
  const path = `/api/v1/items/${JSON.parse(created.body).id}`;
  const consistency = { 'X-Consistency-Token': created.token! };
  await waitFor('the replica to take reads', () => replicasHealthy(server.port), 15_000);
  let reading = true;
  const answers: Answer[] = [];
  const readers = Array.from({ length: 8 }, async () => {
    for (let i = 0; i < 20_000 && reading && server.child.exitCode === null; i++) answers.push(await send(server.port, 'GET', path, undefined, consistency));
  });

  // WHEN the replica dies 4 times in the middle of reads, and each time once more on the first query of a new connection
  // (with postgres.js's default fetch_types, its array-types query, whose rejection nothing handled)
  try {
    for (let round = 1; round <= 4 && server.child.exitCode === null; round++) {
      await sleep(300);
      proxy.crash();
      await sleep(300);
      proxy.crashOn('select ');
      await proxy.revive();
      await waitFor(`crash ${round * 2} on a new connection`, async () => proxy.crashes === round * 2 || server.child.exitCode !== null, 10_000, 20);
      await sleep(300);
      await proxy.revive();
      await waitFor('the replica to take reads again', async () => server.child.exitCode !== null || replicasHealthy(server.port), 15_000);
    }
  } finally {
    reading = false;
    await Promise.all(readers);
  }

  // THEN the process is alive and logged no error, and every read succeeded
  const serverErrors = server.output().split('\n').filter(line => /"level":(50|60)/.test(line) || /^\S*Error/.test(line));
  expect({ exitCode: server.child.exitCode, serverErrors }).toEqual({ exitCode: null, serverErrors: [] });
  expect(answers.length).toBeGreaterThan(100);
  expect(answers.filter(a => a.status !== 200)).toEqual([]);
  // The replica took reads between the crashes: the test did not pass by reading the primary only.
  expect((await send(server.port, 'GET', '/metrics')).body).toMatch(/^db_reads_total\{target="replica",reason="replica"\} [1-9]/m);
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}, 150_000);

test('a server whose database is unreachable at start exits 1 and says why', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['service/dist/server.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: String(port), DATABASE_URL: `postgres://app:x@127.0.0.1:${await freePort()}/app`, PG_CONNECT_TIMEOUT_MS: '500', PG_STARTUP_RETRY_MS: '2000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', chunk => { output += chunk; });
  group.onCleanup(async () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const code = await new Promise(resolve => child.once('exit', resolve));
  expect(code).toBe(1);
  expect(output).toContain('failed to start');
}, 30_000);
