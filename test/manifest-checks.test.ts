import { Testing } from 'cdk8s';
import { IDatabaseEndpoint, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { checkManifests, findViolations, imageRegistry, Manifest } from './support/manifest-checks';

function apiManifests(): Manifest[] {
  const chart = Testing.chart();
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  return Testing.synth(chart);
}

const byKind = (manifests: Manifest[], kind: string) => manifests.find(m => m.kind === kind)!;

/** A worker pool scaled by KEDA on a standalone Redis whose rendered redis.conf then says `policy` (the construct refuses anything but noeviction). */
function chartWithBroker(policy: string): Manifest[] {
  const chart = Testing.chart();
  const queue = new RedisCluster(chart, 'queue', { mode: 'standalone', maxmemoryPolicy: 'noeviction' });
  new WorkerPool(chart, 'jobs', { image: 'example/worker:1.0.0', queues: ['emails'], broker: queue });
  const manifests = Testing.synth(chart);
  const config = manifests.find(m => m.kind === 'ConfigMap' && m.metadata.name === 'test-queue')!;
  config.data['redis.conf'] = config.data['redis.conf'].replace('maxmemory-policy noeviction', `maxmemory-policy ${policy}`);
  return manifests;
}
const apiPod = (manifests: Manifest[]) => byKind(manifests, 'Deployment').spec.template.spec;
const apiContainer = (manifests: Manifest[]) => apiPod(manifests).containers[0];
/** A batch object running the API's pod template, which passes every check when `spec` holds what the kind needs. */
function batchOf(manifests: Manifest[], kind: 'Job' | 'CronJob', spec: Manifest): Manifest {
  const template = { ...byKind(manifests, 'Deployment').spec.template, spec: { ...apiPod(manifests), restartPolicy: 'Never' } };
  return kind === 'Job'
    ? { apiVersion: 'batch/v1', kind, metadata: { name: 'job' }, spec: { template, ...spec } }
    : { apiVersion: 'batch/v1', kind, metadata: { name: 'cron' }, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template, ttlSecondsAfterFinished: 60 } }, ...spec } };
}

const NAMESPACE: Manifest = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } };
const DEFAULT_DENY: Manifest = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
};
/** A Role with `verbs` on the Secret `db-credentials`. */
const roleWith = (verbs: string[]): Manifest => ({
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'reader' },
  rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['db-credentials'], verbs }],
});

test('a ScaledApi with defaults has no violation', async () => {
  expect(await findViolations(apiManifests())).toEqual([]);
});

