import { readFileSync } from 'fs';
import { join } from 'path';
import { Chart, Duration, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import { PgReplicaSet, PgReplicaSetProps, ScaledApi } from '../lib';
import { DEFAULT_METRICS_SCRAPER } from '../lib/core/endpoints';
import { EXPORTER_QUERIES_FILE } from '../lib/postgres/exporter-queries';
import { patroniTimingViolation, worstCasePromotionSeconds } from '../lib/postgres/patroni-conf';
import { resolvePgReplicaSetSettings } from '../lib/postgres/pg-replica-set';
import { usedFilesHash } from '../lib/postgres/shared';
import { crdValidators } from './support/crd-validators';
import { expectEveryObjectExposed } from './support/exposed';
import { findObject } from './support/find';
import { checkManifests, Manifest } from './support/manifest-checks';

const validators = crdValidators();

function synthDb(props: PgReplicaSetProps = {}) {
  const chart = Testing.chart();
  const db = new PgReplicaSet(chart, 'db', props);
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', database: db });
  return { db, manifests: Testing.synth(chart) };
}

/** The statefulset engine, which the tests of its objects name: the default engine is patroni. */
const STATEFULSET: PgReplicaSetProps = { engine: 'statefulset' };

const envOf = (container: Manifest) => Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));
const apiEnv = (manifests: Manifest[]) => envOf(findObject(manifests, 'Deployment', 'test-api').spec.template.spec.containers[0]);

test('the statefulset engine synthesizes a primary, two replicas, their Services, budgets and policies', async () => {
  const { manifests } = synthDb(STATEFULSET);
  expect(manifests.filter(m => m.metadata.name.startsWith('test-db'))).toMatchSnapshot();
  await checkManifests(manifests);
  expect(findObject(manifests, 'StatefulSet', 'test-db-primary').spec.replicas).toBe(1);
  const replicas = findObject(manifests, 'StatefulSet', 'test-db-replica');
  expect(replicas.spec.replicas).toBe(2);
  expect(replicas.spec.volumeClaimTemplates[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } });
  expect(replicas.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
  expect(replicas.spec.template.spec.securityContext).toMatchObject({ runAsUser: 999, fsGroup: 999 });
  expect(findObject(manifests, 'Service', 'test-db-rw').spec.selector['app.kubernetes.io/component']).toBe('primary');
  expect(findObject(manifests, 'Service', 'test-db-ro').spec.selector['app.kubernetes.io/component']).toBe('replica');
  expect(findObject(manifests, 'Service', 'test-db-pods').spec.clusterIP).toBe('None');
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-db-replica').spec.maxUnavailable).toBe(1);
});

test.each(['statefulset', 'patroni'] as const)('engine %s: PostgreSQL gets a 256Mi memory-backed /dev/shm, not the container\'s 64 MiB', engine => {
  const { manifests } = synthDb({ engine });
  const statefulSets = manifests.filter(m => m.kind === 'StatefulSet' && m.metadata.name.startsWith('test-db'));
  expect(statefulSets.length).toBeGreaterThan(0);
  for (const set of statefulSets) {
    const spec = set.spec.template.spec;
    expect(spec.volumes).toContainEqual({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } });
    expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'shm', mountPath: '/dev/shm' });
  }
});

test.each(['statefulset', 'patroni'] as const)('engine %s: every exporter sidecar runs the custom queries of the PostgreSQL ConfigMap', engine => {
  // GIVEN the synthesized members
  const { manifests } = synthDb({ engine });
  const queries = findObject(manifests, 'ConfigMap', 'test-db-config').data[EXPORTER_QUERIES_FILE];
  expect(queries).toContain('pg_replication_slots');
  const statefulSets = manifests.filter(m => m.kind === 'StatefulSet' && m.metadata.name.startsWith('test-db'));
  expect(statefulSets.length).toBeGreaterThan(0);
  for (const set of statefulSets) {
    // THEN the exporter's query path is a file of the mounted ConfigMap
    const spec = set.spec.template.spec;
    const exporter = spec.containers.find((c: Manifest) => c.name === 'exporter');
    const mount = exporter.volumeMounts.find((m: Manifest) => envOf(exporter).PG_EXPORTER_EXTEND_QUERY_PATH === `${m.mountPath}/${EXPORTER_QUERIES_FILE}`);
    expect(spec.volumes.find((v: Manifest) => v.name === mount.name).configMap.name).toBe('test-db-config');
  }
});

