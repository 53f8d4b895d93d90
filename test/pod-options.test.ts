/* eslint-disable @typescript-eslint/no-explicit-any */
import { ApiObject, Chart, JsonPatch, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { GeneratedSecrets, HorizontalScalingTopology, LoadBalancer, Observability, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import {
  applyPodOptions, combineAffinity, mergePodOptions, PodOptions, podTemplateWithOptions, resolvePodOptions,
} from '../lib/core/pod-options';
import { crdValidators } from './support/crd-validators';
import { checkManifests, Manifest, podTemplate } from './support/manifest-checks';

/** Every option, each with a value no construct sets itself. */
const FULL: PodOptions = {
  nodeSelector: { 'example.com/pool': 'dedicated' },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-west-1a', 'eu-west-1b'] }] }],
      },
    },
  },
  priorityClassName: 'business-critical',
  imagePullSecrets: ['registry-credentials'],
  annotations: { 'example.com/cost-center': 'cc-42' },
  labels: { 'example.com/team': 'platform' },
  serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/hscale' },
};

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job', 'CronJob']);
const OPTION_FIELDS = ['nodeSelector', 'tolerations', 'affinity', 'priorityClassName', 'imagePullSecrets', 'serviceAccountName'];

type Build = (chart: Chart, options: (prop: string) => PodOptions | undefined) => void;

/** The chart built without options and with `given` (prop -> options). */
function synthBoth(build: Build, given: Record<string, PodOptions>): { before: Manifest[]; after: Manifest[] } {
  const synthOf = (options: (prop: string) => PodOptions | undefined) => {
    // A namespace, which Observability's standalone mode needs.
    const chart = new Chart(Testing.app(), 'test', { namespace: 'ns' });
    build(chart, options);
    return Testing.synth(chart);
  };
  return { before: synthOf(() => undefined), after: synthOf(prop => given[prop]) };
}

const find = (manifests: Manifest[], kind: string, name: string | RegExp) => {
  const found = manifests.find(m => m.kind === kind && (name instanceof RegExp ? name.test(m.metadata?.name) : m.metadata?.name === name));
  if (!found) throw new Error(`no ${kind}/${name} in ${manifests.map(m => `${m.kind}/${m.metadata?.name}`).join(', ')}`);
  return found;
};

/** Checks that every option reached the pod template of `kind/name`, that its ServiceAccount carries the annotations, and that nothing else changed. */
function expectOptionsOn(before: Manifest[], after: Manifest[], kind: string, name: string | RegExp, options: PodOptions = FULL): void {
  const was = podTemplate(find(before, kind, name));
  const is = podTemplate(find(after, kind, name));
  expect(is.metadata.labels).toEqual({ ...was.metadata.labels, ...options.labels });
  expect(is.metadata.annotations).toEqual({ ...was.metadata.annotations, ...options.annotations });
  expect(is.spec.nodeSelector).toEqual(options.nodeSelector);
  expect(is.spec.tolerations).toEqual(options.tolerations);
  expect(is.spec.priorityClassName).toBe(options.priorityClassName);
  expect(is.spec.imagePullSecrets).toEqual(options.imagePullSecrets!.map(n => ({ name: n })));
  // The construct's own anti-affinity stays, beside the node affinity asked for.
  expect(is.spec.affinity).toEqual({ ...was.spec.affinity, ...options.affinity });
  const unchanged = (spec: Manifest) => Object.fromEntries(Object.entries(spec).filter(([k]) => !OPTION_FIELDS.includes(k)));
  expect(unchanged(is.spec)).toEqual(unchanged(was.spec));
  expect(is.spec.automountServiceAccountToken).toBe(was.spec.automountServiceAccountToken);
  const account = find(after, 'ServiceAccount', is.spec.serviceAccountName);
  expect(account.metadata.annotations).toMatchObject(options.serviceAccountAnnotations!);
  if (!was.spec.serviceAccountName) expect(account.automountServiceAccountToken).toBe(false);
}

