import { Chart, Testing } from 'cdk8s';
import { ScaledApi } from '../lib/api/scaled-api';
import { PodSecurityNamespace } from '../lib/cluster/pod-security-namespace';
import { checkManifests } from './support/manifest-checks';

const chartIn = (namespace?: string) => new Chart(Testing.app(), 'shop', namespace ? { namespace } : {});

test('the chart\'s namespace, labelled restricted for enforce, warn and audit, at the latest version', async () => {
  const chart = chartIn('shop');
  new PodSecurityNamespace(chart, 'namespace');
  const [namespace, defaultDeny] = Testing.synth(chart);
  expect(namespace).toEqual({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: 'shop',
      labels: {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': 'latest',
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/audit-version': 'latest',
      },
    },
  });
  await expect(checkManifests([namespace, defaultDeny])).resolves.toBeUndefined();
});

test('a default-deny NetworkPolicy isolates every pod of the namespace both ways; without it the checks refuse the namespace', async () => {
  // GIVEN
  const chart = chartIn('shop');
  const ns = new PodSecurityNamespace(chart, 'namespace');
  const open = chartIn('open');
  new PodSecurityNamespace(open, 'namespace', { defaultDeny: false });
  // WHEN
  const manifests = Testing.synth(chart);
  // THEN
  expect(ns.defaultDenyPolicy).toBeDefined();
  expect(manifests[1]).toEqual({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'default-deny', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'cdk8s' } },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  });
  await expect(checkManifests(Testing.synth(open))).rejects.toThrow(
    '1 manifest violation(s):\n- Namespace/open: has no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)');
});

test('created first, it is the first object of the chart, before the objects that live in it', () => {
  // GIVEN a chart whose namespace is created before a ScaledApi
  const chart = chartIn('shop');
  new PodSecurityNamespace(chart, 'namespace');
  new ScaledApi(chart, 'api', { image: 'registry.example.com/api:1.0.0' });
  // WHEN
  const manifests = Testing.synth(chart);
  // THEN the Namespace leads, and every other object is in it
  expect(manifests[0].kind).toBe('Namespace');
  expect(manifests.slice(1).every(m => m.metadata.namespace === 'shop')).toBe(true);
  expect(manifests.filter(m => m.kind === 'Namespace')).toHaveLength(1);
});

test('a given name, level and pinned version are used, also in a chart without a namespace', () => {
  const chart = chartIn();
  const ns = new PodSecurityNamespace(chart, 'namespace', { name: 'legacy', level: 'baseline', version: 'v1.30' });
  const [namespace] = Testing.synth(chart);
  const labels = namespace.metadata.labels;
  expect(namespace.metadata.name).toBe('legacy');
  expect([ns.name, ns.level, ns.version]).toEqual(['legacy', 'baseline', 'v1.30']);
  expect(labels['pod-security.kubernetes.io/enforce']).toBe('baseline');
  expect(labels['pod-security.kubernetes.io/warn-version']).toBe('v1.30');
});

test('throws error, when neither the prop nor the chart names the namespace', () => {
  expect(() => new PodSecurityNamespace(chartIn(), 'namespace')).toThrow('shop/namespace: \'name\' (undefined) must be given when the chart has no namespace');
});

test('throws error, when the level is not a Pod Security Standard', () => {
  expect(() => new PodSecurityNamespace(chartIn('shop'), 'namespace', { level: 'strict' as never }))
    .toThrow('shop/namespace: \'level\' ("strict") must be one of \'privileged\', \'baseline\', \'restricted\'');
});

test('throws error, when the version is neither latest nor a Kubernetes minor version', () => {
  expect(() => new PodSecurityNamespace(chartIn('shop'), 'namespace', { version: '1.30' }))
    .toThrow('shop/namespace: \'version\' ("1.30") must be \'latest\' or a Kubernetes minor version such as \'v1.30\'');
});

test('throws error, when the name is not a DNS label', () => {
  expect(() => new PodSecurityNamespace(chartIn(), 'namespace', { name: 'Shop_NS' }))
    .toThrow('shop/namespace: \'name\' ("Shop_NS") must be a DNS-1123 label');
});

test('throws error, when a prop name is unknown, as from JavaScript', () => {
  expect(() => new PodSecurityNamespace(chartIn('shop'), 'namespace', { levl: 'baseline' } as never))
    .toThrow('shop/namespace: unknown prop \'levl\' (did you mean \'level\'?); known props: name, level, version');
});