test('the single primary refuses voluntary eviction; replicas may go one at a time', () => {
  const { manifests } = synthDb(STATEFULSET);
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-db-primary').spec.maxUnavailable).toBe(0);
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-db-replica').spec.maxUnavailable).toBe(1);
});

test('the construct page states the budgets the statefulset engine emits: maxUnavailable 1 on the replicas, 0 on the single primary', () => {
  // GIVEN the page's sentences that give a maxUnavailable, and the budgets synthesized
  const page = readFileSync(join(__dirname, '..', 'docs', 'constructs', 'pg-replica-set.md'), 'utf8').replace(/\s+/g, ' ');
  const stated = [...page.matchAll(/maxUnavailable (\d+) on the (replicas|single primary)/g)].map(m => [m[2], Number(m[1])]);
  const { manifests } = synthDb({ engine: 'statefulset' });
  const budget = (role: string) => findObject(manifests, 'PodDisruptionBudget', `test-db-${role}`).spec.maxUnavailable;
  // THEN the page says each role's value, and says nothing else about the primary
  expect(stated).toEqual([['replicas', budget('replica')], ['single primary', budget('primary')]]);
  expect(page).not.toMatch(/maxUnavailable 1, also on the single primary/);
});

test('the primary and the replicas each hash only the files they read: a new replica-init.sh rolls no primary', () => {
  // GIVEN the ConfigMap and each StatefulSet's checksum
  const { manifests } = synthDb(STATEFULSET);
  const files = findObject(manifests, 'ConfigMap', 'test-db-config').data;
  const checksum = (name: string) => findObject(manifests, 'StatefulSet', name).spec.template.metadata.annotations['hscale.io/config-sha256'];
  // WHEN replica-init.sh changes, THEN the primary's checksum does not, and the replicas' does
  const changed = { ...files, 'replica-init.sh': `${files['replica-init.sh']}# changed\n` };
  // (both roles' exporters read the custom queries)
  expect(usedFilesHash(changed, ['postgresql.conf', 'pg_hba.conf', 'primary-init.sh', EXPORTER_QUERIES_FILE])).toBe(checksum('test-db-primary'));
  expect(usedFilesHash(changed, ['postgresql.conf', 'pg_hba.conf', 'replica-init.sh', EXPORTER_QUERIES_FILE])).not.toBe(checksum('test-db-replica'));
  expect(usedFilesHash(files, ['postgresql.conf', 'pg_hba.conf', 'replica-init.sh', EXPORTER_QUERIES_FILE])).toBe(checksum('test-db-replica'));
});

test('the API gets the env contract with credentials only as Secret references', () => {
  const { manifests, db } = synthDb({ ...STATEFULSET, credentialsSecret: { secretName: 'pg-creds' } });
  expect(db.credentialsSecret).toEqual({ secretName: 'pg-creds' });
  const env = apiEnv(manifests);
  expect(env.PGUSER).toEqual({ secretKeyRef: { name: 'pg-creds', key: 'username' } });
  expect(env.PGPASSWORD).toEqual({ secretKeyRef: { name: 'pg-creds', key: 'password' } });
  expect(env.DATABASE_URL).toBe('postgres://$(PGUSER):$(PGPASSWORD)@test-db-rw.default.svc.cluster.local:5432/$(PGDATABASE)');
  expect(env.POSTGRES_READ_REPLICAS).toBe([0, 1].map(i => `test-db-replica-${i}.test-db-pods.default.svc.cluster.local:5432`).join(','));
  expect(db.replicaHosts).toHaveLength(2);
});

