import { readFileSync, renameSync } from 'fs';
import { join } from 'path';
import { Testing } from 'cdk8s';
import postgres from 'postgres';
import { parse } from 'yaml';
import { PgReplicaSet } from '../lib';
import { tlsFiles } from '../lib/core/tls';
import { renderPgHba, renderPostgresConf } from '../lib/postgres/postgres-conf';
import { databaseConfigFromEnv } from '../service/src/db/config';
import { QueryRouter } from '../service/src/db/router';
import { ReplicatedPostgres, startReplicatedPostgres } from './support/postgres';
import { ProcessGroup, run, waitFor } from './support/processes';
import { certificateFingerprint, makeCertificates, renewCertificate, servedPostgresFingerprint } from './support/tls';

jest.setTimeout(120_000);

const group = new ProcessGroup();
afterAll(() => group.cleanup());

let cluster: ReplicatedPostgres;
let ca: string;
let otherCa: string;

let dir: string;

beforeAll(async () => {
  dir = group.tempDir('hscale-pg-tls-');
  // The pod's Secret volume: owned by root, group fsGroup (postgres here), 0440.
  await makeCertificates(dir, 'postgres');
  ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  otherCa = readFileSync(join(dir, 'other-ca.crt'), 'utf8');
  cluster = await startReplicatedPostgres(group, 1, { tls: tlsFiles(dir) });
});

const url = () => cluster.databaseUrl;

test('the rendered configs turn TLS on and admit replicas and clients over TLS only', () => {
  const files = tlsFiles('/etc/postgresql-tls');
  const conf = renderPostgresConf({
    port: 5432, socketDir: '/s', hbaFile: '/h', maxConnections: 10, sharedBuffers: '1MB', workMem: '1MB', walKeepSize: '1GB', maxSlotWalKeepSize: '1GB',
    maxWalSenders: 1, maxReplicationSlots: 1, synchronousReplicas: 0, standbyNames: [], synchronousCommit: 'on', parameters: {}, tls: files,
  });
  expect(conf).toContain('ssl = on\nssl_cert_file = \'/etc/postgresql-tls/tls.crt\'\nssl_key_file = \'/etc/postgresql-tls/tls.key\'\n'
    + 'ssl_ca_file = \'/etc/postgresql-tls/ca.crt\'\nssl_min_protocol_version = \'TLSv1.2\'\n');
  const hba = renderPgHba({ replicationUser: 'all', replicationNetworks: ['10.0.0.0/8'], clientNetworks: ['10.0.0.0/8'], requireTls: true });
  expect(hba.split('\n').filter(line => line.includes('10.0.0.0/8'))).toEqual([
    'hostssl replication  all  10.0.0.0/8  scram-sha-256',
    'hostssl all          all  10.0.0.0/8  scram-sha-256',
  ]);
});

test('the replica streams over TLS, having verified the primary against the CA', async () => {
  const walSenderSsl = () => cluster.primary.sql(
    'select s.ssl from pg_stat_ssl s join pg_stat_activity a using (pid) where a.backend_type = \'walsender\'');
  await waitFor('the replica to stream', async () => (await walSenderSsl()) !== '');
  expect(await walSenderSsl()).toBe('t');
  expect(await cluster.replicas[0].sql('select conninfo ~ \'sslmode=verify-full\' from pg_stat_wal_receiver')).toBe('t');
});

test('the service\'s router connects to the primary and the replica over verified TLS, from the wiring\'s env', async () => {
  const router = new QueryRouter(databaseConfigFromEnv({
    DATABASE_URL: `${url()}?sslmode=verify-full`, POSTGRES_READ_REPLICAS: cluster.replicaHosts, POSTGRES_TLS_CA: ca, REPLICA_CHECK_INTERVAL_MS: '100',
  }));
  try {
    await router.start();
    const ownSsl = 'select ssl, version from pg_stat_ssl where pid = pg_backend_pid()';
    const { result } = await router.write(async sql => sql.unsafe(ownSsl));
    expect(result[0]).toMatchObject({ ssl: true });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(result[0].version);
    const read = await router.read(async sql => sql.unsafe(ownSsl));
    expect(read[0]).toMatchObject({ ssl: true });
  } finally {
    await router.close();
  }
});

