import { spawnSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { GeneratedSecrets, GeneratedSecretSpec, Observability, PgReplicaSet, RedisCluster } from '../lib';
import { renderGenerateSecretsScript } from '../lib/secrets/generated-secrets';
import { checkManifests, Manifest } from './support/manifest-checks';

const SECRETS: GeneratedSecretSpec[] = [
  { name: 'db-credentials', plainKeys: { username: 'app', database: 'o\'neil db' }, randomKeys: ['password', 'superuser-password'] },
  { name: 'cache-auth', randomKeys: ['password'] },
];

/** A directory with the script, a fake kubectl first on PATH, and the fake's state. */
function sandbox(): { dir: string; run: () => { status: number | null; stdout: string; stderr: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'hscale-secrets-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'secrets'));
  copyFileSync(join(__dirname, 'support', 'fake-kubectl.sh'), join(dir, 'bin', 'kubectl'));
  writeFileSync(join(dir, 'generate-secrets.sh'), renderGenerateSecretsScript(SECRETS));
  const run = () => {
    const result = spawnSync('sh', [join(dir, 'generate-secrets.sh')], {
      env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, FAKE_KUBE: dir, NAMESPACE: 'shop' }, encoding: 'utf8', timeout: 10_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  return { dir, run };
}

const stored = (dir: string, name: string): Record<string, string> => Object.fromEntries(
  readdirSync(join(dir, 'secrets', name)).map(key => [key, readFileSync(join(dir, 'secrets', name, key), 'utf8')]));
const calls = (dir: string): string[] => readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n');

test('the script creates each absent Secret with random hex values and the plain ones, no value on a command line', () => {
  const { dir, run } = sandbox();
  try {
    const result = run();
    expect(result).toMatchObject({ status: 0, stderr: '' });
    const db = stored(dir, 'db-credentials');
    expect(Object.keys(db).sort()).toEqual(['database', 'password', 'superuser-password', 'username']);
    expect(db.username).toBe('app');
    expect(db.database).toBe('o\'neil db');
    expect(db.password).toMatch(/^[0-9a-f]{48}$/);
    expect(db['superuser-password']).toMatch(/^[0-9a-f]{48}$/);
    expect(db.password).not.toBe(db['superuser-password']);
    expect(stored(dir, 'cache-auth').password).toMatch(/^[0-9a-f]{48}$/);
    const log = calls(dir).join('\n');
    expect(log).not.toContain(db.password);
    // Created without ever being read: the Job's Role grants no get.
    expect(calls(dir).map(c => c.replace(/--from-file=\S+/, '--from-file=<dir>'))).toEqual([
      'create secret generic db-credentials --from-file=<dir> -n shop', 'create secret generic cache-auth --from-file=<dir> -n shop',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second run leaves every Secret as it is and creates nothing', () => {
  // GIVEN
  const { dir, run } = sandbox();
  try {
    run();
    const before = { db: stored(dir, 'db-credentials'), cache: stored(dir, 'cache-auth') };
    rmSync(join(dir, 'calls.log'));
    // WHEN
    const result = run();
    // THEN
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('secret/db-credentials exists: left unchanged');
    expect({ db: stored(dir, 'db-credentials'), cache: stored(dir, 'cache-auth') }).toEqual(before);
    expect(result.stdout).toContain('secret/cache-auth exists: left unchanged');
    expect(calls(dir).filter(c => !c.startsWith('create'))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Secret the user created keeps the user\'s values, and the others are still created', () => {
  const { dir, run } = sandbox();
  try {
    mkdirSync(join(dir, 'secrets', 'cache-auth'));
    writeFileSync(join(dir, 'secrets', 'cache-auth', 'password'), 'chosen-by-the-user');
    expect(run().status).toBe(0);
    expect(stored(dir, 'cache-auth')).toEqual({ password: 'chosen-by-the-user' });
    expect(stored(dir, 'db-credentials').password).toMatch(/^[0-9a-f]{48}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AlreadyExists from a creator that won the race counts as success and overwrites nothing', () => {
  const { dir, run } = sandbox();
  try {
    writeFileSync(join(dir, 'race-db-credentials'), '');
    const result = run();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('secret/db-credentials exists: left unchanged');
    expect(existsSync(join(dir, 'secrets', 'db-credentials'))).toBe(false);
    expect(stored(dir, 'cache-auth').password).toMatch(/^[0-9a-f]{48}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('throws error, when kubectl fails for another reason: the script exits non-zero so the Job retries', () => {
  const { dir, run } = sandbox();
  try {
    writeFileSync(join(dir, 'fail-db-credentials'), '');
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('is forbidden');
    expect(existsSync(join(dir, 'secrets', 'cache-auth'))).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('throws error, when the script runs without NAMESPACE: it creates nothing', () => {
  const { dir } = sandbox();
  try {
    const result = spawnSync('sh', [join(dir, 'generate-secrets.sh')], { env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, FAKE_KUBE: dir }, encoding: 'utf8', timeout: 10_000 });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('NAMESPACE must name the namespace of the Secrets');
    expect(existsSync(join(dir, 'calls.log'))).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function chartWithSecrets(): { manifests: Manifest[]; secrets: GeneratedSecrets } {
  const chart = new Chart(Testing.app(), 'test-chart', { namespace: 'shop' });
  const db = new PgReplicaSet(chart, 'db');
  const cache = new RedisCluster(chart, 'cache');
  const secrets = new GeneratedSecrets(chart, 'secrets', { from: [db, cache], secrets: [{ name: 'api-admin', randomKeys: ['token'] }] });
  return { manifests: Testing.synth(chart), secrets };
}

test('the Job, its RBAC and NetworkPolicy pass the manifest checks, with no literal secret', async () => {
  const { manifests } = chartWithSecrets();
  const own = manifests.filter(m => m.metadata.labels?.['app.kubernetes.io/component'] === 'generated-secrets');
  expect(own.map(m => m.kind).sort()).toEqual(['ConfigMap', 'Job', 'NetworkPolicy', 'Role', 'RoleBinding', 'ServiceAccount']);
  await expect(checkManifests(manifests)).resolves.toBeUndefined();
  expect(own).toMatchSnapshot();
});

test('the Role creates Secrets and reads none, the superuser\'s included; it cannot update, patch or delete', () => {
  const { manifests } = chartWithSecrets();
  const role = manifests.find(m => m.kind === 'Role' && m.metadata.labels['app.kubernetes.io/component'] === 'generated-secrets')!;
  expect(role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }]);
});

test('the image is pinned by digest beside its tag, and egress goes only to the API server\'s addresses when they are given', () => {
  const chart = new Chart(Testing.app(), 'test-chart', { namespace: 'shop' });
  const digest = `sha256:${'ab'.repeat(32)}`;
  new GeneratedSecrets(chart, 'secrets', { secrets: SECRETS, imageDigest: digest, apiServerCidrs: ['10.0.0.1/32', '10.0.0.2/32'] });
  const manifests = Testing.synth(chart);
  expect(manifests.find(m => m.kind === 'Job')!.spec.template.spec.containers[0].image).toBe(`alpine/k8s:1.31.4@${digest}`);
  const policy = manifests.find(m => m.kind === 'NetworkPolicy')!;
  expect(policy.spec.egress[1]).toEqual({
    to: [{ ipBlock: { cidr: '10.0.0.1/32' } }, { ipBlock: { cidr: '10.0.0.2/32' } }],
    ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }],
  });
});

test.each<[string, object, string]>([
  ['the digest is not sha256', { imageDigest: 'sha1:abc' }, 'test-chart/secrets: \'imageDigest\' ("sha1:abc") must be \'sha256:\' followed by 64 lower-case hex digits'],
  ['the image already has a digest', { image: `alpine/k8s:1.31.4@sha256:${'cd'.repeat(32)}`, imageDigest: `sha256:${'ab'.repeat(32)}` },
    `test-chart/secrets: 'imageDigest' ("sha256:${'ab'.repeat(32)}") must not be given when 'image' (alpine/k8s:1.31.4@sha256:${'cd'.repeat(32)}) already holds a digest`],
  ['an API server address is not a CIDR', { apiServerCidrs: ['kubernetes.default'] },
    'test-chart/secrets: \'apiServerCidrs[0]\' ("kubernetes.default") must be an IPv4 CIDR such as \'10.0.0.1/32\''],
  ['no API server address is given', { apiServerCidrs: [] }, 'test-chart/secrets: \'apiServerCidrs\' ("[]") must name at least one address of the API server'],
])('throws error, when %s', (_case, props, message) => {
  const chart = new Chart(Testing.app(), 'test-chart', { namespace: 'shop' });
  expect(() => new GeneratedSecrets(chart, 'secrets', { secrets: SECRETS, ...props })).toThrow(message);
});

test('the Job names what it creates, runs once with a token, and may reach only DNS and the API server', () => {
  const { manifests } = chartWithSecrets();
  const job = manifests.find(m => m.kind === 'Job' && m.metadata.labels['app.kubernetes.io/component'] === 'generated-secrets')!;
  expect(job.metadata.name).toMatch(/^test-chart-secrets-[0-9a-f]{8}$/);
  expect(JSON.parse(job.metadata.annotations['hscale.io/generated-secrets'])).toEqual({
    'api-admin': ['token'],
    'test-chart-db-credentials': [
      // The rewind role's (Patroni, the default engine, rewinds a failed leader with pg_rewind) and the REST API's basic auth.
      'username', 'database', 'replication-username', 'monitor-username', 'rewind-username', 'restapi-username',
      'password', 'superuser-password', 'replication-password', 'monitor-password', 'rewind-password', 'restapi-password',
    ],
    // One password per Redis ACL user of a cluster, and KEDA's user name, which its TriggerAuthentication reads from a Secret.
    'test-chart-cache-auth': ['keda-username', 'password', 'exporter-password', 'keda-password', 'replication-password', 'operator-password'],
  });
  expect(job.spec).toMatchObject({ backoffLimit: 6, ttlSecondsAfterFinished: 3600 });
  expect(job.spec.template.spec).toMatchObject({ automountServiceAccountToken: true, serviceAccountName: 'test-chart-secrets' });
  const policy = manifests.find(m => m.kind === 'NetworkPolicy' && m.metadata.name === 'test-chart-secrets')!;
  expect(policy.spec).toMatchObject({ policyTypes: ['Ingress', 'Egress'] });
  expect(policy.spec.ingress).toBeUndefined();
  expect(policy.spec.egress.map((rule: Manifest) => rule.ports.map((p: Manifest) => p.port))).toEqual([[53, 53], [443, 6443]]);
});

test('the Job\'s name changes with the Secrets it creates, so a changed chart applies over the immutable old Job', () => {
  const jobName = (secrets: GeneratedSecretSpec[]) => new GeneratedSecrets(Testing.chart(), 'secrets', { secrets }).job.name;
  expect(jobName([{ name: 'a', randomKeys: ['password'] }])).toBe(jobName([{ name: 'a', randomKeys: ['password'] }]));
  expect(jobName([{ name: 'a', randomKeys: ['password'] }])).not.toBe(jobName([{ name: 'a', randomKeys: ['token'] }]));
});

test('throws error, when a plain key looks like a credential', () => {
  const chart = Testing.chart();
  expect(() => new GeneratedSecrets(chart, 'secrets', { secrets: [{ name: 'x', randomKeys: [], plainKeys: { password: 'hunter2' } }] }))
    .toThrow('test/secrets: \'secrets.x.plainKeys\' ("password") looks like a credential; list it in \'randomKeys\'');
});

test('throws error, when one Secret is asked for twice with different keys', () => {
  const chart = Testing.chart();
  expect(() => new GeneratedSecrets(chart, 'secrets', { secrets: [{ name: 'x', randomKeys: ['a'] }, { name: 'x', randomKeys: ['b'] }] }))
    .toThrow('test/secrets: \'secrets\' ("x") is asked for twice with different keys or values');
});

test('throws error, when no Secret is asked for', () => {
  expect(() => new GeneratedSecrets(Testing.chart(), 'secrets', {}))
    .toThrow('test/secrets: \'secrets\' ("[]") must name at least one Secret (directly or through \'from\')');
});

test('a standalone Observability asks for its Grafana admin Secret; prometheus-operator mode and cloudnative-pg ask for none', () => {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const cache = new RedisCluster(chart, 'cache');
  const standalone = new Observability(chart, 'obs', { targets: [cache], mode: 'standalone' });
  const operator = new Observability(chart, 'obs2', { targets: [cache] });
  const cnpg = new PgReplicaSet(chart, 'db', { engine: 'cloudnative-pg' });
  expect(standalone.generatableSecrets).toEqual([{ name: 'shop-obs-grafana-admin', randomKeys: ['password'] }]);
  expect([...operator.generatableSecrets, ...cnpg.generatableSecrets]).toEqual([]);
});