test('the NetworkPolicies open exactly 5432 between the API, the primary and the replicas', () => {
  const { manifests } = synthDb(STATEFULSET);
  const api = findObject(manifests, 'NetworkPolicy', 'test-api').spec;
  expect(api.egress.slice(1).map((r: Manifest) => [r.to[0].podSelector.matchLabels['app.kubernetes.io/component'], r.ports[0].port]))
    .toEqual([['primary', 5432], ['replica', 5432]]);
  const primaryIngress = findObject(manifests, 'NetworkPolicy', 'test-db-primary').spec.ingress;
  expect(primaryIngress.map((r: Manifest) => [r.from[0].podSelector.matchLabels['app.kubernetes.io/component'] ?? 'prometheus', r.ports[0].port]))
    .toEqual([['replica', 5432], ['prometheus', 9187], ['api', 5432]]);
  const replicaEgress = findObject(manifests, 'NetworkPolicy', 'test-db-replica').spec.egress;
  expect(replicaEgress[1]).toEqual({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'test-db', 'app.kubernetes.io/component': 'primary' } } }], ports: [{ protocol: 'TCP', port: 5432 }] });
});

test('configs are rendered from props and the scripts come from the ConfigMap', () => {
  const { manifests, db } = synthDb({ ...STATEFULSET, synchronousReplicas: 1, synchronousCommit: 'remote_apply', maxConnections: 300, parameters: { 'auto_explain.log_min_duration': '250ms' } });
  expect(db.postgresConf).toContain('synchronous_standby_names = \'ANY 1 (test_db_replica_0, test_db_replica_1)\'');
  expect(db.postgresConf).toContain('synchronous_commit = remote_apply');
  expect(db.postgresConf).toContain('max_connections = 300');
  expect(db.postgresConf).toContain('auto_explain.log_min_duration = \'250ms\'');
  expect(db.postgresConf).toContain('shared_preload_libraries = \'pg_stat_statements\'');
  expect(db.hbaConf).toContain('host    replication  all  10.0.0.0/8  scram-sha-256');
  const config = findObject(manifests, 'ConfigMap', 'test-db-config').data;
  expect(Object.keys(config).sort()).toEqual([EXPORTER_QUERIES_FILE, 'pg_hba.conf', 'postgresql.conf', 'primary-init.sh', 'replica-init.sh']);
  const replica = findObject(manifests, 'StatefulSet', 'test-db-replica').spec.template.spec.containers[0];
  expect(replica.command).toEqual(['sh', '/etc/postgresql/replica-init.sh']);
  expect(envOf(replica).PRIMARY_HOST).toBe('test-db-rw.default.svc.cluster.local');
});

