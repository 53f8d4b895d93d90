import { readFileSync, rmSync } from 'fs';
import { join } from 'path';
import postgres from 'postgres';
import { ControlPlane, DEFAULT_BIN_DIR, missingBinaries, startControlPlane } from '../scripts/control-plane/index';
import { memberSql, PatroniCluster, PatroniMember, restApiAuthorization, startPatroniCluster } from './support/patroni';
import { ProcessGroup, waitFor } from './support/processes';
import { certificateFingerprint, makeCertificates, renewCertificate, servedPostgresFingerprint } from './support/tls';

jest.setTimeout(240_000);

// Real Patroni members from a chart with `tls`, on the control plane as test/patroni.test.ts starts them;
// the certificate names the members' pod addresses, which the harness gives Patroni as connect addresses.
const group = new ProcessGroup();
let plane: ControlPlane | undefined;
let cluster: PatroniCluster;
let dir: string;
let addresses: string[] = [];
let ca: string;
let otherCa: string;

beforeAll(async () => {
  const missing = missingBinaries();
  if (missing.length) throw new Error(`${missing.join(', ')} not built in ${DEFAULT_BIN_DIR}: run \`npm run control-plane:build\``);
  dir = group.tempDir('hscale-patroni-tls-');
  const planeDir = group.tempDir('hscale-patroni-tls-plane-');
  plane = await startControlPlane({ dir: planeDir, crds: false, nodes: 3 });
  const started = Date.now();
  cluster = await startPatroniCluster(group, plane, { replicas: 2, tls: { secretName: 'db-tls' } }, {
    dir, checkSeconds: 1,
    issue: async members => {
      addresses = members;
      // The pod's Secret volume: the key root:postgres 0440.
      await makeCertificates(dir, 'postgres', members);
    },
  });
  ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  otherCa = readFileSync(join(dir, 'other-ca.crt'), 'utf8');
  process.stdout.write(`patroni-tls: control plane and 3 members up in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}, 240_000);

afterAll(async () => {
  await group.cleanup();
  await plane?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A client of `member` with `options`: 'connected' with its own pg_stat_ssl row, or the error's message. */
async function attempt(member: PatroniMember, options: postgres.Options<Record<string, never>>): Promise<string> {
  const sql = postgres(cluster.databaseUrl(member), { ...options, max: 1, connect_timeout: 5, onnotice: () => undefined, fetch_types: false });
  try {
    return await sql`select ssl, version from pg_stat_ssl where pid = pg_backend_pid()`
      .then(rows => `connected ssl=${rows[0].ssl} ${rows[0].version}`, (error: Error) => error.message);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** On the leader: each streaming replica's client address and whether its walsender's connection is TLS. */
async function replicationSsl(leader: PatroniMember): Promise<string[]> {
  const rows = await memberSql(leader, 'SELECT host(r.client_addr) || \' \' || s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.state = \'streaming\' ORDER BY 1');
  return rows.split('\n').filter(Boolean);
}

test('clients connect to every member with verify-full; a plain TCP client and one trusting another CA are refused', async () => {
  for (const member of cluster.members) {
    expect(await attempt(member, { ssl: { ca, rejectUnauthorized: true } })).toMatch(/^connected ssl=true TLSv1\.[23]$/);
    expect(await attempt(member, { ssl: false })).toMatch(/no pg_hba.conf entry for host "[0-9.]+", user "app", database "app", no encryption/);
    expect(await attempt(member, { ssl: { ca: otherCa, rejectUnauthorized: true } })).toMatch(/self[- ]signed certificate|unable to verify|unable to get local issuer/);
  }
});

test('the replicas stream from the leader over TLS, having verified it with verify-full', async () => {
  const leader = (await cluster.leader())!;
  const replicas = cluster.members.filter(m => m !== leader);
  await waitFor('both replicas to stream', async () => (await replicationSsl(leader)).length === 2, 30_000, 250);
  expect(await replicationSsl(leader)).toEqual(replicas.map(m => `${m.pod.address} true`).sort());
  for (const replica of replicas) {
    const conninfo = await memberSql(replica, 'SELECT conninfo FROM pg_stat_wal_receiver');
    expect(conninfo).toContain('sslmode=verify-full');
    expect(conninfo).toContain(`host=${leader.pod.address}`);
  }
});

test('after a switchover the old leader streams from the new one over verified TLS', async () => {
  const oldLeader = (await cluster.leader())!;
  const candidate = cluster.members.find(m => m !== oldLeader)!;
  const response = await fetch(`${oldLeader.restUrl}/switchover`, {
    method: 'POST', headers: { ...restApiAuthorization(), 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ leader: oldLeader.name, candidate: candidate.name }),
  });
  expect(response.status).toBe(200);
  await waitFor('the candidate to lead with both others streaming', async () => (await cluster.leader()) === candidate
    && (await replicationSsl(candidate).catch(() => [])).length === 2, 60_000, 250);
  expect(await replicationSsl(candidate)).toEqual(cluster.members.filter(m => m !== candidate).map(m => `${m.pod.address} true`).sort());
  expect(await memberSql(oldLeader, 'SELECT conninfo ~ \'sslmode=verify-full\' FROM pg_stat_wal_receiver')).toBe('t');
});

test('a renewed certificate is served by every member after the reload loop\'s SIGHUP to Patroni, with no restart', async () => {
  // GIVEN every member serving the first certificate
  const first = certificateFingerprint(readFileSync(join(dir, 'tls.crt'), 'utf8'));
  const serving = () => Promise.all(cluster.members.map(m => servedPostgresFingerprint(5432, m.pod.address).catch(() => 'no TLS answer')));
  // Waited for: right after the previous test's switchover a member could present no certificate for a moment (a fresh-clone CI, 2026-12-07).
  await waitFor('every member to serve the first certificate', async () => (await serving()).every(f => f === first), 20_000, 250);
  const startTimes = () => Promise.all(cluster.members.map(m => memberSql(m, 'SELECT pg_postmaster_start_time()')));
  const started = await startTimes();
  const reloads = () => cluster.members.map(m => m.output().split('Reloading PostgreSQL configuration.').length - 1);
  const reloadsBefore = reloads();
  // WHEN the Secret is renewed (a new key and certificate from the same CA)
  await renewCertificate(dir, 'postgres', addresses);
  const renewed = certificateFingerprint(readFileSync(join(dir, 'tls.crt'), 'utf8'));
  expect(renewed).not.toBe(first);
  // THEN each member presents the new one within seconds (a 1 s loop here), from the same postmaster, and Patroni logged its reload
  await waitFor('every member to serve the renewed certificate', async () => (await serving()).every(f => f === renewed), 20_000, 250);
  expect(await startTimes()).toEqual(started);
  expect(reloads().every((count, i) => count > reloadsBefore[i])).toBe(true);
  for (const member of cluster.members) {
    expect(await attempt(member, { ssl: { ca, rejectUnauthorized: true } })).toMatch(/^connected ssl=true/);
  }
  const leader = (await cluster.leader())!;
  expect(await replicationSsl(leader)).toEqual(cluster.members.filter(m => m !== leader).map(m => `${m.pod.address} true`).sort());
});