const api = (chart: Construct, pod?: PodOptions, id = 'backend') => new ScaledApi(chart, id, { image: 'example/api:1.0.0', ...(pod ? { pod } : {}) });
const broker = (chart: Construct) => new RedisCluster(chart, 'broker', { mode: 'standalone', maxmemoryPolicy: 'noeviction' });
const opt = (prop: string, options: (prop: string) => PodOptions | undefined) => (options(prop) ? { [prop]: options(prop) } : {});

/** [construct and pod kind, how it is built, the options given by prop, the pod templates (kind, name, options expected) that must carry them]. */
const CASES: Array<[string, Build, Record<string, PodOptions>, Array<[string, string | RegExp, PodOptions?]>]> = [
  ['ScaledApi: API pods', (chart, o) => api(chart, o('pod'), 'api'), { pod: FULL }, [['Deployment', 'test-api']]],
  ['LoadBalancer: nginx pods', (chart, o) => new LoadBalancer(chart, 'lb', { backend: api(chart), ...opt('pod', o) }),
    { pod: FULL }, [['Deployment', 'test-lb']]],
  ['WorkerPool: workers and the schedules\' CronJobs', (chart, o) => new WorkerPool(chart, 'jobs', {
    image: 'example/worker:1.0.0', queues: ['jobs'], broker: broker(chart), schedules: { nightly: { cron: '0 3 * * *', name: 'report' } }, ...opt('pod', o),
  }), { pod: FULL }, [['Deployment', 'test-jobs'], ['CronJob', 'test-jobs-nightly']]],
  ['RedisCluster cluster mode: Redis pods and the cluster-create Job', (chart, o) => new RedisCluster(chart, 'cache', { ...opt('pod', o) }),
    { pod: FULL }, [['StatefulSet', 'test-cache'], ['Job', /^test-cache-create-[0-9a-f]{10}$/]]],
  ['RedisCluster sentinel mode: Redis pods and Sentinels', (chart, o) => new RedisCluster(chart, 'cache', { mode: 'sentinel', ...opt('pod', o) }),
    { pod: FULL }, [['StatefulSet', 'test-cache'], ['StatefulSet', 'test-cache-sentinel']]],
  ['RedisCluster standalone mode: the Redis pod', (chart, o) => new RedisCluster(chart, 'cache', { mode: 'standalone', ...opt('pod', o) }),
    { pod: FULL }, [['StatefulSet', 'test-cache']]],
  ['PgReplicaSet patroni engine (the default): the members', (chart, o) => new PgReplicaSet(chart, 'db', { ...opt('pod', o) }),
    { pod: FULL }, [['StatefulSet', 'test-db']]],
  ['PgReplicaSet statefulset engine: primary and replicas', (chart, o) => new PgReplicaSet(chart, 'db', { engine: 'statefulset', ...opt('pod', o) }),
    { pod: FULL }, [['StatefulSet', 'test-db-primary'], ['StatefulSet', 'test-db-replica']]],
  ['Observability standalone: Prometheus and Grafana', (chart, o) => new Observability(chart, 'obs', { mode: 'standalone', targets: [api(chart)], ...opt('pod', o) }),
    { pod: FULL }, [['Deployment', 'test-obs-prometheus'], ['Deployment', 'test-obs-grafana']]],
  ['GeneratedSecrets: the Job', (chart, o) => new GeneratedSecrets(chart, 'secrets', { secrets: [{ name: 's', randomKeys: ['k'] }], ...opt('pod', o) }),
    { pod: FULL }, []],
];