test('the cloudnative-pg engine emits a Cluster, a PodMonitor, Poolers and a ScheduledBackup that validate against their CRDs', async () => {
  // GIVEN
  const { manifests } = synthDb({ engine: 'cloudnative-pg', synchronousReplicas: 1, pooler: true, backup: { schedule: '0 0 3 * * *', volumeSnapshotClass: 'csi-snapshots' } });
  // THEN
  await checkManifests(manifests, { validators });
  expect(manifests.filter(m => m.metadata.name.startsWith('test-db'))).toMatchSnapshot();
  const cluster = findObject(manifests, 'Cluster', 'test-db');
  expect(cluster.spec.instances).toBe(3);
  expect(cluster.spec.postgresql.synchronous).toEqual({ method: 'any', number: 1 });
  expect(cluster.spec.monitoring).toBeUndefined();
  expect(findObject(manifests, 'PodMonitor', 'test-db').spec.selector.matchLabels).toEqual({ 'cnpg.io/cluster': 'test-db' });
  expect(manifests.filter(m => m.kind === 'Pooler').map(m => m.spec.type)).toEqual(['rw', 'ro']);
  // The operator's scratch emptyDir is bounded, and the instances' ephemeral storage holds it and the logs.
  expect(cluster.spec.ephemeralVolumesSizeLimit).toEqual({ temporaryData: '512Mi' });
  expect([cluster.spec.resources.requests['ephemeral-storage'], cluster.spec.resources.limits['ephemeral-storage']]).toEqual(['562Mi', '562Mi']);
  // PgBouncer, which the operator runs with no resources, gets them through the Pooler's template.
  for (const pooler of manifests.filter(m => m.kind === 'Pooler')) {
    expect(pooler.spec.template.spec.containers).toEqual([{ name: 'pgbouncer', resources: {
      requests: { 'cpu': '100m', 'memory': '64Mi', 'ephemeral-storage': '50Mi' },
      limits: { 'cpu': '1', 'memory': '256Mi', 'ephemeral-storage': '50Mi' },
    } }]);
  }
  const env = apiEnv(manifests);
  expect(env.PGPASSWORD).toEqual({ secretKeyRef: { name: 'test-db-app', key: 'password' } });
  expect(env.PGDATABASE).toEqual({ secretKeyRef: { name: 'test-db-app', key: 'dbname' } });
  expect(env.POSTGRES_READ_REPLICAS).toBe('test-db-pooler-ro.default.svc.cluster.local:5432');
});

test('a ScaledApi linked to a pooled PgReplicaSet reaches the Poolers, not the instances: its env and its NetworkPolicy egress', () => {
  // GIVEN
  const { manifests, db } = synthDb({ engine: 'cloudnative-pg', replicas: 2, pooler: true });
  // THEN
  const env = apiEnv(manifests);
  expect(env.DATABASE_URL).toBe('postgres://$(PGUSER):$(PGPASSWORD)@test-db-pooler-rw.default.svc.cluster.local:5432/$(PGDATABASE)');
  expect(env.POSTGRES_READ_REPLICAS).toBe('test-db-pooler-ro.default.svc.cluster.local:5432');
  expect(db.primaryHost).toBe('test-db-pooler-rw.default.svc.cluster.local');
  expect(env.POSTGRES_POOL_MODE).toBe('transaction');
  expect(env.POSTGRES_READ_REPLICAS_BALANCED).toBe('true');
  const egress = findObject(manifests, 'NetworkPolicy', 'test-api').spec.egress;
  for (const pooler of ['test-db-pooler-rw', 'test-db-pooler-ro']) {
    expect(egress).toContainEqual({ to: [{ podSelector: { matchLabels: { 'cnpg.io/poolerName': pooler } } }], ports: [{ protocol: 'TCP', port: 5432 }] });
  }
  expect(egress.flatMap((rule: Manifest) => rule.to ?? []).filter((peer: Manifest) => peer.podSelector?.matchLabels?.['cnpg.io/cluster'])).toEqual([]);
});

test('without a pooler, a ScaledApi linked to cloudnative-pg reaches the Cluster\'s -rw and -ro and its instances', () => {
  const { manifests } = synthDb({ engine: 'cloudnative-pg', replicas: 2 });
  expect(apiEnv(manifests).DATABASE_URL).toBe('postgres://$(PGUSER):$(PGPASSWORD)@test-db-rw.default.svc.cluster.local:5432/$(PGDATABASE)');
  expect(apiEnv(manifests).POSTGRES_READ_REPLICAS).toBe('test-db-ro.default.svc.cluster.local:5432');
  expect(apiEnv(manifests).POSTGRES_POOL_MODE).toBeUndefined();
  expect(apiEnv(manifests).POSTGRES_READ_REPLICAS_BALANCED).toBe('true');
  expect(findObject(manifests, 'NetworkPolicy', 'test-api').spec.egress)
    .toContainEqual({ to: [{ podSelector: { matchLabels: { 'cnpg.io/cluster': 'test-db' } } }], ports: [{ protocol: 'TCP', port: 5432 }] });
});