test.each<[string, (m: Manifest[]) => Manifest[] | void, string]>([
  ['a schema error', m => { byKind(m, 'Service').spec.ports[0].port = 'eighty'; }, 'Service/test-api: schema:'],
  ['an unknown kind', m => [...m, { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }], 'no schema known for example.com/v1/Widget'],
  ['runAsNonRoot missing', m => {
    delete apiContainer(m).securityContext.runAsNonRoot;
    delete byKind(m, 'Deployment').spec.template.spec.securityContext.runAsNonRoot;
  }, 'container api: runAsNonRoot is not true'],
  ['privilege escalation allowed', m => { apiContainer(m).securityContext.allowPrivilegeEscalation = true; }, 'allowPrivilegeEscalation is not false'],
  ['capabilities kept', m => { apiContainer(m).securityContext.capabilities = { add: ['NET_ADMIN'] }; }, 'capabilities do not drop ALL'],
  ['no seccomp profile', m => {
    delete apiContainer(m).securityContext.seccompProfile;
    delete byKind(m, 'Deployment').spec.template.spec.securityContext.seccompProfile;
  }, 'seccompProfile is not RuntimeDefault'],
  ['a writable root filesystem', m => { apiContainer(m).securityContext.readOnlyRootFilesystem = false; }, 'readOnlyRootFilesystem is not true'],
  ['no memory limit', m => { delete apiContainer(m).resources.limits.memory; }, 'container api: no memory limit'],
  ['no ephemeral-storage request', m => { delete apiContainer(m).resources.requests['ephemeral-storage']; }, 'container api: no ephemeral-storage request'],
  ['an emptyDir without a size limit', m => { delete byKind(m, 'Deployment').spec.template.spec.volumes[0].emptyDir.sizeLimit; }, 'emptyDir tmp has no sizeLimit'],
  ['an emptyDir the ephemeral-storage limits cannot hold', m => {
    byKind(m, 'Deployment').spec.template.spec.volumes[0].emptyDir.sizeLimit = '1Gi';
  }, 'Deployment/test-api: the containers\' ephemeral-storage limits (114Mi) do not exceed the emptyDirs\' size limits (1024Mi)'],
  ['an image on latest', m => { apiContainer(m).image = 'example/api:latest'; }, 'image example/api:latest is not pinned'],
  ['a probe on an undeclared port', m => { apiContainer(m).livenessProbe.httpGet.port = 9999; }, 'livenessProbe targets port 9999'],
  ['a duplicate env name', m => { apiContainer(m).env.push({ name: 'PORT', value: '1' }); }, 'duplicate env PORT'],
  ['a mounted service account token', m => { delete byKind(m, 'Deployment').spec.template.spec.automountServiceAccountToken; }, 'automountServiceAccountToken is not false'],
  ['a literal password in env', m => { apiContainer(m).env.push({ name: 'DB_PASSWORD', value: 'hunter22' }); }, 'env DB_PASSWORD has a literal value'],
  ['a literal password in a ConfigMap', m => [...m, {
    apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'conf' }, data: { 'redis.conf': 'port 6379\nrequirepass s3cr3tpass\n' },
  }], 'ConfigMap/conf: data redis.conf holds a literal credential'],
  ['a short default password in a ConfigMap', m => [...m, {
    apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'grafana' }, data: { 'grafana.ini': '[security]\nadmin_password = admin\n' },
  }], 'ConfigMap/grafana: data grafana.ini holds a literal credential'],
  ['a literal token in args', m => { apiContainer(m).args = ['--token=abcdef123456']; }, 'holds a literal credential'],
  ['a literal password in a shell command', m => { apiContainer(m).command = ['sh', '-c', 'exec server --password hunter22']; }, 'holds a literal credential'],
  ['a Secret with data', m => [...m, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { password: 'x' } }], 'Secret/s: carries secret data'],
  ['a Service selecting nothing', m => { byKind(m, 'Service').spec.selector = { app: 'ghost' }; }, 'Service/test-api: selects no pod template'],
  ['an HPA whose target fixes replicas', m => { byKind(m, 'Deployment').spec.replicas = 3; }, 'which fixes replicas'],
  ['an HPA with a missing target', m => { byKind(m, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'ghost'; }, 'targets Deployment/ghost, which is not in the chart'],
  ['a Deployment without a PDB', m => m.filter(x => x.kind !== 'PodDisruptionBudget'), 'Deployment/test-api: has no PodDisruptionBudget'],
  ['a Deployment without a NetworkPolicy', m => m.filter(x => x.kind !== 'NetworkPolicy'), 'Deployment/test-api: has no NetworkPolicy'],
  ['a Deployment without spread', m => {
    const spec = byKind(m, 'Deployment').spec.template.spec;
    delete spec.affinity;
    delete spec.topologySpreadConstraints;
  }, 'has neither pod anti-affinity nor topology spread constraints'],
  ['a Job without ttlSecondsAfterFinished', m => [...m, batchOf(m, 'Job', {})], 'Job/job: has no ttlSecondsAfterFinished'],
  ['a Job that no NetworkPolicy of its own selects', m => {
    const job = batchOf(m, 'Job', { ttlSecondsAfterFinished: 60 });
    job.spec.template.metadata = { labels: { 'app.kubernetes.io/component': 'cluster-create' } };
    return [...m, job];
  }, 'Job/job: has no NetworkPolicy'],
  ['a Deployment selected only by a default-deny', m => [...m.filter(x => x.kind !== 'NetworkPolicy'), DEFAULT_DENY], 'Deployment/test-api: has no NetworkPolicy'],
  ['a peer chosen by a pod label in every namespace', m => {
    byKind(m, 'NetworkPolicy').spec.ingress[0].from[0].namespaceSelector = {};
  }, 'NetworkPolicy/test-api: ingress peer {"namespaceSelector":{},"podSelector":{"matchLabels":{"app.kubernetes.io/name":"prometheus"}}} does not pin '
    + 'its namespace by kubernetes.io/metadata.name: any pod in a matching namespace can claim its labels'],
  ['a peer in namespaces chosen by a label their owners set', m => {
    byKind(m, 'NetworkPolicy').spec.ingress[0].from[0].namespaceSelector = { matchLabels: { team: 'monitoring' } };
  }, 'does not pin its namespace by kubernetes.io/metadata.name'],
  ['a Namespace without a default-deny policy', m => [NAMESPACE, ...m], 'Namespace/default: has no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)'],
  ['a Role that can get Secrets', m => [...m, roleWith(['get', 'create'])], 'Role/reader: can read Secrets (verbs get, create on db-credentials)'],
  ['a Role that can list Secrets', m => [...m, roleWith(['list'])], 'Role/reader: can read Secrets (verbs list on db-credentials)'],
  ['a CronJob without a starting deadline', m => [...m, batchOf(m, 'CronJob', {})], 'CronJob/cron: has no startingDeadlineSeconds'],
  ['a pod template of a CronJob that breaks a rule', m => {
    const cron = batchOf(m, 'CronJob', { startingDeadlineSeconds: 60 });
    cron.spec.jobTemplate.spec.template.spec = { ...cron.spec.jobTemplate.spec.template.spec, hostPID: true };
    return [...m, cron];
  }, 'CronJob/cron: uses host namespaces'],
  ['a privileged container', m => { apiContainer(m).securityContext.privileged = true; }, 'container api: privileged'],
  ['a container running as uid 0', m => { apiContainer(m).securityContext.runAsUser = 0; }, 'container api: runs as uid 0'],
  ['an added capability other than NET_BIND_SERVICE', m => {
    apiContainer(m).securityContext.capabilities = { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'SYS_ADMIN'] };
  }, 'container api: adds capabilities SYS_ADMIN'],
  ['the host network', m => { apiPod(m).hostNetwork = true; }, 'Deployment/test-api: uses host namespaces'],
  ['a hostPath volume', m => { apiPod(m).volumes = [{ name: 'host', hostPath: { path: '/var/run' } }]; }, 'mounts a hostPath volume'],
  ['a volume type the restricted profile forbids', m => { apiPod(m).volumes = [{ name: 'share', nfs: { server: 'nfs', path: '/' } }]; },
    'volume share: type nfs is not allowed by the restricted profile'],
  ['a gRPC probe on an undeclared port', m => { apiContainer(m).readinessProbe = { grpc: { port: 9000 } }; }, 'readinessProbe targets port 9000'],
  ['a literal key in env', m => { apiContainer(m).env.push({ name: 'SIGNING_KEY', value: 'abc' }); }, 'env SIGNING_KEY has a literal value'],
  ['a host port', m => { apiContainer(m).ports[0].hostPort = 8000; }, 'container api: binds host ports 8000'],
  ['no cpu request on an init container', m => {
    apiPod(m).initContainers = [{ ...apiContainer(m), name: 'init', resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { memory: '1Gi' } } }];
  }, 'container init: no cpu request'],
  ['an image without a tag', m => { apiContainer(m).image = 'registry.example.com:5000/api'; }, 'image registry.example.com:5000/api is not pinned'],
  ['a mount of an undefined volume', m => { apiContainer(m).volumeMounts = [{ name: 'ghost', mountPath: '/x' }]; }, 'mounts volume ghost, which the pod does not define'],
  ['a PodDisruptionBudget selecting nothing', m => { byKind(m, 'PodDisruptionBudget').spec.selector = { matchLabels: { app: 'ghost' } }; },
    'PodDisruptionBudget/test-api: selects no pod template'],
  ['a NetworkPolicy selecting nothing', m => {
    byKind(m, 'NetworkPolicy').spec.podSelector = { matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'NotIn', values: ['api'] }] };
  }, 'NetworkPolicy/test-api: selects no pod template'],
  ['a PDB keeping as many pods as the HPA minimum', m => { byKind(m, 'PodDisruptionBudget').spec.minAvailable = 3; },
    'PodDisruptionBudget/test-api: allows no voluntary disruption at the minimum scale, so it blocks every node drain (annotate hscale.io/blocks-drain with the reason if it must)'],
  ['a PDB with maxUnavailable 0 and no stated reason', m => {
    const pdb = byKind(m, 'PodDisruptionBudget');
    delete pdb.spec.minAvailable;
    pdb.spec.maxUnavailable = 0;
  }, 'PodDisruptionBudget/test-api: allows no voluntary disruption'],
  ['a selector in another namespace', m => { byKind(m, 'PodDisruptionBudget').metadata.namespace = 'other'; }, 'PodDisruptionBudget/test-api: selects no pod template'],
  ['an empty list, which the API server drops (a second apply changes the object)', m => { byKind(m, 'NetworkPolicy').spec.ingress = []; },
    'NetworkPolicy/test-api: spec.ingress is an empty list, which the API server drops: every apply changes the object again (leave it out)'],
  ['an empty matchLabels, which the API server drops', m => { byKind(m, 'NetworkPolicy').spec.egress[0].to[0].podSelector = { matchLabels: {} }; },
    'NetworkPolicy/test-api: spec.egress[0].to[0].podSelector.matchLabels is an empty map, which the API server drops'],
  ['a Service port with no container port behind it', m => { byKind(m, 'Service').spec.ports[0].targetPort = 'web'; },
    'Service/test-api: port http targets web, which no selected container declares'],
])('reports %s', async (_name, mutate, expected) => {
  const manifests = apiManifests();
  const mutated = mutate(manifests) ?? manifests;
  expect((await findViolations(mutated)).join('\n')).toContain(expected);
});

