/* eslint-disable @typescript-eslint/no-explicit-any */
import { readFileSync } from 'fs';
import { join } from 'path';
import { Chart, Testing } from 'cdk8s';
import { LoadBalancer, PgReplicaSet, ScaledApi } from '../lib';
import { externalRequirements, KubeObject, renderApplySteps } from '../lib/cluster/requirements';
import { chartFiles, readManifests, renderApplySection } from '../scripts/requirements';

const BUILT_IN_API_VERSIONS = /^(v1|(apps|batch|autoscaling|policy|networking\.k8s\.io|rbac\.authorization\.k8s\.io|storage\.k8s\.io)\/.+)$/;

/** Every value under `key` anywhere in an object, whatever the path: independent of how the library walks pods. */
function deepValues(value: unknown, key: string): any[] {
  if (Array.isArray(value)) return value.flatMap(v => deepValues(v, key));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [...(k === key ? [v] : []), ...deepValues(v, key)]);
}

describe.each(chartFiles([]).map(file => [file.split('/').pop()!, file]))('%s', (_name, file) => {
  const objects = readManifests(file);
  const r = externalRequirements(objects);
  const created = new Set(r.createdSecrets.map(s => `${s.namespace}/${s.name}`));
  const listed = (ns: string, name: string, key?: string) => created.has(`${ns}/${name}`)
    || r.secrets.some(s => s.namespace === ns && s.name === name && (key === undefined || s.keys.includes(key)));

  test('every Secret read (env, envFrom, volumes, KEDA) is created in the chart or listed with its key', () => {
    const missing = objects.flatMap(o => {
      const ns = o.metadata?.namespace ?? 'default';
      const refs = [
        ...deepValues(o, 'secretKeyRef').map(ref => [ref.name, ref.key]),
        ...deepValues(o, 'secretTargetRef').flat().map(ref => [ref.name, ref.key]),
        ...deepValues(o, 'secretRef').map(ref => [ref.name]),
        ...deepValues(o, 'secretName').map(name => [name]),
      ];
      return refs.filter(([name, key]) => !listed(ns, name, key)).map(([name, key]) => `${o.kind}/${o.metadata.name}: ${name}${key ? `.${key}` : ''}`);
    });
    expect(missing).toEqual([]);
  });

  test('every custom resource kind has its operator listed, and every image is listed', () => {
    const customKinds = objects.filter(o => !BUILT_IN_API_VERSIONS.test(o.apiVersion)).map(o => `${o.apiVersion}/${o.kind}`);
    const listedKinds = r.operators.flatMap(o => o.kinds);
    expect(customKinds.filter(k => !listedKinds.includes(k))).toEqual([]);
    expect(r.operators.every(o => !o.operator.startsWith('the operator serving'))).toBe(true);
    const images = [...deepValues(objects, 'image'), ...deepValues(objects, 'imageName')].filter(i => typeof i === 'string');
    expect(images.filter(i => !r.images.includes(i))).toEqual([]);
  });

  test('every volume claim has its StorageClass listed', () => {
    const claims = objects.flatMap(o => deepValues(o, 'volumeClaimTemplates').flat());
    expect(claims.map(c => c.spec.storageClassName ?? '(default)').filter(c => !r.storageClasses.includes(c))).toEqual([]);
  });
});

test('the Apply steps of docs/apply.md are what npm run requirements renders for dist/', () => {
  const page = readFileSync(join(__dirname, '..', 'docs', 'apply.md'), 'utf8');
  const section = /<!-- apply:begin[^\n]*-->\n([\s\S]*?)<!-- apply:end -->/.exec(page);
  expect(section).not.toBeNull();
  expect(section![1]).toBe(renderApplySection(chartFiles([])));
});