test('with a pooler between, the connection budget counts the PgBouncers\' server pools, not the clients\' pools', () => {
  // 50 API pods × 10 = 500 client connections: over 400 - 3 without a pooler; 2 PgBouncers × 20 + the exporter = 41 on each server with one.
  const chartOf = (pooler: boolean, maxConnections = 400) => {
    const chart = Testing.chart();
    const db = new PgReplicaSet(chart, 'db', { engine: 'cloudnative-pg', replicas: 2, pooler, maxConnections });
    new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', maxReplicas: 50, database: db, databasePool: { primarySize: 10, replicaSize: 10 } });
    return chart;
  };
  expect(() => Testing.synth(chartOf(false))).toThrow('test/db: the primary can be asked for test/api 50 × 10 + exporter 1 × 1 = 501 connections');
  expect(() => Testing.synth(chartOf(true))).not.toThrow();
  expect(() => Testing.synth(chartOf(true, 43))).toThrow(
    'test/db: the primary can be asked for test/db/Pooler-rw (PgBouncer) 2 × 20 + test/db/Pooler-ro (PgBouncer) 2 × 0 + exporter 1 × 1 = 41 connections');
});

test('the CRD validators reject an object their schema refuses', async () => {
  const { manifests } = synthDb({ engine: 'cloudnative-pg' });
  const cluster = findObject(manifests, 'Cluster', 'test-db');
  cluster.spec.instances = 'three';
  await expect(checkManifests(manifests, { validators })).rejects.toThrow('Cluster/test-db: schema: /spec/instances must be integer');
});

test.each<[string, PgReplicaSetProps, string]>([
  ['replicas < 0', { replicas: -1 }, 'test/db: \'replicas\' (-1) must be an integer from 0 to 15'],
  ['synchronousReplicas > replicas', { replicas: 1, synchronousReplicas: 2 },
    'test/db: \'synchronousReplicas\' (2) must be less than or equal to \'replicas\' (1), or no commit could ever be confirmed'],
  ['the storage size is not a quantity', { storageSize: 'big' }, 'test/db: \'storageSize\' ("big") must be a Kubernetes quantity greater than 0'],
  ['the engine is unknown', { engine: 'repmgr' as never }, 'test/db: \'engine\' ("repmgr") must be one of \'statefulset\', \'patroni\', \'cloudnative-pg\''],
  ['Patroni\'s ttl is shorter than its retries', { engine: 'patroni', patroni: { ttl: Duration.seconds(4), retryTimeout: Duration.seconds(2) } },
    'test/db: \'patroni.ttl\' ("4s") must be at least loopWait + 2 x retryTimeout (1 + 2 x 2 = 5 s), or a leader retrying the store loses its lock without a failure'],
  ['patroni props are given to another engine', { ...STATEFULSET, patroni: { synchronousModeStrict: true } }, 'test/db: \'patroni\' ({"synchronousModeStrict":true}) does not apply to engine \'statefulset\': it is a prop of engine \'patroni\''],
  ['Patroni\'s ttl is a number of seconds, as before 1.0', { engine: 'patroni', patroni: { ttl: 10 as never } },
    'test/db: \'patroni.ttl\' (10) must be a Duration, e.g. Duration.seconds(5)'],
  ['Patroni\'s loopWait is not whole seconds', { engine: 'patroni', patroni: { loopWait: Duration.millis(1500) } },
    'test/db: \'patroni.loopWait\' ("1.5s") must be a whole number of seconds from 1s to 60s'],
  ['a pooler is asked of the default engine', { pooler: true }, 'test/db: \'pooler\' (true) does not apply to engine \'patroni\': it is a prop of engine \'cloudnative-pg\''],
  ['synchronousCommit is unknown', { synchronousCommit: 'local' as never }, 'test/db: \'synchronousCommit\' ("local") must be one of \'on\', \'remote_write\', \'remote_apply\''],
  ['the secret name is empty', { credentialsSecret: { secretName: '' } }, 'test/db: \'credentialsSecret.secretName\' ("") must name a Secret: a DNS-1123 subdomain of at most 253 characters'],
  ['the secret is named by a string, as before 1.0', { credentialsSecret: 'pg-creds' as never }, 'test/db: \'credentialsSecret\' ("pg-creds") must be an object with the keys secretName'],
  ['a parameter name is invalid', { parameters: { 'work mem; drop': '1' } }, 'test/db: \'parameters.work mem; drop\' ("work mem; drop") is not a PostgreSQL parameter name'],
  ['a pooler is asked of the statefulset engine', { ...STATEFULSET, pooler: true }, 'test/db: \'pooler\' (true) does not apply to engine \'statefulset\': it is a prop of engine \'cloudnative-pg\''],
  ['maxSlotWalKeepSize has no unit', { maxSlotWalKeepSize: '4096' }, 'test/db: \'maxSlotWalKeepSize\' ("4096") must be a PostgreSQL size with a unit, e.g. \'512MB\', \'4GB\''],
  ['the WAL kept for slots could fill the volume', { storageSize: '10Gi', maxSlotWalKeepSize: '8GB' },
    'test/db: \'maxSlotWalKeepSize\' ("8GB") plus \'walKeepSize\' (1GB) must be at most half of \'storageSize\' (10Gi), or WAL kept for a lost replica can fill the volume'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthDb(props)).toThrow(message);
});