test('an env var that references a Secret or an earlier variable is not a literal', async () => {
  const manifests = apiManifests();
  apiContainer(manifests).env.push(
    { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
    { name: 'URL_WITH_TOKEN', value: 'postgres://u:$(DB_PASSWORD)@db/app' },
  );
  expect(await findViolations(manifests)).toEqual([]);
});

test('a Job and a CronJob with their deadlines and a restricted pod have no violation', async () => {
  const manifests = apiManifests();
  expect(await findViolations([...manifests, batchOf(manifests, 'Job', { ttlSecondsAfterFinished: 60 }), batchOf(manifests, 'CronJob', { startingDeadlineSeconds: 60 })]))
    .toEqual([]);
});

test('NET_BIND_SERVICE is the one capability a container may add', async () => {
  const manifests = apiManifests();
  apiContainer(manifests).securityContext.capabilities = { drop: ['ALL'], add: ['NET_BIND_SERVICE'] };
  expect(await findViolations(manifests)).toEqual([]);
});

test('an empty NetworkPolicy selector and matchExpressions select the pods they match', async () => {
  const manifests = apiManifests();
  byKind(manifests, 'NetworkPolicy').spec.podSelector = {};
  byKind(manifests, 'PodDisruptionBudget').spec.selector = {
    matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['api'] }, { key: 'app.kubernetes.io/instance', operator: 'Exists' }],
  };
  expect(await findViolations(manifests)).toEqual([]);
});

