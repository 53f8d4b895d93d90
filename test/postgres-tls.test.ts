import { readFileSync } from 'fs';
import { join } from 'path';
import { Testing } from 'cdk8s';
import postgres from 'postgres';
import { PgReplicaSet } from '../lib';
import { tlsFiles } from '../lib/core/tls';
import { renderPgHba, renderPostgresConf } from '../lib/postgres/postgres-conf';
import { databaseConfigFromEnv } from '../service/src/db/config';
import { QueryRouter } from '../service/src/db/router';
import { ReplicatedPostgres, startReplicatedPostgres } from './support/postgres';
import { ProcessGroup, waitFor } from './support/processes';
import { makeCertificates } from './support/tls';

jest.setTimeout(120_000);

const group = new ProcessGroup();
afterAll(() => group.cleanup());

let cluster: ReplicatedPostgres;
let ca: string;
let otherCa: string;

beforeAll(async () => {
  const dir = group.tempDir('hscale-pg-tls-');
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
  expect(db.hbaConf).toContain('hostssl all');
  expect(db.hbaConf).not.toMatch(/^host +all +all /m);
  const env = Object.fromEntries(db.clientEnv.map(e => [e.name, e]));
  expect(env.DATABASE_URL.value).toMatch(/\?sslmode=verify-full$/);
  expect(env.POSTGRES_TLS_CA.valueFrom).toEqual({ secretKeyRef: { name: 'db-tls', key: 'ca.crt' } });
});

test('throws error, when tls is given to an engine that does not render it yet', () => {
  expect(() => new PgReplicaSet(Testing.chart(), 'db', { engine: 'patroni', tls: { secretName: 'db-tls' } })).toThrow(/'tls'.*engine/);
});