test('the settings fill every default: the patroni engine, its image, and the Patroni timing', () => {
  const settings = resolvePgReplicaSetSettings(new Construct(Testing.chart(), 'db'));
  if (settings.engine !== 'patroni') throw new Error(`the default engine is ${settings.engine}`);
  expect(settings.patroni).toEqual({ timing: { ttl: 5, loopWait: 1, retryTimeout: 2 }, synchronousModeStrict: false, maximumLagOnFailover: '1MB' });
  expect(settings).toMatchObject({
    engine: 'patroni', name: 'test-db', replicas: 2, synchronousReplicas: 0, synchronousCommit: 'on',
    credentialsSecret: 'test-db-credentials', image: 'ghcr.io/hscale/patroni:15.15-3.0.2', storageSize: '20Gi', accessMode: 'ReadWriteOnce',
    placement: 'required', maxConnections: 400, sharedBuffers: '1GB', workMem: '4MB', walKeepSize: '1GB',
    maxSlotWalKeepSize: '4GB', parameters: {}, podNetworks: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
    dnsSuffix: 'default.svc.cluster.local', metricsScraper: DEFAULT_METRICS_SCRAPER,
  });
  expect(settings.storageClassName).toBeUndefined();
  // Only what the patroni engine reads: no other engine's settings.
  expect(Object.keys(settings).filter(key => ['pooler', 'backup', 'podMonitorLabels', 'poolerPod'].includes(key))).toEqual([]);
  expect(settings.resources.requests?.cpu?.value).toBe('500m');
  expect(settings.resources.limits?.memory?.value).toBe('4Gi');
  // The default timing keeps Patroni's rule and the goal: a replica leads within 10 s of the leader's loss.
  expect(patroniTimingViolation(settings.patroni.timing)).toBeUndefined();
  expect(worstCasePromotionSeconds(settings.patroni.timing)).toBe(9.5);
});

test('the settings take the engine\'s image and Secret for cloudnative-pg, and the chart\'s namespace for DNS', () => {
  // GIVEN
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'orders' });
  // WHEN
  const settings = resolvePgReplicaSetSettings(new Construct(chart, 'db'), { engine: 'cloudnative-pg', pooler: true });
  // THEN
  // The operator creates the Secret and names it (a credentialsSecret is refused: test/mode-modules).
  expect(settings).toMatchObject({
    image: 'ghcr.io/cloudnative-pg/postgresql:15.15', credentialsSecret: 'shop-db-app', pooler: true, dnsSuffix: 'orders.svc.cluster.local',
  });
});