test.each(CASES)('every pod option reaches every pod template and its ServiceAccount: %s', async (_name, build, given, templates) => {
  const { before, after } = synthBoth(build, given);
  for (const [kind, name, options] of templates) expectOptionsOn(before, after, kind, name, options);
  // The Job of GeneratedSecrets is renamed by what its pod template holds, so it is found by kind.
  for (const job of after.filter(m => m.kind === 'Job' && m.metadata.name.startsWith('test-secrets-'))) {
    const was = before.find(m => m.kind === 'Job')!;
    expectOptionsOn([{ ...was, metadata: job.metadata }], after, 'Job', job.metadata.name);
  }
  await checkManifests(after.filter(m => !(m.apiVersion as string).includes('monitoring.coreos.com')));
});

test('every workload of every construct in the table takes the options: none is left out', () => {
  const helpers = /^test-(backend|broker)$/;
  for (const [name, build, given] of CASES) {
    const workloads = synthBoth(build, given).after.filter(m => WORKLOAD_KINDS.has(m.kind) && !helpers.test(m.metadata.name));
    expect(workloads.length).toBeGreaterThan(0);
    const missed = workloads.filter(w => podTemplate(w).spec.priorityClassName !== FULL.priorityClassName);
    expect([name, missed.map(w => `${w.kind}/${w.metadata.name}`)]).toEqual([name, []]);
  }
});

const SENTINEL_ONLY: PodOptions = { priorityClassName: 'sentinels', tolerations: [{ key: 'sentinel', operator: 'Exists' }], serviceAccountAnnotations: { a: 'b' } };

test('a kind\'s own options are laid over `pod` for that kind only: sentinelPod, jobPod', () => {
  const chart = Testing.chart();
  new RedisCluster(chart, 'cache', { mode: 'sentinel', pod: FULL, sentinelPod: SENTINEL_ONLY });
  new RedisCluster(chart, 'shards', { jobPod: { nodeSelector: { 'example.com/pool': 'jobs' } } });
  const manifests = Testing.synth(chart);
  const sentinel = podTemplate(find(manifests, 'StatefulSet', 'test-cache-sentinel')).spec;
  const redis = podTemplate(find(manifests, 'StatefulSet', 'test-cache')).spec;
  expect(sentinel.priorityClassName).toBe('sentinels');
  expect(sentinel.tolerations).toEqual([...FULL.tolerations!, ...SENTINEL_ONLY.tolerations!]);
  expect(sentinel.nodeSelector).toEqual(FULL.nodeSelector);
  expect(find(manifests, 'ServiceAccount', sentinel.serviceAccountName).metadata.annotations).toEqual({ ...FULL.serviceAccountAnnotations, a: 'b' });
  expect(redis.priorityClassName).toBe('business-critical');
  expect(redis.serviceAccountName).toBe('test-cache');
  expect(podTemplate(find(manifests, 'Job', /^test-shards-create-[0-9a-f]{10}$/)).spec.nodeSelector).toEqual({ 'example.com/pool': 'jobs' });
  expect(podTemplate(find(manifests, 'StatefulSet', 'test-shards')).spec.nodeSelector).toBeUndefined();
  // No ServiceAccount is made where none is annotated.
  expect(manifests.filter(m => m.kind === 'ServiceAccount').map(m => m.metadata.name)).toEqual(['test-cache', 'test-cache-sentinel']);
});

test('Observability standalone: prometheusPod and grafanaPod are laid over `pod` for their server only', () => {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'mon' });
  new Observability(chart, 'obs', {
    mode: 'standalone', targets: [api(chart)], pod: { priorityClassName: 'monitoring' },
    prometheusPod: { nodeSelector: { pool: 'tsdb' }, serviceAccountAnnotations: { 'iam.gke.io/gcp-service-account': 'prom@p.iam.gserviceaccount.com' } },
    grafanaPod: { priorityClassName: 'dashboards' },
  });
  const manifests = Testing.synth(chart);
  const prometheus = podTemplate(find(manifests, 'Deployment', 'test-obs-prometheus')).spec;
  const grafana = podTemplate(find(manifests, 'Deployment', 'test-obs-grafana')).spec;
  expect([prometheus.priorityClassName, prometheus.nodeSelector]).toEqual(['monitoring', { pool: 'tsdb' }]);
  expect([grafana.priorityClassName, grafana.nodeSelector, grafana.serviceAccountName]).toEqual(['dashboards', undefined, undefined]);
  expect(find(manifests, 'ServiceAccount', 'test-obs-prometheus').metadata.annotations).toEqual({ 'iam.gke.io/gcp-service-account': 'prom@p.iam.gserviceaccount.com' });
});