test('a Namespace with its default-deny, and a Role that only creates Secrets, have no violation', async () => {
  expect(await findViolations([NAMESPACE, DEFAULT_DENY, ...apiManifests(), roleWith(['create'])])).toEqual([]);
});

test('a queue\'s Redis that evicts is a violation of the ScaledObject reading it; noeviction is not', async () => {
  // GIVEN a pool scaled by KEDA on a Redis that evicts
  const evicting = chartWithBroker('volatile-lru');
  const safe = chartWithBroker('noeviction');
  // THEN
  expect((await findViolations(evicting)).filter(v => v.includes('maxmemory-policy'))).toEqual([
    'ScaledObject/test-jobs: reads a queue on StatefulSet/test-queue, whose maxmemory-policy is volatile-lru; a queue\'s Redis must be noeviction',
  ]);
  expect((await findViolations(safe)).filter(v => v.includes('maxmemory-policy'))).toEqual([]);
});

test('a custom resource is checked by the validator given for its kind', async () => {
  const widget = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: {} };
  const validators = { 'example.com/v1/Widget': (m: Manifest) => (m.spec.size ? [] : ['spec.size is required']) };
  expect(await findViolations([...apiManifests(), widget], { validators })).toEqual(['Widget/w: spec.size is required']);
  expect(await findViolations([...apiManifests(), { ...widget, spec: { size: 1 } }], { validators })).toEqual([]);
});