test('the settings keep what the props give', () => {
  const settings = resolvePgReplicaSetSettings(new Construct(Testing.chart(), 'db'), {
    replicas: 3, synchronousReplicas: 2, credentialsSecret: { secretName: 'pg-creds' }, image: 'postgres:16.4', podNetworks: ['10.1.0.0/16'],
    resources: { cpuLimit: '4' }, placement: 'required',
  });
  expect(settings).toMatchObject({
    replicas: 3, synchronousReplicas: 2, credentialsSecret: 'pg-creds', image: 'postgres:16.4', podNetworks: ['10.1.0.0/16'], placement: 'required',
  });
  expect(settings.resources.limits?.cpu?.value).toBe('4');
  expect(settings.resources.requests?.cpu?.value).toBe('500m');
});

test('throws error, when the settings are asked for a backup of the statefulset engine, naming both engines', () => {
  const scope = new Construct(Testing.chart(), 'db');
  expect(() => resolvePgReplicaSetSettings(scope, { ...STATEFULSET, backup: { schedule: '0 0 3 * * *', volumeSnapshotClass: 'csi' } }))
    .toThrow('test/db: \'backup\' ({"schedule":"0 0 3 * * *","volumeSnapshotClass":"csi"}) does not apply to engine \'statefulset\': it is a prop of engine \'cloudnative-pg\'');
});

test('the patroni engine synthesizes one StatefulSet of replicas + 1 members, a Role with only what Patroni does, and Services by Patroni\'s role label', async () => {
  const { manifests, db } = synthDb({ engine: 'patroni', synchronousReplicas: 1 });
  await checkManifests(manifests);
  const members = findObject(manifests, 'StatefulSet', 'test-db');
  expect(members.spec.replicas).toBe(3);
  expect(members.spec.template.spec.serviceAccountName).toBe('test-db');
  expect(findObject(manifests, 'Role', 'test-db').rules).toEqual([
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
  ]);
  expect(findObject(manifests, 'Service', 'test-db-rw').spec.selector).toEqual({ 'app.kubernetes.io/instance': 'test-db', 'app.kubernetes.io/name': 'postgresql', 'role': 'master' });
  expect(findObject(manifests, 'Service', 'test-db-ro').spec.selector).toEqual({ 'app.kubernetes.io/instance': 'test-db', 'app.kubernetes.io/name': 'postgresql', 'role': 'replica' });
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-db-members').spec.maxUnavailable).toBe(1);
  // Every member may serve reads once the service has checked it is a replica.
  expect(apiEnv(manifests).POSTGRES_READ_REPLICAS).toBe(db.replicaHosts.join(','));
  expect(db.replicaHosts).toHaveLength(3);
  const dcs = parse(findObject(manifests, 'ConfigMap', 'test-db-config').data['patroni.yml']).bootstrap.dcs;
  expect(dcs).toMatchObject({ ttl: 5, loop_wait: 1, retry_timeout: 2, synchronous_mode: true, synchronous_node_count: 1, maximum_lag_on_failover: 1048576 });
  expect(db.generatableSecrets[0].randomKeys).toEqual(expect.arrayContaining(['rewind-password', 'restapi-password']));
  expect(db.generatableSecrets[0].plainKeys).toMatchObject({ 'rewind-username': 'rewinder', 'restapi-username': 'patroni' });
  // The REST API's unsafe endpoints ask for basic auth, from the Secret (test/patroni.test.ts: 401 without it).
  const env = envOf(members.spec.template.spec.containers[0]);
  expect([env.PATRONI_RESTAPI_USERNAME, env.PATRONI_RESTAPI_PASSWORD]).toEqual(['restapi-username', 'restapi-password'].map(key => ({ secretKeyRef: { name: 'test-db-credentials', key } })));
});