test('WorkerPool jobPod applies to the CronJobs, and its ServiceAccount annotations give them a ServiceAccount of their own', () => {
  const chart = Testing.chart();
  const pool = new WorkerPool(chart, 'jobs', {
    image: 'example/worker:1.0.0', queues: ['jobs'], broker: broker(chart), schedules: { nightly: { cron: '0 3 * * *', name: 'report' } },
    pod: { priorityClassName: 'workers', serviceAccountAnnotations: { role: 'workers' } },
    jobPod: { priorityClassName: 'batch', serviceAccountAnnotations: { role: 'schedules' } },
  });
  const manifests = Testing.synth(chart);
  const cron = podTemplate(find(manifests, 'CronJob', 'test-jobs-nightly')).spec;
  expect(cron.priorityClassName).toBe('batch');
  expect(cron.serviceAccountName).toBe('test-jobs-schedule');
  expect(pool.scheduleServiceAccount?.name).toBe('test-jobs-schedule');
  expect(find(manifests, 'ServiceAccount', 'test-jobs-schedule')).toMatchObject({ automountServiceAccountToken: false, metadata: { annotations: { role: 'schedules' } } });
  const workers = podTemplate(find(manifests, 'Deployment', 'test-jobs')).spec;
  expect([workers.priorityClassName, workers.serviceAccountName]).toEqual(['workers', 'test-jobs']);
  expect(find(manifests, 'ServiceAccount', 'test-jobs').metadata.annotations).toEqual({ role: 'workers' });
});

test('PgReplicaSet cloudnative-pg: the Cluster carries every option in its own fields, and the Poolers\' pod template takes poolerPod', async () => {
  const chart = Testing.chart();
  new PgReplicaSet(chart, 'db', { engine: 'cloudnative-pg', pooler: true, pod: FULL, poolerPod: { priorityClassName: 'poolers' } });
  const manifests = Testing.synth(chart);
  const cluster = find(manifests, 'Cluster', 'test-db').spec;
  expect(cluster.affinity).toEqual({
    enablePodAntiAffinity: true, podAntiAffinityType: 'required', topologyKey: 'kubernetes.io/hostname',
    nodeSelector: FULL.nodeSelector, tolerations: FULL.tolerations, nodeAffinity: FULL.affinity!.nodeAffinity,
  });
  expect(cluster.priorityClassName).toBe('business-critical');
  expect(cluster.imagePullSecrets).toEqual([{ name: 'registry-credentials' }]);
  expect(cluster.inheritedMetadata).toEqual({ labels: FULL.labels, annotations: FULL.annotations });
  expect(cluster.serviceAccountTemplate).toEqual({ metadata: { annotations: FULL.serviceAccountAnnotations } });
  for (const type of ['rw', 'ro']) {
    const template = find(manifests, 'Pooler', `test-db-pooler-${type}`).spec.template;
    expect(template.metadata).toEqual({ labels: FULL.labels, annotations: FULL.annotations });
    expect(template.spec).toEqual({
      containers: [expect.objectContaining({ name: 'pgbouncer' })], nodeSelector: FULL.nodeSelector, tolerations: FULL.tolerations, affinity: FULL.affinity,
      priorityClassName: 'poolers', imagePullSecrets: [{ name: 'registry-credentials' }],
    });
  }
  await checkManifests(manifests, { validators: crdValidators() });
});