test('a cloudnative-pg database behind a Gateway needs both operators, a named StorageClass and the user\'s own Secret', () => {
  // GIVEN
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const db = new PgReplicaSet(chart, 'db', { engine: 'cloudnative-pg', storageClassName: 'fast-ssd' });
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', database: db, secretEnv: { STRIPE_KEY: { secretName: 'stripe', key: 'api-key' } } });
  new LoadBalancer(chart, 'lb', { backend: api, mode: 'gateway', gateway: { name: 'public', namespace: 'gateways' } });
  // WHEN
  const r = externalRequirements(chart);
  // THEN
  expect(r.operators.map(o => [o.operator, o.kinds])).toEqual([
    ['Gateway API (and a Gateway controller)', ['gateway.networking.k8s.io/v1/HTTPRoute']],
    ['prometheus-operator (kube-prometheus-stack)', ['monitoring.coreos.com/v1/PodMonitor']],
    ['CloudNativePG', ['postgresql.cnpg.io/v1/Cluster']],
  ]);
  expect(r.secrets).toEqual([{ namespace: 'shop', name: 'stripe', keys: ['api-key'], volumes: [] }]);
  expect(r.createdSecrets).toEqual([{ namespace: 'shop', name: 'shop-db-app', by: 'the CloudNativePG operator (Cluster/shop-db)' }]);
  expect(r.storageClasses).toEqual(['fast-ssd']);
  expect(r.namespaces).toEqual(['shop']);
});

test('a Namespace in the chart is not required, and a claim without a class needs the default one', () => {
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'shop' }, spec: {} },
  ];
  expect(externalRequirements(objects)).toMatchObject({ namespaces: [], storageClasses: ['(default)'] });
});

test('--chart picks one file; without a file it throws', () => {
  expect(chartFiles(['--chart', 'dist/x.k8s.yaml'])).toEqual(['dist/x.k8s.yaml']);
  expect(() => chartFiles(['--chart'])).toThrow('--chart needs a file, e.g. --chart dist/hscale.k8s.yaml');
});

test('the apply steps apply the path as given, once (it used to print dist/dist/x.k8s.yaml), under a heading of the file name', () => {
  const steps = renderApplySteps('dist/x.k8s.yaml', { namespaces: [], operators: [], secrets: [], createdSecrets: [], images: ['a:1'], storageClasses: [], addons: [] });
  expect(steps.split('\n')[0]).toBe('#### `x.k8s.yaml`');
  expect(steps).toContain('   kubectl apply -f dist/x.k8s.yaml\n');
  expect(steps).not.toContain('dist/dist/');
});

test('registry credentials the pods pull with are listed like the other Secrets, with a docker-registry command', () => {
  // GIVEN
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  new ScaledApi(chart, 'api', { image: 'registry.example.com/api:1.0.0', pod: { imagePullSecrets: ['registry-credentials'] } });
  new PgReplicaSet(chart, 'db', { engine: 'cloudnative-pg', pod: { imagePullSecrets: ['cnpg-registry'] } });
  // WHEN
  const r = externalRequirements(chart);
  // THEN
  expect(r.secrets).toEqual([
    { namespace: 'shop', name: 'cnpg-registry', keys: [], volumes: [], imagePull: true },
    { namespace: 'shop', name: 'registry-credentials', keys: [], volumes: [], imagePull: true },
  ]);
  expect(renderApplySteps('shop.k8s.yaml', r)).toContain(
    'kubectl -n shop create secret docker-registry registry-credentials --docker-server=<registry> --docker-username=<user> --docker-password=<password>');
});

test('the add-ons a fresh cluster lacks are listed for the objects that rely on them, each with its install step', () => {
  // GIVEN a pod-metric API behind an nginx LoadBalancer (a Service of type LoadBalancer)
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', podMetric: { name: 'requests_per_second', averageValue: 50 } });
  new LoadBalancer(chart, 'lb', { backend: api });
  // WHEN
  const r = externalRequirements(chart);
  // THEN
  expect(r.addons.map(a => `${a.addon}: ${a.reason}`)).toEqual([
    'metrics-server: CPU and memory targets read the resource metrics API, which most managed clusters but not kind or kubeadm serve: '
      + 'HorizontalPodAutoscaler/shop-api, HorizontalPodAutoscaler/shop-lb',
    'prometheus-adapter: pod metric targets read the custom metrics API (the rules are in the chart\'s adapter ConfigMap): HorizontalPodAutoscaler/shop-api',
    'a LoadBalancer provider: Services of type LoadBalancer get an external address from it: Service/shop-lb',
    'a CNI that enforces NetworkPolicy: without one the policies are accepted and ignored: NetworkPolicy/shop-api, NetworkPolicy/shop-lb',
  ]);
  expect(renderApplySteps('shop.k8s.yaml', r)).toContain(
    '   helm repo add prometheus-community https://prometheus-community.github.io/helm-charts && helm install prometheus-adapter prometheus-community/prometheus-adapter -n monitoring');
});

test('a chart without autoscalers, LoadBalancer Services or NetworkPolicies needs no add-on', () => {
  expect(externalRequirements([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }]).addons).toEqual([]);
});
