import { Duration, Testing } from 'cdk8s';
import { LoadBalancer, LoadBalancerProps, ScaledApi } from '../lib';
import { checkManifests, Manifest } from './support/manifest-checks';

function synthLb(props: Partial<LoadBalancerProps> = {}) {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const lb = new LoadBalancer(chart, 'lb', { backend: api, ...props });
  return { lb, manifests: Testing.synth(chart) };
}

const find = (manifests: Manifest[], kind: string, name: string) => manifests.find(m => m.kind === kind && m.metadata.name === name)!;

test('nginx mode synthesizes an autoscaled nginx tier in front of the API', async () => {
  const { manifests } = synthLb();
  expect(manifests.filter(m => m.metadata.name === 'test-lb')).toMatchSnapshot();
  await checkManifests(manifests);
  expect(find(manifests, 'Service', 'test-lb').spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
  expect(find(manifests, 'HorizontalPodAutoscaler', 'test-lb').spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
  expect(find(manifests, 'PodDisruptionBudget', 'test-lb').spec.maxUnavailable).toBe(1);
});

test('the upstream resolves the API\'s headless Service, so nginx balances per pod', () => {
  const { manifests } = synthLb();
  const conf: string = find(manifests, 'ConfigMap', 'test-lb').data['nginx.conf'];
  expect(conf).toContain('server test-api-pods.default.svc.cluster.local:8000 resolve max_fails=3 fail_timeout=10s;');
  expect(conf).toContain('least_conn;');
  expect(conf).toContain('resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;');
  expect(conf).toContain('rate=100r/s;');
  expect(conf).toContain('rate=5r/m;');
  expect(find(manifests, 'Service', 'test-api-pods').spec.clusterIP).toBe('None');
});

test('nginx runs unprivileged on 8080 with its config mounted and a writable /tmp', () => {
  const { manifests } = synthLb();
  const spec = find(manifests, 'Deployment', 'test-lb').spec.template.spec;
  const nginx = spec.containers[0];
  expect(spec.securityContext.runAsUser).toBe(101);
  expect(nginx.image).toBe('nginxinc/nginx-unprivileged:1.27.4-alpine');
  expect(nginx.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  expect(nginx.volumeMounts).toEqual([
    { name: 'tmp', mountPath: '/tmp' },
    { name: 'config', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true },
  ]);
  expect(spec.containers[1].ports).toEqual([{ name: 'metrics', containerPort: 9113, protocol: 'TCP' }]);
});

test('a changed config changes the pod template, so pods roll', () => {
  const annotation = (m: Manifest[]) => find(m, 'Deployment', 'test-lb').spec.template.metadata.annotations['hscale.io/config-sha256'];
  expect(annotation(synthLb().manifests)).toMatch(/^[0-9a-f]{64}$/);
  expect(annotation(synthLb().manifests)).not.toBe(annotation(synthLb({ keepalive: 64 }).manifests));
});

test('TLS mounts the Secret, listens on 8443 and exposes 443', async () => {
  const { manifests } = synthLb({ tls: { secretName: 'site-tls' } });
  await checkManifests(manifests);
  const spec = find(manifests, 'Deployment', 'test-lb').spec.template.spec;
  expect(spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'site-tls' } });
  expect(find(manifests, 'Service', 'test-lb').spec.ports.map((p: Manifest) => p.port)).toEqual([80, 443]);
  expect(find(manifests, 'ConfigMap', 'test-lb').data['nginx.conf']).toContain('ssl_certificate /etc/nginx/tls/tls.crt;');
});

test('the NetworkPolicies link nginx and the API in both directions, and nothing else', () => {
  const { manifests } = synthLb();
  const lbPolicy = find(manifests, 'NetworkPolicy', 'test-lb').spec;
  const apiPolicy = find(manifests, 'NetworkPolicy', 'test-api').spec;
  const lbPods = { 'app.kubernetes.io/instance': 'test-lb', 'app.kubernetes.io/component': 'load-balancer' };
  const apiPods = { 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' };
  expect(lbPolicy.ingress).toContainEqual({ ports: [{ protocol: 'TCP', port: 8080 }] });
  expect(lbPolicy.egress).toContainEqual({ to: [{ podSelector: { matchLabels: apiPods } }], ports: [{ protocol: 'TCP', port: 8000 }] });
  expect(lbPolicy.egress).toHaveLength(2);
  expect(apiPolicy.ingress).toContainEqual({ from: [{ podSelector: { matchLabels: lbPods } }], ports: [{ protocol: 'TCP', port: 8000 }] });
});

test('the exporter sidecar is a metrics target', () => {
  const { lb } = synthLb();
  expect(lb.metricsEndpoints).toEqual([expect.objectContaining({ exporter: 'nginx-exporter', portName: 'metrics', port: 9113 })]);
});

test('gateway mode attaches an HTTPRoute to the named Gateway and admits its pods', async () => {
  const { manifests } = synthLb({ mode: 'gateway', gateway: { name: 'public', namespace: 'gateways', sectionName: 'https' }, hostnames: ['api.example.com'] });
  await checkManifests(manifests);
  expect(manifests.filter(m => m.metadata.name.startsWith('test-lb'))).toEqual([expect.objectContaining({ kind: 'HTTPRoute' })]);
  const route = find(manifests, 'HTTPRoute', 'test-lb');
  expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
  expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateways', sectionName: 'https' }]);
  expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'test-api', port: 8000 }]);
  expect(find(manifests, 'NetworkPolicy', 'test-api').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: {} }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateways' } } }],
    ports: [{ protocol: 'TCP', port: 8000 }],
  });
});

test.each<[string, Partial<LoadBalancerProps>, string]>([
  ['the mode is unknown', { mode: 'haproxy' as never }, 'test/lb: \'mode\' ("haproxy") must be one of \'nginx\', \'gateway\''],
  ['TLS is asked without a secret', { tls: { secretName: '' } }, 'test/lb: \'tls.secretName\' ("") must name a kubernetes.io/tls Secret when TLS is asked for'],
  ['the API rate is 0', { apiRateLimit: { rate: 0, burst: 20 } }, 'test/lb: \'apiRateLimit.rate\' (0) must be a number greater than 0'],
  ['the login rate is negative', { loginRateLimit: { rate: -5, burst: 3 } }, 'test/lb: \'loginRateLimit.rate\' (-5) must be a number greater than 0'],
  ['the burst is negative', { apiRateLimit: { rate: 100, burst: -1 } }, 'test/lb: \'apiRateLimit.burst\' (-1) must be an integer from 0 to 100000'],
  ['min > max replicas', { minReplicas: 5, maxReplicas: 4 }, 'test/lb: \'minReplicas\' (5) must be less than or equal to \'maxReplicas\' (4)'],
  ['the image is unpinned', { image: 'nginx' }, 'test/lb: \'image\' ("nginx") must be an image reference pinned'],
  ['the fail timeout is zero', { failTimeout: Duration.seconds(0) }, 'test/lb: \'failTimeout\' (0) must be a number greater than 0'],
  ['gateway mode has no gateway', { mode: 'gateway' }, 'test/lb: \'gateway\' ("") must name the Gateway to attach to in \'gateway\' mode'],
  ['gateway mode is given rate limits', { mode: 'gateway', gateway: { name: 'public' }, apiRateLimit: { rate: 10, burst: 1 } },
    'test/lb: \'apiRateLimit\' ("{\\"rate\\":10,\\"burst\\":1}") cannot be expressed by a portable HTTPRoute; configure it on your Gateway implementation, or use mode \'nginx\''],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthLb(props)).toThrow(message);
});