test('HorizontalScalingTopology passes `pod` to every tier, and a tier\'s own `pod` is laid over it', () => {
  const chart = Testing.chart();
  const app = new HorizontalScalingTopology(chart, 'app', {
    image: 'example/api:1.0.0',
    pod: { imagePullSecrets: ['registry-credentials'], priorityClassName: 'default-tier' },
    database: { pod: { priorityClassName: 'database', nodeSelector: { pool: 'db' } } },
    workers: { jobs: { image: 'example/worker:1.0.0', queues: ['jobs'], schedules: { nightly: { cron: '@daily', name: 'report' } } } },
  });
  const manifests = Testing.synth(chart);
  const workloads = manifests.filter(m => WORKLOAD_KINDS.has(m.kind));
  expect(workloads.length).toBeGreaterThanOrEqual(7);
  for (const w of workloads) {
    const spec = podTemplate(w).spec;
    expect([w.metadata.name, spec.imagePullSecrets]).toEqual([w.metadata.name, [{ name: 'registry-credentials' }]]);
    const database = w.metadata.name.startsWith('test-app-db');
    expect([w.metadata.name, spec.priorityClassName]).toEqual([w.metadata.name, database ? 'database' : 'default-tier']);
    expect(spec.nodeSelector).toEqual(database ? { pool: 'db' } : undefined);
  }
  expect(app.secrets?.job).toBeDefined();
});

test('HorizontalScalingTopology passes no `pod` to tiers that run no pods of ours (Gateway, prometheus-operator)', () => {
  const chart = Testing.chart();
  expect(() => new HorizontalScalingTopology(chart, 'app', {
    image: 'example/api:1.0.0', pod: { priorityClassName: 'p' }, loadBalancer: { mode: 'gateway', gateway: { name: 'gw' } }, observability: false,
  })).not.toThrow();
  expect(() => new HorizontalScalingTopology(chart, 'app2', { image: 'example/api:1.0.0', pod: { priorityClassName: 'p' } })).not.toThrow();
});

test('the GeneratedSecrets Job takes a new name when its pod options change, as its pod template is immutable', () => {
  const jobName = (pod?: PodOptions) => {
    const chart = Testing.chart();
    return new GeneratedSecrets(chart, 'secrets', { secrets: [{ name: 's', randomKeys: ['k'] }], ...(pod ? { pod } : {}) }).job.name;
  };
  expect(new Set([jobName(), jobName({}), jobName({ priorityClassName: 'a' }), jobName({ priorityClassName: 'b' })]).size).toBe(3);
});

test('options merge: maps by key (later wins), lists add up without duplicates, the later priority wins, affinities combine', () => {
  const merged = mergePodOptions(
    { nodeSelector: { a: '1', b: '1' }, tolerations: [{ key: 'x', operator: 'Exists' }], priorityClassName: 'low', imagePullSecrets: ['r'] },
    undefined,
    { nodeSelector: { b: '2' }, tolerations: [{ key: 'x', operator: 'Exists' }, { key: 'y', operator: 'Exists' }], imagePullSecrets: ['r', 's'] },
    { priorityClassName: 'high' },
  );
  expect(merged).toEqual({
    nodeSelector: { a: '1', b: '2' }, tolerations: [{ key: 'x', operator: 'Exists' }, { key: 'y', operator: 'Exists' }],
    priorityClassName: 'high', imagePullSecrets: ['r', 's'],
  });
  expect(mergePodOptions(undefined, undefined)).toEqual({});
});

test('affinities combine: required node terms pair up (both must hold), pod terms of both apply', () => {
  const term = (key: string) => ({ matchExpressions: [{ key, operator: 'Exists' }] });
  const anti = (app: string) => ({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app } } });
  const combined = combineAffinity(
    { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term('a'), term('b')] } }, podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [anti('ours')] } },
    { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term('c')] } }, podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [anti('theirs')] } },
  );
  expect(combined).toEqual({
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [
      { matchExpressions: [...term('a').matchExpressions, ...term('c').matchExpressions] },
      { matchExpressions: [...term('b').matchExpressions, ...term('c').matchExpressions] },
    ] } },
    podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [anti('ours'), anti('theirs')] },
  });
});

