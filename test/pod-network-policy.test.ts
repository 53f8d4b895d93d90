import { Testing } from 'cdk8s';
import { PodNetworkPolicy } from '../lib/core/pod-network-policy';
import { Manifest } from './support/manifest-checks';

function policyOf(configure: (policy: PodNetworkPolicy) => void = () => undefined): Manifest {
  const chart = Testing.chart();
  const policy = new PodNetworkPolicy(chart, 'api', { podSelector: { app: 'api' }, labels: { app: 'api' }, role: 'net' });
  configure(policy);
  return Testing.synth(chart)[0];
}

test('pods are isolated both ways, with only DNS allowed out', () => {
  const policy = policyOf();
  expect(policy.metadata.name).toBe('test-net');
  expect(policy.spec).toEqual({
    podSelector: { matchLabels: { app: 'api' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [],
    egress: [{
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    }],
  });
});

test('rules added after construction reach the YAML, each on its own ports', () => {
  const spec = policyOf(policy => {
    policy.allowIngressFrom({ podSelector: { app: 'lb' }, namespaceSelector: { 'kubernetes.io/metadata.name': 'edge' } }, [8000]);
    policy.allowEgressTo({ peer: { podSelector: { app: 'db' } }, ports: [5432] });
    policy.allowIngressFromAnywhere([8443]);
  }).spec;
  expect(spec.ingress).toEqual([
    { from: [{ podSelector: { matchLabels: { app: 'lb' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'edge' } } }], ports: [{ protocol: 'TCP', port: 8000 }] },
    { ports: [{ protocol: 'TCP', port: 8443 }] },
  ]);
  expect(spec.egress[1]).toEqual({ to: [{ podSelector: { matchLabels: { app: 'db' } } }], ports: [{ protocol: 'TCP', port: 5432 }] });
});

test('throws error, when a rule names no port (Kubernetes would open every port)', () => {
  expect(() => policyOf(policy => policy.allowEgressTo({ peer: { podSelector: { app: 'db' } }, ports: [] })))
    .toThrow('test/api: \'ports\' is empty; a NetworkPolicy rule with no ports opens every port');
});

test.each([
  ['every namespace', {}],
  ['a namespace label its owner sets', { team: 'edge' }],
])('throws error, when a peer in other namespaces is chosen by %s rather than kubernetes.io/metadata.name', (_case, namespaceSelector) => {
  expect(() => policyOf(policy => policy.allowIngressFrom({ podSelector: { 'app.kubernetes.io/name': 'prometheus' }, namespaceSelector }, [9090])))
    .toThrow(`test/api: 'peer.namespaceSelector' (${JSON.stringify(JSON.stringify(namespaceSelector))}) must pin the namespace with `
      + '\'kubernetes.io/metadata.name\' (e.g. { \'kubernetes.io/metadata.name\': \'monitoring\' }), or be left out for the chart\'s own '
      + 'namespace: any pod in another namespace can carry the labels of \'podSelector\'');
});
