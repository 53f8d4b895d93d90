/**
 * Every chart in dist/ applied to a real Kubernetes control plane (etcd, kube-apiserver with the
 * default admission plugins, controller-manager, scheduler; kwok's 6 fake nodes over 3 zones),
 * following the Apply steps of docs/apply.md; and so are the charts of a user's project (the
 * package-install fixture, importing `hscale` by name), synthesized as `cdk8s synth` writes them
 * and applied following the steps `renderApplySteps` gives its user. One control plane for the
 * whole file, stopped in afterAll (so on a failure too). The charts go side by side, each in its
 * own namespace, each chart's tests in order (support/step-sequence.ts): a drain cordons a node,
 * so drains wait until no chart is placing pods or checking their spread, and the reverse.
 *
 * The binaries come from `bash tools/control-plane/build.sh` (.ci/run runs it before `npm test`).
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart, Testing } from 'cdk8s';
import { externalRequirements, KubeObject, renderApplySteps } from '../lib/cluster/requirements';
import { GENERATED_SECRETS_ANNOTATION } from '../lib/core/endpoints';
import { PodOptions } from '../lib/core/pod-options';
import { PgReplicaSet } from '../lib/postgres/pg-replica-set';
import { ControlPlane, DEFAULT_BIN_DIR, missingBinaries, REPO_ROOT, startControlPlane } from '../scripts/control-plane/index';
import { readManifests } from '../scripts/requirements';
import { buildCharts } from './fixtures/consumer/chart';
import {
  applyPageCommands, applyStepCommands, designedDisruptionsAllowed, getItems, impersonatingKubectl, keeps, runApplyLine,
} from './support/control-plane';
import { waitFor } from './support/processes';
import { ModeLock, StepSequence } from './support/step-sequence';

jest.setTimeout(180_000);

const CHARTS = ['hscale.k8s.yaml', 'bet-intel.k8s.yaml', 'cms.k8s.yaml', 'fastnext.k8s.yaml', 'tutormax.k8s.yaml'];
const APPLY_PAGE = readFileSync(join(REPO_ROOT, 'docs', 'apply.md'), 'utf8');
const WORKLOADS = new Set(['Deployment', 'StatefulSet']);

/** A synthesized chart file, the directory its Apply steps' `dist/` paths are relative to, and those steps. */
interface ChartUnderTest {
  readonly file: string;
  readonly root: string;
  readonly steps: () => string[];
}

const DIST_CHARTS: ChartUnderTest[] = CHARTS.map(file => ({ file, root: REPO_ROOT, steps: () => applyPageCommands(APPLY_PAGE, file) }));

/** The user's project: its charts synthesized into <root>/dist/, and their Apply steps rendered as its user would. */
function userCharts(): ChartUnderTest[] {
  const root = mkdtempSync(join(tmpdir(), 'hscale-user-chart-'));
  const app = new App({ outdir: join(root, 'dist') });
  const charts = buildCharts(app);
  app.synth();
  return charts.map(chart => {
    const file = `${chart.node.id}.k8s.yaml`;
    return { file, root, steps: () => applyStepCommands(renderApplySteps(`dist/${file}`, externalRequirements(readManifests(join(root, 'dist', file)))), file) };
  });
}
const USER_CHARTS = userCharts();

let plane: ControlPlane | undefined;
let workDir: string;
/** A chart's pods being placed and their spread checked, or a node drained (cordoned): never both at once. */
const NODES = new ModeLock<'placing' | 'draining'>();
const CHART_RUNS: Array<StepSequence<'placing' | 'draining'>> = [];

beforeAll(async () => {
  const missing = missingBinaries();
  if (missing.length) throw new Error(`${missing.join(', ')} not built in ${DEFAULT_BIN_DIR}: run \`npm run control-plane:build\` (bash tools/control-plane/build.sh)`);
  workDir = mkdtempSync(join(tmpdir(), 'hscale-control-plane-'));
  plane = await startControlPlane({ dir: join(workDir, 'plane') });
}, 240_000);

beforeAll(() => {
  for (const run of CHART_RUNS) void run.start();
});

afterAll(async () => {
  await plane?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  rmSync(USER_CHARTS[0].root, { recursive: true, force: true });
});

const cp = () => {
  if (!plane) throw new Error('the control plane did not start');
  return plane;
};