test('tolerations are added to the template\'s own, never instead of them', () => {
  const own = { key: 'ours', operator: 'Exists', effect: 'NoSchedule' };
  const template = podTemplateWithOptions({ metadata: {}, spec: { tolerations: [own] } }, { tolerations: [{ key: 'theirs', operator: 'Exists' }] });
  expect(template.spec!.tolerations).toEqual([own, { key: 'theirs', operator: 'Exists' }]);
});

test('empty options leave the template as it is', () => {
  const template = { metadata: { labels: { a: 'b' } }, spec: { containers: [] } };
  expect(podTemplateWithOptions(template, {})).toBe(template);
  expect(podTemplateWithOptions(template, { labels: {}, tolerations: [] })).toBe(template);
});

const refuse = (options: any, prop = 'pod') => () => resolvePodOptions(new Construct(Testing.chart(), 'api'), prop, options);

test('throws error, when a pod label would change a selector', () => {
  expect(refuse({ labels: { 'app.kubernetes.io/component': 'x' } })).toThrow(
    'test/api: \'pod.labels\' ("app.kubernetes.io/component") would change the labels the Services, PodDisruptionBudgets and NetworkPolicies select these pods by: '
    + 'keys under \'app.kubernetes.io/\', \'cnpg.io/\', \'hscale.io/\' are the library\'s; use a prefix of your own, e.g. \'example.com/team\'');
  expect(refuse({ labels: { 'cnpg.io/cluster': 'other' } }, 'poolerPod')).toThrow(/^test\/api: 'poolerPod.labels' \("cnpg.io\/cluster"\) would change the labels/);
});