test.each([
  ['statefulset', { engine: 'statefulset', replicas: 2, pod: { serviceAccountAnnotations: { 'iam.example.com/role': 'db' } } }],
  ['patroni', { engine: 'patroni', replicas: 2 }],
  ['cloudnative-pg', { engine: 'cloudnative-pg', replicas: 2, pooler: true, backup: { schedule: '0 0 3 * * *', volumeSnapshotClass: 'csi-snapshots' } }],
] as Array<[string, PgReplicaSetProps]>)('the %s engine exposes every object it makes, as the object synthesized', (_engine, props) => {
  const { db } = synthDb(props);
  expectEveryObjectExposed(db, [
    db.primary, db.replicaSet, db.primaryNetworkPolicy?.policy, db.replicaNetworkPolicy?.policy, db.serviceAccount, db.configMap,
    db.services?.readWrite, db.services?.readOnly, db.services?.pods, ...db.disruptionBudgets ?? [], db.role, db.roleBinding,
    db.cluster, ...db.poolers ?? [], db.podMonitor, db.scheduledBackup,
  ]);
});

test('by default every engine keeps its instances on different nodes as a rule and spreads them over zones as a preference; placement \'preferred\' softens the node rule only', () => {
  const zoneSpread = { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: expect.any(Object) } };
  for (const engine of ['statefulset', 'patroni'] as const) {
    const sets = synthDb({ engine }).manifests.filter(m => m.kind === 'StatefulSet');
    expect(sets.length).toBeGreaterThan(0);
    for (const set of sets) {
      const spec = set.spec.template.spec;
      const members = spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
      expect(members.topologyKey).toBe('kubernetes.io/hostname');
      // One selector over the primary and the replicas, so a replica never lands on its primary's node.
      expect(set.spec.template.metadata.labels).toMatchObject(members.labelSelector.matchLabels);
      expect(members.labelSelector).toEqual(sets[0].spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector);
      expect(spec.topologySpreadConstraints).toEqual([{ ...zoneSpread, labelSelector: members.labelSelector }]);
    }
    for (const set of synthDb({ engine, placement: 'preferred' }).manifests.filter(m => m.kind === 'StatefulSet')) {
      expect(set.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
      expect(set.spec.template.spec.topologySpreadConstraints).toEqual([zoneSpread]);
    }
  }
  const cluster = findObject(synthDb({ engine: 'cloudnative-pg' }).manifests, 'Cluster', 'test-db');
  expect(cluster.spec.affinity.podAntiAffinityType).toBe('required');
  expect(cluster.spec.topologySpreadConstraints).toEqual([{ ...zoneSpread, labelSelector: { matchLabels: { 'cnpg.io/cluster': 'test-db' } } }]);
  expect(findObject(synthDb({ engine: 'cloudnative-pg', placement: 'preferred' }).manifests, 'Cluster', 'test-db').spec.affinity.podAntiAffinityType).toBe('preferred');
});

test('every engine runs with walKeepSize: cloudnative-pg too (it left wal_keep_size to the operator\'s 512MB)', () => {
  for (const engine of ['statefulset', 'patroni'] as const) {
    const config = synthDb({ engine, walKeepSize: '2GB' }).manifests.find(m => m.kind === 'ConfigMap' && m.metadata.name === 'test-db-config')!;
    expect(Object.values(config.data).join('\n')).toMatch(/wal_keep_size[ =:]+'?2GB/);
  }
  const cluster = findObject(synthDb({ engine: 'cloudnative-pg', walKeepSize: '2GB' }).manifests, 'Cluster', 'test-db');
  expect(cluster.spec.postgresql.parameters.wal_keep_size).toBe('2GB');
});

test('throws error, when cloudnative-pg is given a prop only the engines with StatefulSets of their own read, naming both', () => {
  expect(() => synthDb({ engine: 'cloudnative-pg', credentialsSecret: { secretName: 'pg-creds' } })).toThrow(
    'test/db: \'credentialsSecret\' ({"secretName":"pg-creds"}) does not apply to engine \'cloudnative-pg\': it is a prop of engine \'statefulset\' or \'patroni\'');
});