test('the control plane has 6 Ready nodes over 3 zones, a default StorageClass and the operators\' CRDs', async () => {
  const nodes = await getItems(cp(), ['nodes']);
  expect(nodes).toHaveLength(6);
  expect(new Set(nodes.map(n => n.metadata.labels['topology.kubernetes.io/zone'])).size).toBe(3);
  const crds = (await getItems(cp(), ['crd'])).map(c => c.metadata.name);
  expect(crds).toEqual(expect.arrayContaining([
    'servicemonitors.monitoring.coreos.com', 'podmonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com',
    'scaledobjects.keda.sh', 'triggerauthentications.keda.sh', 'clusters.postgresql.cnpg.io', 'poolers.postgresql.cnpg.io',
    'scheduledbackups.postgresql.cnpg.io', 'httproutes.gateway.networking.k8s.io', 'gateways.gateway.networking.k8s.io',
  ]));
  expect(await cp().kubectlOk(['get', 'storageclass'])).toContain('(default)');
});

describe.each([...DIST_CHARTS, ...USER_CHARTS])('$file on a real control plane', ({ file, root, steps }) => {
  const path = join(root, 'dist', file);
  const objects = readManifests(path);
  const namespace = objects.find(o => o.kind === 'Namespace')!.metadata.name as string;
  const workloads = objects.filter(o => WORKLOADS.has(o.kind));
  // A StatefulSet at 0 replicas (a PostgreSQL replica set with no replica yet) has no pod to roll out.
  const running = workloads.filter(w => w.spec.replicas !== 0);
  const byKind = (kind: string) => objects.filter(o => o.kind === kind);
  const run = new StepSequence(NODES);
  CHART_RUNS.push(run);

  test('the Apply steps (docs/apply.md\'s, or those renderApplySteps gives a user) run, and the server-side apply is accepted with no error and no warning', run.step(async () => {
    const lines = steps();
    const apply = lines.find(l => l.startsWith('kubectl apply -f dist/'));
    expect(apply).toBe(`kubectl apply -f dist/${file}`);
    for (const line of lines.filter(l => l !== apply)) await runApplyLine(cp(), line, workDir, root);
    const result = await cp().kubectl(['apply', '--server-side', '-f', path]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.trim().split('\n')).toHaveLength(objects.length);
  }, 'placing'));

  test('every Deployment and StatefulSet rolls out: pods admitted under restricted, scheduled and Ready', run.step(async () => {
    const labels = JSON.parse(await cp().kubectlOk(['get', 'namespace', namespace, '-o', 'jsonpath={.metadata.labels}']));
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const w of running) {
      await cp().kubectlOk(['rollout', 'status', `${w.kind.toLowerCase()}/${w.metadata.name}`, '-n', namespace, '--timeout=150s'], { timeoutMs: 160_000 });
    }
    const servedPods = async () => (await getItems(cp(), ['pods', '-n', namespace])).filter(p => p.metadata.ownerReferences?.[0]?.kind !== 'Job');
    const state = (pod: KubeObject) => ({ pod: pod.metadata.name, node: !!pod.spec.nodeName, ready: pod.status.conditions?.find((c: KubeObject) => c.type === 'Ready')?.status });
    // An HPA raises its Deployment to minReplicas at its first sync, which may come after the
    // rollout: so every workload's pods are awaited at that count, and checked as last seen.
    const minPods = (w: KubeObject) => Math.max(w.spec.replicas ?? 1, ...byKind('HorizontalPodAutoscaler')
      .filter(h => h.spec.scaleTargetRef.kind === w.kind && h.spec.scaleTargetRef.name === w.metadata.name).map(h => h.spec.minReplicas ?? 1));
    const expected = running.reduce((sum, w) => sum + minPods(w), 0);
    let served: KubeObject[] = [];
    await waitFor(`${expected} pods scheduled and Ready`, async () => {
      served = await servedPods();
      return served.length >= expected && served.every(p => state(p).node && state(p).ready === 'True');
    }, 60_000, 1_000).catch(() => undefined);
    expect(served.length).toBeGreaterThanOrEqual(expected);
    for (const pod of served) expect(state(pod)).toEqual({ pod: pod.metadata.name, node: true, ready: 'True' });
  }, 'placing'));

  test('a pod that breaks the restricted profile is refused in the chart\'s namespace', run.step(async () => {
    const refused = await cp().kubectl(['run', 'not-restricted', '-n', namespace, '--image=busybox:1.36', '--restart=Never', '--', 'sleep', '1']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted:/);
  }, 'placing'));

  test('spread: API pods in 3 zones, database and cache members each on a node of their own (a rule) and over the 3 zones', run.step(async () => {
    const zoneOf = new Map((await getItems(cp(), ['nodes'])).map(n => [n.metadata.name, n.metadata.labels['topology.kubernetes.io/zone']]));
    const api = workloads.find(w => w.kind === 'Deployment' && w.spec.template.metadata.labels['app.kubernetes.io/component'] === 'api')!;
    const selector = (w: KubeObject) => Object.entries(w.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
    await waitFor(`${api.metadata.name} at the HPA's minReplicas`, async () => {
      const min = byKind('HorizontalPodAutoscaler').find(h => h.spec.scaleTargetRef.name === api.metadata.name)?.spec.minReplicas ?? 1;
      const ready = (await getItems(cp(), ['pods', '-n', namespace, '-l', selector(api)])).filter(p => p.status.conditions?.some((c: KubeObject) => c.type === 'Ready' && c.status === 'True'));
      return ready.length >= min;
    }, 90_000, 1_000);
    const apiPods = await getItems(cp(), ['pods', '-n', namespace, '-l', selector(api)]);
    expect(apiPods.length).toBeGreaterThanOrEqual(3);
    expect(new Set(apiPods.map(p => zoneOf.get(p.spec.nodeName))).size).toBe(3);
    for (const w of workloads.filter(x => x.kind === 'StatefulSet')) {
      const term = w.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
      const peers = Object.entries(term.labelSelector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
      const pods = await getItems(cp(), ['pods', '-n', namespace, '-l', peers]);
      const zones = new Set(pods.map(p => zoneOf.get(p.spec.nodeName))).size;
      expect({ [w.metadata.name]: { nodes: new Set(pods.map(p => p.spec.nodeName)).size, zones } })
        .toEqual({ [w.metadata.name]: { nodes: pods.length, zones: Math.min(pods.length, 3) } });
    }
  }, 'placing'));

  test('PDBs allow the disruptions designed, and a drain is refused while a member is down and goes through once it is back', run.step(async () => {
    const pdbs = byKind('PodDisruptionBudget');
    const live = await waitFor('PDB status', async () => {
      const items = await getItems(cp(), ['pdb', '-n', namespace]);
      const idle = (p: KubeObject) => workloads.some(w => w.metadata.name === p.metadata.name && w.spec.replicas === 0);
      return items.length === pdbs.length && items.every(p => p.status?.observedGeneration === p.metadata.generation
        && (p.status.expectedPods > 0 || idle(p)) && p.status.currentHealthy === p.status.expectedPods) && items;
    }, 60_000, 1_000);
    for (const pdb of live) {
      expect({ [pdb.metadata.name]: pdb.status.disruptionsAllowed })
        .toEqual({ [pdb.metadata.name]: designedDisruptionsAllowed(pdb, pdb.status.expectedPods) });
    }
    const component = (name: string) => workloads.find(w => w.kind === 'StatefulSet' && w.spec.template.metadata.labels['app.kubernetes.io/component'] === name);
    // A PostgreSQL run by CloudNativePG (the user's second chart) has no StatefulSet of ours: its operator drains it.
    // The statefulset engine's single primary refuses a drain; Patroni's members go one at a time, like Redis nodes.
    const primary = component('primary');
    if (primary) await drainRefused(cp(), namespace, primary);
    const members = component('member');
    if (members) await drainWhileOneIsDown(cp(), namespace, members, `${members.metadata.name}-members`);
    await drainWhileOneIsDown(cp(), namespace, component('redis')!);
  }, 'draining'));

  test('HPAs are accepted with their behaviour and metrics; CronJobs and Jobs are created', run.step(async () => {
    const hpas = await getItems(cp(), ['hpa', '-n', namespace]);
    for (const hpa of byKind('HorizontalPodAutoscaler')) {
      const got = hpas.find(h => h.metadata.name === hpa.metadata.name);
      expect({ name: hpa.metadata.name, kept: keeps(got?.spec, hpa.spec) }).toEqual({ name: hpa.metadata.name, kept: true });
    }
    const made = (kind: string) => getItems(cp(), [kind, '-n', namespace]).then(items => items.map(i => i.metadata.name).sort());
    expect(await made('cronjobs')).toEqual(byKind('CronJob').map(o => o.metadata.name).sort());
    expect(await made('jobs')).toEqual(expect.arrayContaining(byKind('Job').map(o => o.metadata.name)));
  }));

  const generated = objects.find(o => o.kind === 'Job' && o.metadata.annotations?.[GENERATED_SECRETS_ANNOTATION]);
  // Only the charts that have GeneratedSecrets get this test; the coverage test checks that one does.
  if (generated) test('GeneratedSecrets, as its ServiceAccount: creates exactly its Secrets, changes nothing the second time, reads no other Secret', run.step(async () => {
    await expectGeneratedSecretsConfined(cp(), namespace, objects, generated!);
  }));

  test('a second apply changes nothing: kubectl diff --server-side is empty', run.step(async () => {
    const again = await cp().kubectl(['apply', '--server-side', '-f', path]);
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
    const diff = await cp().kubectl(['diff', '--server-side', '-f', path]);
    expect({ code: diff.code, diff: diff.stdout, stderr: diff.stderr }).toEqual({ code: 0, diff: '', stderr: '' });
  }));

  test('kubectl delete -f leaves nothing of the chart behind', run.step(async () => {
    // The Namespace comes first in the file: its deletion may remove an object before kubectl gets to it.
    await cp().kubectlOk(['delete', '-f', path, '--ignore-not-found', '--wait=true', '--timeout=150s'], { timeoutMs: 160_000 });
    const namespaces = (await getItems(cp(), ['namespaces'])).map(n => n.metadata.name);
    expect(namespaces).not.toContain(namespace);
    await waitFor('the chart\'s PersistentVolumes released and deleted', async () =>
      (await getItems(cp(), ['pv'])).every(pv => pv.spec.claimRef?.namespace !== namespace), 60_000, 1_000);
  }));
});

/**
 * kubectl drain retries a refused eviction after a fixed 5 s (its EvictErrorRetryDelay) until its
 * timeout: a timeout below that makes exactly one attempt, and the drain gives up 5 s after it.
 */
const ONE_EVICTION_ATTEMPT = '--timeout=4s';

/**
 * The label selector of a StatefulSet's pods, for `kubectl drain --pod-selector`, which matches pods
 * of every namespace on the node: checks that it selects pods of `namespace` only, so a drain leaves
 * the charts beside this one alone.
 */
async function podSelector(plane: ControlPlane, namespace: string, sts: KubeObject): Promise<string> {
  const selector = Object.entries(sts.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
  const namespaces = new Set((await getItems(plane, ['pods', '--all-namespaces', '-l', selector])).map(p => p.metadata.namespace));
  expect({ selector, namespaces: [...namespaces] }).toEqual({ selector, namespaces: [namespace] });
  return selector;
}

/** The PostgreSQL primary's PDB allows no disruption: a drain of its node is refused, and the node is uncordoned again. */
async function drainRefused(plane: ControlPlane, namespace: string, sts: KubeObject): Promise<void> {
  const selector = await podSelector(plane, namespace, sts);
  const [pod] = await getItems(plane, ['pods', '-n', namespace, '-l', selector]);
  const refused = await plane.kubectl(['drain', pod.spec.nodeName, `--pod-selector=${selector}`, '--ignore-daemonsets', '--delete-emptydir-data', ONE_EVICTION_ATTEMPT], { timeoutMs: 60_000 });
  await plane.kubectlOk(['uncordon', pod.spec.nodeName]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr + refused.stdout).toMatch(/would violate the pod's disruption budget/);
}

/** Marks one member NotReady (as a crashed pod would be): a drain of another member is refused; back Ready, it goes through. `pdb` names the members' PDB. */
async function drainWhileOneIsDown(plane: ControlPlane, namespace: string, sts: KubeObject, pdb: string = sts.metadata.name): Promise<void> {
  const selector = await podSelector(plane, namespace, sts);
  const pods = await getItems(plane, ['pods', '-n', namespace, '-l', selector]);
  if (pods.length === 1) {
    // A single member's PDB (maxUnavailable 1) lets the drain through: nothing else could keep the node drainable.
    const only = await plane.kubectl(['drain', pods[0].spec.nodeName, `--pod-selector=${selector}`, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=60s'], { timeoutMs: 90_000 });
    await plane.kubectlOk(['uncordon', pods[0].spec.nodeName]);
    expect({ code: only.code, stderr: only.stderr }).toMatchObject({ code: 0 });
    await plane.kubectlOk(['rollout', 'status', `statefulset/${sts.metadata.name}`, '-n', namespace, '--timeout=120s'], { timeoutMs: 130_000 });
    return;
  }
  const [down, target] = pods;
  const setReady = (status: 'True' | 'False') => plane.kubectlOk(['patch', 'pod', down.metadata.name, '-n', namespace, '--subresource=status', '--type=json',
    '-p', JSON.stringify(down.status.conditions.flatMap((c: KubeObject, i: number) => ['Ready', 'ContainersReady'].includes(c.type)
      ? [{ op: 'replace', path: `/status/conditions/${i}/status`, value: status }] : []))]);
  const allowed = async (n: number) => waitFor(`${pdb} PDB disruptionsAllowed ${n}`, async () =>
    (await plane.kubectlOk(['get', 'pdb', pdb, '-n', namespace, '-o', 'jsonpath={.status.disruptionsAllowed}'])).trim() === String(n), 30_000, 500);
  const node = target.spec.nodeName as string;
  await setReady('False');
  await allowed(0);
  const refused = await plane.kubectl(['drain', node, `--pod-selector=${selector}`, '--ignore-daemonsets', '--delete-emptydir-data', ONE_EVICTION_ATTEMPT], { timeoutMs: 60_000 });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr + refused.stdout).toMatch(/would violate the pod's disruption budget/);
  await setReady('True');
  await allowed(1);
  const drained = await plane.kubectl(['drain', node, `--pod-selector=${selector}`, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=60s'], { timeoutMs: 90_000 });
  await plane.kubectlOk(['uncordon', node]);
  expect({ code: drained.code, stderr: drained.stderr }).toMatchObject({ code: 0 });
  expect(drained.stdout).toContain(`pod/${target.metadata.name} evicted`);
  await plane.kubectlOk(['rollout', 'status', `statefulset/${sts.metadata.name}`, '-n', namespace, '--timeout=120s'], { timeoutMs: 130_000 });
}

async function expectGeneratedSecretsConfined(plane: ControlPlane, namespace: string, objects: KubeObject[], job: KubeObject): Promise<void> {
  const podSpec = job.spec.template.spec;
  const serviceAccount = podSpec.serviceAccountName as string;
  const configMapName = podSpec.volumes.find((v: KubeObject) => v.configMap).configMap.name;
  const script = objects.find(o => o.kind === 'ConfigMap' && o.metadata.name === configMapName)!.data['generate-secrets.sh'] as string;
  const names = Object.keys(JSON.parse(job.metadata.annotations[GENERATED_SECRETS_ANNOTATION])).sort();
  const keysOf = JSON.parse(job.metadata.annotations[GENERATED_SECRETS_ANNOTATION]) as Record<string, string[]>;
  const dir = mkdtempSync(join(tmpdir(), 'hscale-generated-secrets-'));
  const bin = impersonatingKubectl(plane, dir, namespace, serviceAccount);
  const runScript = () => execFileSync('sh', ['-c', script], {
    env: { PATH: `${bin}:/usr/bin:/bin`, NAMESPACE: namespace, HOME: dir }, encoding: 'utf8', timeout: 60_000,
  });
  const secrets = async () => new Map((await getItems(plane, ['secrets', '-n', namespace])).map(s => [s.metadata.name as string, s]));
  try {
    const before = await secrets();
    runScript();
    const after = await secrets();
    expect([...after.keys()].filter(n => !before.has(n)).sort()).toEqual(names.filter(n => !before.has(n)));
    for (const name of names) expect({ [name]: Object.keys(after.get(name)!.data).sort() }).toEqual({ [name]: [...keysOf[name]].sort() });
    expect(runScript()).toMatch(/exists: left unchanged/);
    const again = await secrets();
    expect([...again].map(([n, s]) => `${n}@${s.metadata.resourceVersion}`)).toEqual([...after].map(([n, s]) => `${n}@${s.metadata.resourceVersion}`));
    const other = [...again.keys()].find(n => !names.includes(n))!;
    const can = async (verb: string, what: string, ns = namespace) => (await plane.kubectl(['auth', 'can-i', verb, what, '-n', ns, `--as=system:serviceaccount:${namespace}:${serviceAccount}`])).stdout.trim();
    expect(await can('create', 'secrets')).toBe('yes');
    for (const [verb, what, ns] of [['get', `secret/${names[0]}`], ['get', `secret/${other}`], ['list', 'secrets'], ['watch', 'secrets'], ['update', `secret/${names[0]}`],
      ['patch', `secret/${names[0]}`], ['delete', `secret/${names[0]}`], ['get', 'secrets', 'kube-system'], ['create', 'secrets', 'default']]) {
      expect({ verb, what, ns, answer: await can(verb, what, ns) }).toEqual({ verb, what, ns, answer: 'no' });
    }
    const read = await plane.kubectl(['get', 'secret', other, '-n', namespace, `--as=system:serviceaccount:${namespace}:${serviceAccount}`]);
    expect(read.stderr).toMatch(/Forbidden|forbidden/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every dist chart and both user charts are covered, one has GeneratedSecrets, and every dist chart has PostgreSQL pods to drain', () => {
  expect([...CHARTS].sort()).toEqual(readdirSync(join(REPO_ROOT, 'dist')).filter(f => f.endsWith('.k8s.yaml')).sort());
  expect(USER_CHARTS.map(c => c.file)).toEqual(['shop.k8s.yaml', 'all.k8s.yaml']);
  const components = (f: string) => readManifests(join(REPO_ROOT, 'dist', f))
    .filter(o => o.kind === 'StatefulSet' && o.spec.template.metadata.labels['app.kubernetes.io/name'] === 'postgresql')
    .map(o => o.spec.template.metadata.labels['app.kubernetes.io/component']);
  expect(Object.fromEntries(CHARTS.map(f => [f, components(f)]))).toEqual({
    'hscale.k8s.yaml': ['member'], 'bet-intel.k8s.yaml': ['member'], 'cms.k8s.yaml': ['primary', 'replica'], 'fastnext.k8s.yaml': ['member'], 'tutormax.k8s.yaml': ['member'],
  });
  expect(CHARTS.filter(f => readManifests(join(REPO_ROOT, 'dist', f)).some(o => o.metadata.annotations?.[GENERATED_SECRETS_ANNOTATION]))).toContain('hscale.k8s.yaml');
});

/*
 * Pod options (issue 24, docs/your-cluster.md) against the real scheduler and admission: two nodes
 * become a database pool (labelled pool=db, tainted dedicated=db:NoSchedule), and PgReplicaSet's
 * StatefulSets are applied with the `pod` options.
 */
describe('pod options of PgReplicaSet on a real control plane', () => {
  const POOL = ['kwok-node-5', 'kwok-node-6'];
  const TOLERATION = { key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' };

  /** PgReplicaSet's StatefulSet (4 Patroni members: the default engine) and its ServiceAccount in `namespace`, with `pod`; 4 members in a pool of 2 nodes share nodes, as placement 'preferred' lets them. */
  const statefulSets = (namespace: string, pod: PodOptions) => {
    const chart = new Chart(Testing.app(), 'pool', { namespace });
    new PgReplicaSet(chart, 'db', { replicas: 3, pod, placement: 'preferred' });
    return Testing.synth(chart).filter(o => o.kind === 'StatefulSet' || o.kind === 'ServiceAccount');
  };
  const PODS = statefulSets('count', {}).reduce((sum, o) => sum + (o.spec?.replicas ?? 0), 0);
  const applyIn = async (namespace: string, objects: KubeObject[]) => {
    await cp().kubectlOk(['create', 'namespace', namespace]);
    await cp().kubectlOk(['apply', '--server-side', '-f', '-'], { input: objects.map(o => JSON.stringify(o)).join('\n') });
  };
  const podsOf = (namespace: string) => getItems(cp(), ['pods', '-n', namespace]);
  // Until the claims bind, the scheduler's verdict is "unbound immediate PersistentVolumeClaims": wait for one about the nodes.
  const judgedByNodes = (pod: KubeObject) => pod.status.conditions?.some((c: KubeObject) =>
    c.type === 'PodScheduled' && c.status === 'False' && /^0\/\d+ nodes are available: \d+ node\(s\)/.test(c.message ?? ''));
  const podsPlaced = (namespace: string, count: number) => waitFor(`${count} pods placed in ${namespace}`, async () => {
    const pods = await podsOf(namespace);
    return pods.length === count && pods.every(p => p.spec.nodeName || judgedByNodes(p)) && pods;
  }, 60_000, 500);

  beforeAll(async () => {
    // The taint would keep the charts' pods off the pool: their steps are over (tests time out before steps do).
    await Promise.all(CHART_RUNS.map(run => run.start()));
    for (const node of POOL) {
      await cp().kubectlOk(['label', 'node', node, 'pool=db']);
      await cp().kubectlOk(['taint', 'node', node, 'dedicated=db:NoSchedule']);
    }
  });

  afterAll(async () => {
    for (const namespace of ['pool-untolerated', 'pool-tolerated', 'pool-priority']) await plane?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
    for (const node of POOL) {
      await plane?.kubectl(['taint', 'node', node, 'dedicated-']);
      await plane?.kubectl(['label', 'node', node, 'pool-']);
    }
  });

  test('the tainted pool takes no PostgreSQL pod that does not tolerate the taint', async () => {
    await applyIn('pool-untolerated', statefulSets('pool-untolerated', { nodeSelector: { pool: 'db' } }));
    // Every member at once (podManagementPolicy Parallel).
    const pods = await podsPlaced('pool-untolerated', PODS);
    for (const pod of pods) {
      const scheduled = pod.status.conditions.find((c: KubeObject) => c.type === 'PodScheduled');
      expect({ pod: pod.metadata.name, node: pod.spec.nodeName, scheduled: scheduled.status }).toEqual({ pod: pod.metadata.name, node: undefined, scheduled: 'False' });
      // The pool's 2 nodes refuse them for the taint, the other 4 for the nodeSelector.
      expect(scheduled.message).toMatch(/^0\/6 nodes are available: 2 node\(s\) had untolerated taint\(s\), 4 node\(s\) didn't match Pod's node affinity\/selector/);
    }
  });

  test('with the toleration, nodeSelector pins every PostgreSQL pod to the pool', async () => {
    await applyIn('pool-tolerated', statefulSets('pool-tolerated', { nodeSelector: { pool: 'db' }, tolerations: [TOLERATION] }));
    await cp().kubectlOk(['rollout', 'status', 'statefulset/pool-db', '-n', 'pool-tolerated', '--timeout=90s'], { timeoutMs: 100_000 });
    const pods = await podsOf('pool-tolerated');
    expect(pods).toHaveLength(PODS);
    for (const pod of pods) expect({ pod: pod.metadata.name, inPool: POOL.includes(pod.spec.nodeName) }).toEqual({ pod: pod.metadata.name, inPool: true });
  });

  test('a PriorityClass that does not exist is refused by the API server, as docs/your-cluster.md says', async () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'your-cluster.md'), 'utf8');
    expect(doc).toContain('the API server refuses pods naming one that does not exist');
    const primary = statefulSets('pool-priority', { priorityClassName: 'databases' }).find(o => o.kind === 'StatefulSet')!;
    expect(primary.spec.template.spec.priorityClassName).toBe('databases');
    // A pod as the StatefulSet controller would create it, less what only the controller can fill in (the claims' volumes).
    const { containers: [postgres], priorityClassName } = primary.spec.template.spec;
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'priority-check', namespace: 'pool-priority' },
      spec: { priorityClassName, containers: [{ name: postgres.name, image: postgres.image }] },
    };
    await cp().kubectlOk(['create', 'namespace', 'pool-priority']);
    const refused = await cp().kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('no PriorityClass with name databases was found');
    await cp().kubectlOk(['create', 'priorityclass', 'databases', '--value=1000000']);
    try {
      expect((await cp().kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) })).code).toBe(0);
    } finally {
      await cp().kubectl(['delete', 'priorityclass', 'databases']);
    }
  });
});