test('throws error, when a pod label collides with a label the pod template already sets', () => {
  const chart = Testing.chart();
  const deployment = new k8s.KubeDeployment(chart, 'd', {
    spec: { selector: { matchLabels: { role: 'leader' } }, template: { metadata: { labels: { role: 'leader' } }, spec: { containers: [{ name: 'c' }] } } },
  });
  expect(() => applyPodOptions(chart, 'pod', deployment, { labels: { role: 'follower' } }))
    .toThrow('test: \'pod.labels\' ("role") would change the label \'role\' ("leader") that selects these pods');
  // A label set while the pods run (Patroni's role) is not in the template: the construct names it.
  const members = new k8s.KubeStatefulSet(chart, 's', {
    spec: { serviceName: 's', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c' }] } } },
  });
  expect(() => applyPodOptions(chart, 'pod', members, { labels: { role: 'primary' } }, { runtimeSelectorLabels: ['role'] }))
    .toThrow('test: \'pod.labels\' ("role") would change the label \'role\' that selects these pods, which is set while they run');
});

test('throws error, when an annotation turns a Pod Security control off', () => {
  expect(refuse({ annotations: { 'container.apparmor.security.beta.kubernetes.io/api': 'unconfined' } })).toThrow(
    'test/api: \'pod.annotations\' ("container.apparmor.security.beta.kubernetes.io/api: unconfined") would turn a Pod Security control off: '
    + 'the AppArmor profile must stay \'runtime/default\' or \'localhost/<profile>\' (the restricted Pod Security profile)');
  expect(refuse({ annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' } })).toThrow(
    'test/api: \'pod.annotations\' ("seccomp.security.alpha.kubernetes.io/pod: unconfined") would turn a Pod Security control off: '
    + 'the seccomp profile must stay \'runtime/default\' or \'localhost/<profile>\' (the restricted Pod Security profile)');
  expect(refuse({ annotations: { 'pod-security.kubernetes.io/enforce': 'privileged' } })).toThrow(
    'test/api: \'pod.annotations\' ("pod-security.kubernetes.io/enforce: privileged") would turn a Pod Security control off: '
    + 'Pod Security levels are namespace labels, not pod annotations: the pods keep the restricted profile');
  expect(refuse({ annotations: { 'hscale.io/needs-service-account-token': 'because' } })).toThrow(
    'test/api: \'pod.annotations\' ("hscale.io/needs-service-account-token") is the library\'s own: keys under \'hscale.io/\' record what the library needs (and its checks read)');
  expect(refuse({ annotations: { 'container.apparmor.security.beta.kubernetes.io/api': 'localhost/k8s-api', 'sidecar.istio.io/inject': 'false' } })).not.toThrow();
});

test('throws error, when a field is malformed: toleration, priority class, pull Secret, label value', () => {
  expect(refuse({ tolerations: [{ key: 'a', operator: 'Exists', value: 'b' }] })).toThrow('test/api: \'pod.tolerations[0].value\' ("b") must be empty with operator \'Exists\'');
  expect(refuse({ tolerations: [{ key: 'a', operator: 'In' }] })).toThrow('test/api: \'pod.tolerations[0].operator\' ("In") must be one of \'Equal\', \'Exists\'');
  expect(refuse({ tolerations: [{ key: 'a', effect: 'NoRun' }] })).toThrow(/^test\/api: 'pod.tolerations\[0\].effect' \("NoRun"\) must be one of 'NoSchedule', 'PreferNoSchedule', 'NoExecute'/);
  expect(refuse({ tolerations: [{ key: 'a', effect: 'NoSchedule', tolerationSeconds: 30 }] })).toThrow('test/api: \'pod.tolerations[0].tolerationSeconds\' (30) only applies with effect \'NoExecute\'');
  expect(refuse({ priorityClassName: 'High' })).toThrow(/^test\/api: 'pod.priorityClassName' \("High"\) must be a DNS-1123 subdomain/);
  expect(refuse({ imagePullSecrets: ['ok', 'Not_OK'] })).toThrow(/^test\/api: 'pod.imagePullSecrets\[1\]' \("Not_OK"\) must be a DNS-1123 subdomain/);
  expect(refuse({ nodeSelector: { pool: 'a b' } })).toThrow(/^test\/api: 'pod.nodeSelector.pool' \("a b"\) is not a valid label value/);
  expect(refuse([])).toThrow('test/api: \'pod\' ("[]") must be an object of pod options');
});

test('throws error, when a kind\'s options are given where that kind is not made', () => {
  const chart = Testing.chart();
  expect(() => new RedisCluster(chart, 'a', { sentinelPod: {} })).toThrow('test/a: \'sentinelPod\' ({}) does not apply to mode \'cluster\': it is a prop of mode \'sentinel\' (\'cluster\' shards');
  expect(() => new RedisCluster(chart, 'b', { mode: 'sentinel', jobPod: {} })).toThrow('test/b: \'jobPod\' ({}) does not apply to mode \'sentinel\': it is a prop of mode \'cluster\' (');
  expect(() => new PgReplicaSet(chart, 'c', { poolerPod: {} })).toThrow('test/c: \'poolerPod\' ({}) does not apply to engine \'patroni\': it is a prop of engine \'cloudnative-pg\' (');
  expect(() => new PgReplicaSet(chart, 'g', { engine: 'cloudnative-pg', poolerPod: {} })).toThrow('test/g: \'poolerPod\' ("{}") needs \'pooler\' (engine \'cloudnative-pg\'), which makes the PgBouncer pods');
  expect(() => new PgReplicaSet(chart, 'd', { engine: 'cloudnative-pg', pooler: true, poolerPod: { serviceAccountAnnotations: { a: 'b' } } })).toThrow(
    'test/d: \'poolerPod.serviceAccountAnnotations\' ("a") cannot be set: the CloudNativePG operator makes and manages the PgBouncer pods\' ServiceAccount');
  expect(() => new Observability(chart, 'e', { targets: [api(chart)], pod: {} })).toThrow(
    'test/e: \'pod\' ({}) does not apply to mode \'operator\': it is a prop of mode \'standalone\' (\'operator\' emits prometheus-operator objects; \'standalone\' runs Prometheus and Grafana itself)');
  expect(() => new LoadBalancer(chart, 'f', { backend: api(new Chart(chart, 'x')), mode: 'gateway', gateway: { name: 'gw' }, pod: {} })).toThrow(
    'test/f: \'pod\' ({}) does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier; ');
});

test('the cdk8s escape hatch reaches what no option covers (docs/your-cluster.md)', () => {
  // GIVEN
  const chart = Testing.chart();
  const created = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', pod: { priorityClassName: 'high' } });
  // WHEN: the example of docs/your-cluster.md
  ApiObject.of(created.deployment).addJsonPatch(
    JsonPatch.add('/spec/template/spec/hostAliases', [{ ip: '10.0.0.10', hostnames: ['legacy.internal'] }]),
    JsonPatch.add('/spec/template/spec/dnsConfig', { options: [{ name: 'ndots', value: '2' }] }),
  );
  // THEN: both the option and the patches are in the YAML
  const spec = podTemplate(find(Testing.synth(chart), 'Deployment', 'test-api')).spec;
  expect(spec.hostAliases).toEqual([{ ip: '10.0.0.10', hostnames: ['legacy.internal'] }]);
  expect(spec.dnsConfig).toEqual({ options: [{ name: 'ndots', value: '2' }] });
  expect(spec.priorityClassName).toBe('high');
});

test('a quantity patched on a k8s.Kube* object must be a k8s.Quantity: a plain string is dropped (docs/your-cluster.md)', () => {
  const limitsAfter = (value: unknown) => {
    const chart = Testing.chart();
    const created = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
    ApiObject.of(created.deployment).addJsonPatch(JsonPatch.replace('/spec/template/spec/containers/0/resources/limits/memory', value));
    return podTemplate(find(Testing.synth(chart), 'Deployment', 'test-api')).spec.containers[0].resources.limits;
  };
  expect(limitsAfter(k8s.Quantity.fromString('2Gi'))).toEqual({ 'cpu': '1', 'memory': '2Gi', 'ephemeral-storage': '114Mi' });
  expect(limitsAfter('2Gi')).toEqual({ 'cpu': '1', 'ephemeral-storage': '114Mi' });
});

test('applyPodOptions takes effect on a cdk8s-plus workload through ApiObject.of', () => {
  // GIVEN
  const chart = Testing.chart();
  const deployment = new kplus.Deployment(chart, 'web', { containers: [{ image: 'registry.example.com/web:1.0.0', portNumber: 8080 }] });
  // WHEN
  applyPodOptions(chart, 'pod', ApiObject.of(deployment), FULL);
  // THEN
  const template = podTemplate(Testing.synth(chart).find(m => m.kind === 'Deployment')!);
  expect(template.metadata.labels).toMatchObject({ 'cdk8s.io/metadata.addr': expect.any(String), ...FULL.labels });
  expect(template.metadata.annotations).toEqual(FULL.annotations);
  expect(template.spec).toMatchObject({
    nodeSelector: FULL.nodeSelector, tolerations: FULL.tolerations, affinity: FULL.affinity, priorityClassName: FULL.priorityClassName,
    imagePullSecrets: [{ name: 'registry-credentials' }], automountServiceAccountToken: false,
  });
  expect(template.spec.containers[0].resources.limits).toBeDefined();
});

test('applyPodOptions takes effect on a k8s.Kube* workload the user made', () => {
  const chart = Testing.chart();
  const job = new k8s.KubeJob(chart, 'job', { spec: { template: { metadata: { labels: { app: 'x' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x:1' }] } } } });
  applyPodOptions(chart, 'pod', ApiObject.of(job), { priorityClassName: 'batch', labels: { team: 'a' } });
  const template = Testing.synth(chart)[0].spec.template;
  expect(template.metadata.labels).toEqual({ app: 'x', team: 'a' });
  expect(template.spec.priorityClassName).toBe('batch');
});