test('a violation allowed for a reason is dropped, and an allowance that matches nothing is reported', async () => {
  const manifests = apiManifests();
  apiContainer(manifests).securityContext.readOnlyRootFilesystem = false;
  const reason = 'the image writes its cache under /app';
  expect(await findViolations(manifests, { allow: [{ violation: 'container api: readOnlyRootFilesystem is not true', reason }] })).toEqual([]);
  expect(await findViolations(apiManifests(), { allow: [{ violation: /readOnlyRootFilesystem/, reason }] }))
    .toEqual([`allowance /readOnlyRootFilesystem/ (${reason}) matches no violation; remove it`]);
  expect(await findViolations(manifests, { allow: [{ violation: 'readOnlyRootFilesystem', reason: ' ' }] })).toEqual([
    'Deployment/test-api: container api: readOnlyRootFilesystem is not true',
    'allowance readOnlyRootFilesystem gives no reason',
  ]);
});

test('checkManifests throws one error that lists every violation', async () => {
  const manifests = apiManifests();
  apiContainer(manifests).securityContext.privileged = true;
  byKind(manifests, 'Deployment').spec.replicas = 3;
  await expect(checkManifests(manifests)).rejects.toThrow([
    '2 manifest violation(s):',
    '- Deployment/test-api: container api: privileged',
    '- HorizontalPodAutoscaler/test-api: targets Deployment/test-api, which fixes replicas',
  ].join('\n'));
  await expect(checkManifests(apiManifests())).resolves.toBeUndefined();
});

/** An API linked to a second ScaledApi on port 5432 standing in for a database: both sides of the link are in the chart. */
function linkedManifests(): Manifest[] {
  const chart = Testing.chart();
  const db = new ScaledApi(chart, 'db', { image: 'example/db:1.0.0', port: 5432 });
  const database: IDatabaseEndpoint = {
    primaryHost: db.serviceName, replicaHosts: [], port: 5432, clientEnv: [],
    clientLinks: [{ peer: { podSelector: db.podSelector }, ports: [5432] }],
    allowClient: client => db.allowClient(client), addConnectionPool: () => undefined,
  };
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', database });
  return Testing.synth(chart);
}
const policyOf = (m: Manifest[], name: string) => m.find(x => x.kind === 'NetworkPolicy' && x.metadata.name === name)!.spec;
// The rule of the link itself (not the metrics scraper's, which names a namespace).
const isDbRule = (rule: Manifest) => rule.ports?.[0]?.port === 5432 && !(rule.from ?? rule.to)[0].namespaceSelector;

test('a link with egress on one side and ingress on the other has no violation', async () => {
  expect(await findViolations(linkedManifests())).toEqual([]);
});

test.each<[string, (m: Manifest[]) => Manifest[] | void, string]>([
  ['egress to pods that do not admit it', m => {
    const db = policyOf(m, 'test-db');
    db.ingress = db.ingress.filter((rule: Manifest) => !isDbRule(rule));
  }, 'NetworkPolicy/test-api: egress to Deployment/test-db on port 5432, but no NetworkPolicy of it admits these pods'],
  ['ingress from pods whose egress does not allow it', m => {
    const api = policyOf(m, 'test-api');
    api.egress = api.egress.filter((rule: Manifest) => !isDbRule(rule));
  }, 'NetworkPolicy/test-db: admits Deployment/test-api on port 5432, but its NetworkPolicies do not allow that egress'],
  ['egress on a port the peer does not listen on', m => { policyOf(m, 'test-api').egress.find(isDbRule).ports[0].port = 5433; },
    'NetworkPolicy/test-api: egress on port 5433, which Deployment/test-db does not declare'],
  ['ingress on a port the pods do not listen on', m => { policyOf(m, 'test-db').ingress.find(isDbRule).ports[0].port = 5433; },
    'NetworkPolicy/test-db: ingress on port 5433, which Deployment/test-db does not declare'],
])('reports a broken link: %s', async (_name, mutate, expected) => {
  const manifests = linkedManifests();
  expect((await findViolations(mutate(manifests) ?? manifests)).join('\n')).toContain(expected);
});

test('a rule open to every pod of the namespace is not a link, and is not judged', async () => {
  const manifests = linkedManifests();
  policyOf(manifests, 'test-db').ingress.push({ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 5432 }] });
  expect(await findViolations(manifests)).toEqual([]);
});

const podMonitor = (port: string, matchLabels: Record<string, string> = { 'app.kubernetes.io/instance': 'test-api' }) => ({
  apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { name: 'pm' },
  spec: { selector: { matchLabels }, podMetricsEndpoints: [{ port, path: '/metrics' }] },
});
const serviceMonitor = (port: string) => ({
  apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'sm' },
  spec: { selector: { matchLabels: { 'app.kubernetes.io/instance': 'test-api' } }, endpoints: [{ port }] },
});