test('a plain connection is refused, and so is TLS to a server the client\'s CA did not sign', async () => {
  const attempt = async (options: postgres.Options<Record<string, never>>) => {
    const sql = postgres(url(), { ...options, max: 1, connect_timeout: 5, onnotice: () => undefined, fetch_types: false });
    try {
      return await sql`select 1 as one`.then(() => 'connected', (error: Error) => error.message);
    } finally {
      await sql.end({ timeout: 1 });
    }
  };
  expect(await attempt({ ssl: false })).toMatch(/no pg_hba.conf entry for host "127.0.0.1", user "app", database "app", no encryption/);
  expect(await attempt({ ssl: { ca: otherCa, rejectUnauthorized: true } })).toMatch(/self[- ]signed certificate|unable to verify|unable to get local issuer/);
  expect(await attempt({ ssl: { ca, rejectUnauthorized: true } })).toBe('connected');
});

test('a renewed certificate is served by the same postmasters within the reload loop\'s interval, and verified clients still connect', async () => {
  // GIVEN the primary and the replica serving the first certificate
  const first = certificateFingerprint(readFileSync(join(dir, 'tls.crt'), 'utf8'));
  const servers = [cluster.primary, ...cluster.replicas];
  for (const server of servers) expect(await servedPostgresFingerprint(server.port)).toBe(first);
  const started = await Promise.all(servers.map(server => server.sql('select pg_postmaster_start_time()')));
  // WHEN the Secret is renewed (a new key and certificate from the same CA)
  await renewCertificate(dir, 'postgres');
  const renewed = certificateFingerprint(readFileSync(join(dir, 'tls.crt'), 'utf8'));
  expect(renewed).not.toBe(first);
  // THEN each server presents the new one within the 1 s loop, from the same postmaster
  for (const server of servers) {
    await waitFor(`${server.port} to serve the renewed certificate`, async () => (await servedPostgresFingerprint(server.port)) === renewed, 15_000, 250);
  }
  expect(await Promise.all(servers.map(server => server.sql('select pg_postmaster_start_time()')))).toEqual(started);
  const sql = postgres(`${url()}?sslmode=verify-full`, { ssl: { ca, rejectUnauthorized: true }, max: 1, onnotice: () => undefined });
  try {
    expect(await sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`).toEqual([{ ssl: true }]);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('a renewed pair that does not load (a key of another certificate) leaves the served certificate in place, and clients still connect', async () => {
  // GIVEN the servers serving the renewed certificate of the test above
  const served = certificateFingerprint(readFileSync(join(dir, 'tls.crt'), 'utf8'));
  const reloaded = () => Promise.all([cluster.primary, ...cluster.replicas].map(server => server.sql('select pg_conf_load_time()')));
  const before = await reloaded();
  // WHEN the key is swapped for one that does not match the certificate
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'wrong.key')]);
  await run('chmod', ['0440', join(dir, 'wrong.key')]);
  await run('chown', ['root:postgres', join(dir, 'wrong.key')]);
  renameSync(join(dir, 'wrong.key'), join(dir, 'tls.key'));
  // THEN each postmaster reloads (its configuration load time moves), keeps serving the certificate it had, and clients get through
  await waitFor('both servers to reload', async () => (await reloaded()).every((time, i) => time !== before[i]), 15_000, 250);
  for (const server of [cluster.primary, ...cluster.replicas]) expect(await servedPostgresFingerprint(server.port)).toBe(served);
  const sql = postgres(`${url()}?sslmode=verify-full`, { ssl: { ca, rejectUnauthorized: true }, max: 1, onnotice: () => undefined });
  try {
    expect(await sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`).toEqual([{ ssl: true }]);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('PgReplicaSet tls: the pods mount the Secret, replicas verify the primary, clients get verify-full and the CA alone', () => {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'db', { engine: 'statefulset', tls: { secretName: 'db-tls' } });
  const manifests = Testing.synth(chart);
  const replica = manifests.find(m => m.kind === 'StatefulSet' && m.metadata.name === 'test-db-replica')!.spec.template.spec;
  expect(replica.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'db-tls', defaultMode: 0o440 } });
  expect(replica.containers[0].volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/postgresql-tls', readOnly: true });
  expect(replica.containers[0].env).toEqual(expect.arrayContaining([
    { name: 'PGSSLMODE', value: 'verify-full' }, { name: 'PGSSLROOTCERT', value: '/etc/postgresql-tls/ca.crt' },
  ]));
  // Both run beside the loop that has PostgreSQL reload renewed files; the primary's command names the image's entrypoint, which it replaces.
  const primary = manifests.find(m => m.kind === 'StatefulSet' && m.metadata.name === 'test-db-primary')!.spec.template.spec.containers[0];
  expect(primary.command.slice(3)).toEqual(['sh', 'docker-entrypoint.sh', 'postgres', '-c', 'config_file=/etc/postgresql/postgresql.conf']);
  expect(primary.args).toBeUndefined();
  expect(replica.containers[0].command.slice(3)).toEqual(['sh', 'sh', '/etc/postgresql/replica-init.sh']);
  for (const container of [primary, replica.containers[0]]) {
    expect(container.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(container.command[2]).toContain('while sleep 60 && kill -0 $$;');
    expect(container.command[2]).toContain('pg_ctl reload -D "$PGDATA"');
    expect(container.command[2]).toMatch(/ exec "\$@"$/);
  }
  expect(db.hbaConf).toContain('hostssl all');
  expect(db.hbaConf).not.toMatch(/^host +all +all /m);
  const env = Object.fromEntries(db.clientEnv.map(e => [e.name, e]));
  expect(env.DATABASE_URL.value).toMatch(/\?sslmode=verify-full$/);
  expect(env.POSTGRES_TLS_CA.valueFrom).toEqual({ secretKeyRef: { name: 'db-tls', key: 'ca.crt' } });
});

test('PgReplicaSet tls with the patroni engine: the members mount the Secret, require TLS, replicate and rewind with verify-full to each other\'s DNS names, and reload renewed files through Patroni', () => {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'db', { tls: { secretName: 'db-tls' } });
  const members = Testing.synth(chart).find(m => m.kind === 'StatefulSet' && m.metadata.name === 'test-db')!.spec.template.spec;
  expect(members.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'db-tls', defaultMode: 0o440 } });
  const patroni = members.containers[0];
  expect(patroni.volumeMounts).toContainEqual({ name: 'tls', mountPath: '/etc/postgresql-tls', readOnly: true });
  // The certificate names each member's -pods DNS name, not its pod IP: the other members connect to that.
  expect(patroni.env).toContainEqual({ name: 'PATRONI_POSTGRESQL_CONNECT_ADDRESS', value: '$(PATRONI_NAME).test-db-pods.default.svc.cluster.local:5432' });
  expect(patroni.command.slice(0, 2)).toEqual(['sh', '-c']);
  expect(patroni.command[2]).toContain('while sleep 60 && kill -0 $$;');
  expect(patroni.command[2]).toContain('then last=$now; kill -HUP $$; fi');
  expect(patroni.command.slice(3)).toEqual(['sh', '/usr/bin/python3', '/etc/patroni/launch-patroni.py', '/etc/patroni/patroni.yml']);
  const conf = parse(db.postgresConf!);
  expect(conf.postgresql.parameters).toMatchObject({
    ssl: 'on', ssl_cert_file: '/etc/postgresql-tls/tls.crt', ssl_key_file: '/etc/postgresql-tls/tls.key', ssl_ca_file: '/etc/postgresql-tls/ca.crt',
    ssl_min_protocol_version: 'TLSv1.2',
  });
  const verified = { sslmode: 'verify-full', sslrootcert: '/etc/postgresql-tls/ca.crt' };
  expect(conf.postgresql.authentication).toEqual({ replication: verified, rewind: verified });
  // Two YAML objects, not an alias: Patroni merges each user's name and password from env into its own.
  expect(db.postgresConf).not.toMatch(/[&*]a1/);
  expect(conf.postgresql.pg_hba.filter((line: string) => line.includes('10.0.0.0/8'))).toEqual([
    'hostssl replication all 10.0.0.0/8 scram-sha-256', 'hostssl all all 10.0.0.0/8 scram-sha-256',
  ]);
  const env = Object.fromEntries(db.clientEnv.map(e => [e.name, e]));
  expect(env.DATABASE_URL.value).toMatch(/\?sslmode=verify-full$/);
  expect(env.POSTGRES_TLS_CA.valueFrom).toEqual({ secretKeyRef: { name: 'db-tls', key: 'ca.crt' } });
});

test('PgReplicaSet without tls: the patroni members connect by pod IP and run Patroni\'s command alone', () => {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'db', {});
  const patroni = Testing.synth(chart).find(m => m.kind === 'StatefulSet')!.spec.template.spec.containers[0];
  expect(patroni.env).toContainEqual({ name: 'PATRONI_POSTGRESQL_CONNECT_ADDRESS', value: '$(PATRONI_KUBERNETES_POD_IP):5432' });
  expect(patroni.command).toEqual(['/usr/bin/python3', '/etc/patroni/launch-patroni.py', '/etc/patroni/patroni.yml']);
  expect(parse(db.postgresConf!).postgresql.authentication).toBeUndefined();
});

test('throws error, when tls is given to an engine that does not render it yet', () => {
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { engine: 'cloudnative-pg', tls: { secretName: 'db-tls' } })).toThrow(/'tls'.*engine/);
});