test('a monitor that scrapes a port its pods or Services name has no violation', async () => {
  expect(await findViolations([...apiManifests(), podMonitor('http'), serviceMonitor('http')])).toEqual([]);
});

test.each<[string, Manifest, string]>([
  ['a PodMonitor on a port the pods do not name', podMonitor('metrics'), 'PodMonitor/pm: scrapes port metrics, which no selected container names'],
  ['a PodMonitor selecting no pods', podMonitor('http', { 'app.kubernetes.io/instance': 'ghost' }), 'PodMonitor/pm: selects no pod template in the chart'],
  ['a ServiceMonitor on a port the Service does not name', serviceMonitor('metrics'), 'ServiceMonitor/sm: scrapes port metrics, which no selected Service names'],
])('reports %s', async (_name, monitor, expected) => {
  expect(await findViolations([...apiManifests(), monitor])).toContain(expected);
});

test('a PodMonitor of operator-run pods is not judged against the pod templates', async () => {
  const cluster = { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'db' }, spec: {} };
  const validators = { 'postgresql.cnpg.io/v1/Cluster': () => [] };
  expect(await findViolations([...apiManifests(), cluster, podMonitor('metrics', { 'cnpg.io/cluster': 'db' })], { validators })).toEqual([]);
});

test('an object without a namespace is taken to be in default', async () => {
  const manifests = apiManifests();
  byKind(manifests, 'PodDisruptionBudget').metadata.namespace = 'default';
  expect(await findViolations(manifests)).toEqual([]);
});

test('config that names a credential by reference, or only mentions one, is not a literal', async () => {
  const conf = [
    'password_encryption = scram-sha-256', 'host all all 0.0.0.0/0 scram-sha-256', 'requirepass ${REDIS_PASSWORD}',
    'admin_password = $__file{/etc/grafana/admin/password}', 'auth_file /etc/secret/password', '# password: set from the Secret',
    ': "${REDIS_PASSWORD:?REDIS_PASSWORD must be set from the Secret}"', 'echo "requirepass \\"$REDIS_PASSWORD\\""',
  ].join('\n');
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'conf' }, data: { conf } };
  expect(await findViolations([...apiManifests(), configMap])).toEqual([]);
});

test('a pod pulling from a named private registry without imagePullSecrets is a violation; its own or its ServiceAccount\'s Secret clears it', async () => {
  // GIVEN
  const chart = Testing.chart();
  new ScaledApi(chart, 'api', { image: 'registry.example.com/team/api:1.0.0' });
  new ScaledApi(chart, 'ok', { image: 'registry.example.com/team/api:1.0.0', pod: { imagePullSecrets: ['registry-credentials'] } });
  const manifests = Testing.synth(chart);
  // WHEN / THEN
  const message = 'Deployment/test-api: container api: image registry.example.com/team/api:1.0.0 comes from the private registry registry.example.com, '
    + 'and the pod has no imagePullSecrets (pod option \'imagePullSecrets\')';
  expect(await findViolations(manifests, { privateRegistries: ['registry.example.com'] })).toEqual([message]);
  expect(await findViolations(manifests, { privateRegistries: ['registry.example.com/team'] })).toEqual([message.replace('registry registry.example.com,', 'registry registry.example.com/team,')]);
  expect(await findViolations(manifests, { privateRegistries: ['registry.example.com/other', 'ghcr.io'] })).toEqual([]);
  const account = manifests.find(m => m.kind === 'ServiceAccount' && m.metadata.name === 'test-api')!;
  const withAccountSecret = manifests.map(m => (m === account ? { ...m, imagePullSecrets: [{ name: 'registry-credentials' }] } : m));
  expect(await findViolations(withAccountSecret, { privateRegistries: ['registry.example.com'] })).toEqual([]);
});

test('imageRegistry reads the registry host of an image reference, Docker Hub for a bare name', () => {
  expect(['redis:7.2.5', 'grafana/grafana:11.1.3', 'quay.io/prometheus/prometheus:v2.53.1', 'localhost:5000/api:1', 'localhost/api:1']
    .map(imageRegistry)).toEqual(['docker.io', 'docker.io', 'quay.io', 'localhost:5000', 'localhost']);
});
