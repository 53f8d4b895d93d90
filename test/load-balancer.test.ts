import { Chart, Duration, Size, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { ILoadBalancerBackend, LoadBalancer, LoadBalancerProps, ScaledApi } from '../lib';
import { externalRequirements } from '../lib/cluster/requirements';
import { resolveLoadBalancerSettings } from '../lib/load-balancer/load-balancer';
import { expectEveryObjectExposed } from './support/exposed';
import { findObject } from './support/find';
import { checkManifests, Manifest } from './support/manifest-checks';

/** A backend of a route: only its Service names, port and pods matter to the load balancer. */
const OTHER_BACKEND: ILoadBalancerBackend = {
  serviceName: 'other', headlessServiceName: 'other-pods', port: 8000, podSelector: { app: 'other' }, allowClient: () => undefined,
};

function synthLb(props: Partial<LoadBalancerProps> = {}) {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const lb = new LoadBalancer(chart, 'lb', { backend: api, ...props });
  return { lb, manifests: Testing.synth(chart) };
}


test('nginx mode synthesizes an autoscaled nginx tier in front of the API', async () => {
  const { manifests } = synthLb();
  expect(manifests.filter(m => m.metadata.name === 'test-lb')).toMatchSnapshot();
  await checkManifests(manifests);
  expect(findObject(manifests, 'Service', 'test-lb').spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
  expect(findObject(manifests, 'HorizontalPodAutoscaler', 'test-lb').spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
  expect(findObject(manifests, 'PodDisruptionBudget', 'test-lb').spec.maxUnavailable).toBe(1);
});

test('the upstream resolves the API\'s headless Service, so nginx balances per pod', () => {
  const { manifests } = synthLb();
  const conf: string = findObject(manifests, 'ConfigMap', 'test-lb').data['nginx.conf'];
  expect(conf).toContain('server test-api-pods.default.svc.cluster.local:8000 resolve max_fails=3 fail_timeout=10s;');
  expect(conf).toContain('least_conn;');
  expect(conf).toContain('resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;');
  expect(conf).toContain('rate=100r/s;');
  expect(conf).toContain('rate=5r/m;');
  expect(findObject(manifests, 'Service', 'test-api-pods').spec.clusterIP).toBe('None');
});

test('nginx runs unprivileged on 8080 with its config mounted and a writable /tmp', () => {
  const { manifests } = synthLb();
  const spec = findObject(manifests, 'Deployment', 'test-lb').spec.template.spec;
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

test('nginx\'s /tmp holds 16 request bodies at clientMaxBodySize beside 64 MiB, and never spools a response', () => {
  const tmpOf = (props: Partial<LoadBalancerProps>) => {
    const { manifests } = synthLb(props);
    const spec = findObject(manifests, 'Deployment', 'test-lb').spec.template.spec;
    expect(findObject(manifests, 'ConfigMap', 'test-lb').data['nginx.conf']).toMatch(/^ {2}client_body_temp_path \/tmp\/nginx\/client_body;$(\n.*){4}\n {2}proxy_max_temp_file_size 0;$/m);
    return spec.volumes.find((v: Manifest) => v.name === 'tmp').emptyDir.sizeLimit;
  };
  expect(tmpOf({})).toBe('80Mi');
  expect(tmpOf({ clientMaxBodySize: Size.mebibytes(100) })).toBe('1664Mi');
  expect(tmpOf({ clientMaxBodySize: Size.kibibytes(1536) })).toBe('88Mi');
});

test('one nginx worker per CPU of the limit, not one per CPU of the node', () => {
  const conf = (cpuLimit?: string) => findObject(synthLb(cpuLimit ? { resources: { cpuLimit } } : {}).manifests, 'ConfigMap', 'test-lb').data['nginx.conf'];
  expect(conf()).toMatch(/^worker_processes 1;$/m);
  expect(conf('1500m')).toMatch(/^worker_processes 2;$/m);
  expect(conf('250m')).toMatch(/^worker_processes 1;$/m);
});

test('a stopping pod serves through the cloud load balancer\'s health-check window, then quits within a grace period that covers both', () => {
  const pod = (props: Partial<LoadBalancerProps>) => findObject(synthLb(props).manifests, 'Deployment', 'test-lb').spec.template.spec;
  const preStop = (spec: Manifest) => spec.containers[0].lifecycle.preStop.exec.command[2];
  // 35 s of serving (AWS NLB's defaults take 30 s to mark a target unhealthy), 10 s for in-flight requests, 5 s of margin.
  expect(preStop(pod({}))).toBe('sleep 35 && nginx -s quit && sleep 10');
  expect(pod({}).terminationGracePeriodSeconds).toBe(50);
  expect(findObject(synthLb().manifests, 'ConfigMap', 'test-lb').data['nginx.conf']).toMatch(/^worker_shutdown_timeout 10s;$/m);
  expect(preStop(pod({ drainDelay: Duration.seconds(60) }))).toBe('sleep 60 && nginx -s quit && sleep 10');
  expect(pod({ drainDelay: Duration.seconds(60) }).terminationGracePeriodSeconds).toBe(75);
  expect(() => synthLb({ drainDelay: Duration.minutes(20) })).toThrow('test/lb: \'drainDelay\' ("1200s") must be a whole number of seconds from 0s to 600s');
});

test('with TLS, nginx is reloaded when the kubelet updates the renewed Secret\'s files; without, nothing watches', () => {
  const command = (props: Partial<LoadBalancerProps>) => findObject(synthLb(props).manifests, 'Deployment', 'test-lb').spec.template.spec.containers[0].command[2];
  const withTls: string = command({ tls: { secretName: 'site-tls' } });
  expect(withTls).toContain('cat /etc/nginx/tls/tls.crt /etc/nginx/tls/tls.key | md5sum');
  expect(withTls).toContain('kill -HUP "$(cat /tmp/nginx/nginx.pid)"');
  expect(withTls).toMatch(/\) <\/dev\/null >\/dev\/null 2>&1 & exec nginx -g 'daemon off;'$/);
  expect(command({})).toBe('mkdir -p /tmp/nginx || exit 1; exec nginx -g \'daemon off;\'');
});

test('a changed config changes the pod template, so pods roll', () => {
  const annotation = (m: Manifest[]) => findObject(m, 'Deployment', 'test-lb').spec.template.metadata.annotations['hscale.io/config-sha256'];
  expect(annotation(synthLb().manifests)).toMatch(/^[0-9a-f]{64}$/);
  expect(annotation(synthLb().manifests)).not.toBe(annotation(synthLb({ keepalive: 64 }).manifests));
});

test('TLS mounts the Secret, listens on 8443 and exposes 443', async () => {
  const { manifests } = synthLb({ tls: { secretName: 'site-tls' } });
  await checkManifests(manifests);
  const spec = findObject(manifests, 'Deployment', 'test-lb').spec.template.spec;
  expect(spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'site-tls' } });
  expect(findObject(manifests, 'Service', 'test-lb').spec.ports.map((p: Manifest) => p.port)).toEqual([80, 443]);
  expect(findObject(manifests, 'ConfigMap', 'test-lb').data['nginx.conf']).toContain('ssl_certificate /etc/nginx/tls/tls.crt;');
});

test('the NetworkPolicies link nginx and the API in both directions, and nothing else', () => {
  const { manifests } = synthLb();
  const lbPolicy = findObject(manifests, 'NetworkPolicy', 'test-lb').spec;
  const apiPolicy = findObject(manifests, 'NetworkPolicy', 'test-api').spec;
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
  const route = findObject(manifests, 'HTTPRoute', 'test-lb');
  expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
  expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateways', sectionName: 'https' }]);
  expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'test-api', port: 8000 }]);
  expect(findObject(manifests, 'NetworkPolicy', 'test-api').spec.ingress).toContainEqual({
    from: [{ podSelector: {}, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateways' } } }],
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
  ['the fail timeout is zero', { failTimeout: Duration.seconds(0) }, 'test/lb: \'failTimeout\' ("0s") must be a whole number of seconds from 1s to 3600s'],
  ['the login match is unknown', { loginMatch: 'regex' as never }, 'test/lb: \'loginMatch\' ("regex") must be one of \'exact\', \'prefix\''],
  ['gateway mode has no gateway', { mode: 'gateway' }, 'test/lb: \'gateway\' ("") must name the Gateway to attach to in \'gateway\' mode'],
  ['gateway mode is given rate limits', { mode: 'gateway', gateway: { name: 'public' }, apiRateLimit: { rate: 10, burst: 1 } },
    'test/lb: \'apiRateLimit\' ({"rate":10,"burst":1}) does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier; \'gateway\' attaches an HTTPRoute to an existing Gateway, whose implementation configures what a portable route cannot express'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthLb(props)).toThrow(message);
});

test('the login limit applies to the login path alone by default, and with loginMatch \'prefix\' to everything below it too', () => {
  const conf = (props: Partial<LoadBalancerProps>) => findObject(synthLb(props).manifests, 'ConfigMap', 'test-lb').data['nginx.conf'];
  expect(conf({})).toMatch(/location = \/api\/v1\/auth\/login \{\s+limit_req zone=login_requests/);
  expect(conf({ loginMatch: 'prefix' })).toMatch(/location \/api\/v1\/auth\/login \{\s+limit_req zone=login_requests/);
});

/** The FastNext guide's settings: a frontend beside the API, the API cache, HTTP/2, its timeouts and buffers. */
function synthGuideLb(props: Partial<LoadBalancerProps> = {}) {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const frontend = new ScaledApi(chart, 'frontend', { image: 'example/frontend:1.0.0' });
  new LoadBalancer(chart, 'lb', {
    backend: api,
    routes: [{ pathPrefix: '/', backend: frontend, rateLimited: false }, { pathPrefix: '/api/', backend: api }],
    tls: { secretName: 'site-tls' },
    http2: true,
    apiRateLimit: { rate: 100, burst: 20, per: 'minute' },
    nextUpstreamOn: ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503'],
    proxyTimeouts: { connect: Duration.seconds(5), send: Duration.seconds(60), read: Duration.seconds(60) },
    proxyBuffers: { headerBufferSize: Size.kibibytes(4), count: 8, bufferSize: Size.kibibytes(4) },
    websocketReadTimeout: Duration.minutes(10),
    proxyCache: {},
    health: 'backend',
    ...props,
  });
  return Testing.synth(chart);
}

test('the guides\' settings synthesize into nginx.conf, the pod and both NetworkPolicies', async () => {
  const manifests = synthGuideLb();
  expect(manifests.filter(m => m.metadata.name === 'test-lb')).toMatchSnapshot();
  await checkManifests(manifests);
  const conf: string = findObject(manifests, 'ConfigMap', 'test-lb').data['nginx.conf'];
  expect(conf).toContain('rate=100r/m;');
  expect(conf).toContain('listen 8443 ssl;\n    http2 on;');
  expect(conf).toContain('proxy_next_upstream error timeout invalid_header http_500 http_502 http_503;');
  expect(conf).toContain('proxy_connect_timeout 5s;\n  proxy_send_timeout 60s;\n  proxy_read_timeout 60s;');
  expect(conf).toContain('proxy_buffer_size 4k;\n  proxy_buffers 8 4k;');
  expect(conf).toMatch(/location \/ws\/ \{\n.*\n.*\n\s+proxy_read_timeout 600s;/);
  expect(conf).toContain('proxy_cache_path /var/cache/nginx/api levels=1:2 keys_zone=api_cache:100m max_size=1g inactive=3600s use_temp_path=off;');
  expect(conf).toContain('server test-frontend-pods.default.svc.cluster.local:8000 resolve max_fails=3 fail_timeout=10s;');
  expect(conf).toMatch(/location \/ \{\n[^}]*proxy_pass http:\/\/test-frontend;/);
  // The API's writes are resent on failures alone, in their own location; the frontend's never.
  expect(conf).toMatch(/location \/api\/ \{\n[^}]*error_page 418 = @writes_api_requests;\n(.*\n){3}[^}]*proxy_pass http:\/\/api;/);
  expect(conf).toMatch(/location @writes_api_requests \{\n[^}]*proxy_next_upstream error timeout non_idempotent;\n\s+proxy_pass http:\/\/api;/);
  // The cache gets its own emptyDir, larger than its max_size; the probes ask nginx alone.
  const spec = findObject(manifests, 'Deployment', 'test-lb').spec.template.spec;
  expect(spec.volumes).toContainEqual({ name: 'cache', emptyDir: { sizeLimit: '1280Mi' } });
  expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'cache', mountPath: '/var/cache/nginx/api' });
  expect(spec.containers[0].readinessProbe.httpGet.path).toBe('/nginx-health');
  expect(spec.containers[0].livenessProbe.httpGet.path).toBe('/nginx-health');
  // nginx may reach the frontend's port, and the frontend admits nginx.
  const lbPods = { 'app.kubernetes.io/instance': 'test-lb', 'app.kubernetes.io/component': 'load-balancer' };
  const frontendPods = { 'app.kubernetes.io/instance': 'test-frontend', 'app.kubernetes.io/component': 'api' };
  expect(findObject(manifests, 'NetworkPolicy', 'test-lb').spec.egress).toContainEqual({
    to: [{ podSelector: { matchLabels: frontendPods } }], ports: [{ protocol: 'TCP', port: 8000 }],
  });
  expect(findObject(manifests, 'NetworkPolicy', 'test-frontend').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: lbPods } }], ports: [{ protocol: 'TCP', port: 8000 }],
  });
});

test('the ops endpoints are internal by default: nginx answers 404, the HTTPRoute has a rule without a backend for each', () => {
  const conf: string = findObject(synthLb().manifests, 'ConfigMap', 'test-lb').data['nginx.conf'];
  expect(conf).toMatch(/location ~\* \^\/\(metrics\|api\/v1\/scaling\|api\/v1\/cache\)\(\/\|\$\) \{\n\s+return 404;\n\s+\}/);
  const custom: string = findObject(synthLb({ internalPaths: ['/admin/v1.0/'] }).manifests, 'ConfigMap', 'test-lb').data['nginx.conf'];
  expect(custom).toContain('location ~* ^/(admin/v1\\.0)(/|$) {');
  expect(findObject(synthLb({ internalPaths: [] }).manifests, 'ConfigMap', 'test-lb').data['nginx.conf']).not.toContain('return 404;');
  const route = findObject(synthLb({ mode: 'gateway', gateway: { name: 'public' } }).manifests, 'HTTPRoute', 'test-lb');
  expect(route.spec.rules.filter((rule: { backendRefs?: unknown }) => rule.backendRefs === undefined)).toEqual(
    ['/metrics', '/api/v1/scaling', '/api/v1/cache'].map(value => ({ matches: [{ path: { type: 'PathPrefix', value } }] })));
});

test('gateway mode turns routes into HTTPRoute rules, and every routed backend admits the Gateway', async () => {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const frontend = new ScaledApi(chart, 'frontend', { image: 'example/frontend:1.0.0' });
  new LoadBalancer(chart, 'lb', { backend: api, mode: 'gateway', gateway: { name: 'public' }, routes: [{ pathPrefix: '/app/', backend: frontend }] });
  const manifests = Testing.synth(chart);
  await checkManifests(manifests);
  expect(findObject(manifests, 'HTTPRoute', 'test-lb').spec.rules).toEqual([
    { matches: [{ path: { type: 'PathPrefix', value: '/app/' } }], backendRefs: [{ name: 'test-frontend', port: 8000 }] },
    { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'test-api', port: 8000 }] },
    ...['/metrics', '/api/v1/scaling', '/api/v1/cache'].map(value => ({ matches: [{ path: { type: 'PathPrefix', value } }] })),
  ]);
  expect(findObject(manifests, 'NetworkPolicy', 'test-frontend').spec.ingress).toContainEqual({
    from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8000 }],
  });
});

test.each<[string, Partial<LoadBalancerProps>, string]>([
  ['the rate unit is unknown', { apiRateLimit: { rate: 100, burst: 20, per: 'hour' as never } },
    'test/lb: \'apiRateLimit.per\' ("hour") must be one of \'second\', \'minute\''],
  ['the connect timeout is above 75 s', { proxyTimeouts: { connect: Duration.seconds(90) } },
    'test/lb: \'proxyTimeouts.connect\' ("90s") must be a whole number of seconds from 1s to 75s'],
  ['the read timeout is not whole seconds', { proxyTimeouts: { read: Duration.millis(1500) } },
    'test/lb: \'proxyTimeouts.read\' ("1.5s") must be a whole number of seconds from 1s to 3600s'],
  ['the send timeout is zero', { proxyTimeouts: { send: Duration.seconds(0) } },
    'test/lb: \'proxyTimeouts.send\' ("0s") must be a whole number of seconds from 1s to 3600s'],
  ['the websocket read timeout is the guide\'s 7 days', { websocketReadTimeout: Duration.days(7) },
    'test/lb: \'websocketReadTimeout\' ("604800s") must be a whole number of seconds from 1s to 86400s'],
  ['a buffer is not whole KiB', { proxyBuffers: { headerBufferSize: Size.kibibytes(4), count: 8, bufferSize: Size.kibibytes(4.5) } },
    'test/lb: \'proxyBuffers.bufferSize\' (4.5) must be a whole number of KiB from 1 to 1024'],
  ['there is one body buffer', { proxyBuffers: { headerBufferSize: Size.kibibytes(4), count: 1, bufferSize: Size.kibibytes(4) } },
    'test/lb: \'proxyBuffers.count\' (1) must be a whole number of buffers from 2 to 1024'],
  ['the buffers leave nginx no busy buffers', { proxyBuffers: { headerBufferSize: Size.kibibytes(8), count: 4, bufferSize: Size.kibibytes(4) } },
    'test/lb: \'proxyBuffers.count\' (4) must make (count - 1) x bufferSize exceed twice the larger buffer (16 KiB), as nginx requires'],
  ['a retry condition is unknown', { nextUpstreamOn: ['error', 'http_501' as never] },
    'test/lb: \'nextUpstreamOn[1]\' ("http_501") must be one of \'error\', \'timeout\', \'invalid_header\', \'http_500\''],
  ['no retry condition is given', { nextUpstreamOn: [] }, 'test/lb: \'nextUpstreamOn\' ("") must list one or more conditions, each once'],
  ['a retry condition is repeated', { nextUpstreamOn: ['error', 'error'] }, 'test/lb: \'nextUpstreamOn\' ("error error") must list one or more conditions, each once'],
  ['off is combined', { nextUpstreamOn: ['off', 'error'] }, 'test/lb: \'nextUpstreamOn\' ("off error") must hold \'off\' alone or not at all'],
  ['non_idempotent is alone', { nextUpstreamOn: ['non_idempotent'] },
    'test/lb: \'nextUpstreamOn\' ("non_idempotent") must also hold the conditions to retry on: \'non_idempotent\' only extends them to POST, LOCK and PATCH'],
  ['writes are to be resent while nextUpstreamOn is off', { nextUpstreamOn: ['off'], resendWrites: true },
    'test/lb: \'resendWrites\' (true) must be left unset: \'nextUpstreamOn\' (off) holds \'off\', which already decides for writes'],
  ['writes are to be resent while nextUpstreamOn resends every write', { nextUpstreamOn: ['error', 'non_idempotent'], resendWrites: true },
    'test/lb: \'resendWrites\' (true) must be left unset: \'nextUpstreamOn\' (error non_idempotent) holds \'non_idempotent\''],
  ['writes are to be resent with no failure to resend them on', { nextUpstreamOn: ['http_503'], resendWrites: true },
    'test/lb: \'resendWrites\' (true) needs \'error\' or \'timeout\' in \'nextUpstreamOn\' (http_503): the failures a write is resent on'],
  ['gateway mode is asked to resend writes', { mode: 'gateway', gateway: { name: 'public' }, resendWrites: true },
    'test/lb: \'resendWrites\' (true) does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier; \'gateway\' attaches an HTTPRoute to an existing Gateway, whose implementation configures what a portable route cannot express'],
  ['HTTP/2 is asked without TLS', { http2: true }, 'test/lb: \'http2\' (true) needs \'tls\': HTTP/2 is served on the TLS listener only'],
  ['the cache keys outgrow the memory limit', { proxyCache: { keysZoneSize: Size.mebibytes(200) } },
    'test/lb: \'proxyCache.keysZoneSize\' ("200Mi") must be at most half of \'resources.memoryLimit\' (256Mi): the keys live in nginx\'s memory'],
  ['the cache size is zero', { proxyCache: { maxSize: Size.mebibytes(0) } }, 'test/lb: \'proxyCache.maxSize\' (0) must be a whole number of MiB from 1 to 1048576'],
  ['the cache inactivity is not whole seconds', { proxyCache: { inactive: Duration.millis(500) } },
    'test/lb: \'proxyCache.inactive\' ("0.5s") must be a whole number of seconds from 1s to 2592000s'],
  ['the body size limit is not whole KiB', { clientMaxBodySize: Size.kibibytes(0.5) }, 'test/lb: \'clientMaxBodySize\' (0.5) must be a whole number of KiB from 1 to 1073741824'],
  ['the body size limit is a string, as before 1.0', { clientMaxBodySize: '10m' as never }, 'test/lb: \'clientMaxBodySize\' ("10m") must be a Size, e.g. Size.mebibytes(1)'],
  ['the proxy cache is given by its name of before 1.0', { cache: {} } as never,
    'test/lb: \'cache\' was renamed to \'proxyCache\' before 1.0 (nginx\'s cache of responses; \'cache\' is a Redis everywhere else); see CHANGELOG.md, "Renamed and removed props"'],
  ['the health source is unknown', { health: 'database' as never }, 'test/lb: \'health\' ("database") must be one of \'nginx\', \'backend\''],
  ['a route prefix does not start with /', { routes: [{ pathPrefix: 'static', backend: OTHER_BACKEND }] },
    'test/lb: \'routes[0].pathPrefix\' ("static") must start with \'/\' and hold only letters, digits and \'.\', \'_\', \'~\', \'/\', \'-\''],
  ['a route prefix holds a brace', { routes: [{ pathPrefix: '/a{', backend: OTHER_BACKEND }] },
    'test/lb: \'routes[0].pathPrefix\' ("/a{") must start with \'/\''],
  ['a prefix login path is also a route', { loginMatch: 'prefix', routes: [{ pathPrefix: '/api/v1/auth/login', backend: OTHER_BACKEND }] },
    'test/lb: \'routes[0].pathPrefix\' ("/api/v1/auth/login") is already the prefix of \'loginPath\''],
  ['a route prefix is the websocket path', { routes: [{ pathPrefix: '/ws', backend: OTHER_BACKEND }] },
    'test/lb: \'routes[0].pathPrefix\' ("/ws") is already the prefix of \'websocketPath\''],
  ['an internal path is the root, which would refuse every request', { internalPaths: ['/metrics', '/'] },
    'test/lb: \'internalPaths[1]\' ("/") must start with \'/\', name something below \'/\' and hold only letters, digits and \'.\', \'_\', \'~\', \'/\', \'-\''],
  ['an internal path holds a regex character', { internalPaths: ['/metrics|.*'] }, 'test/lb: \'internalPaths[0]\' ("/metrics|.*") must start with \'/\''],
  ['two routes share a prefix', { routes: [{ pathPrefix: '/a/', backend: OTHER_BACKEND }, { pathPrefix: '/a/', backend: OTHER_BACKEND }] },
    'test/lb: \'routes[1].pathPrefix\' ("/a/") is already the prefix of \'routes[0]\''],
  ['gateway mode is given proxy timeouts', { mode: 'gateway', gateway: { name: 'public' }, proxyTimeouts: { read: Duration.seconds(60) } },
    'test/lb: \'proxyTimeouts\' ({"read":"Duration 1 minute"}) does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier; \'gateway\' attaches an HTTPRoute to an existing Gateway, whose implementation configures what a portable route cannot express'],
  ['gateway mode is given proxy buffers', { mode: 'gateway', gateway: { name: 'public' }, proxyBuffers: { headerBufferSize: Size.kibibytes(8), count: 16, bufferSize: Size.kibibytes(8) } },
    'test/lb: \'proxyBuffers\' ({"headerBufferSize":"Size 8KiB","count":16,"bufferSize":"Size 8KiB"}) does not apply to mode \'gateway\''],
  ['a routed backend\'s Service is named like the main upstream', { routes: [{ pathPrefix: '/app/', backend: { ...OTHER_BACKEND, serviceName: 'api' } }] },
    'test/lb: \'routes[0].backend\' ("api") must have a Service name other than the upstream name of \'backend\''],
  ['gateway mode is given a cache', { mode: 'gateway', gateway: { name: 'public' }, proxyCache: {} },
    'test/lb: \'proxyCache\' ({}) does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier; \'gateway\' attaches an HTTPRoute to an existing Gateway, whose implementation configures what a portable route cannot express'],
  ['gateway mode is given HTTP/2', { mode: 'gateway', gateway: { name: 'public' }, http2: true },
    'test/lb: \'http2\' (true) does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier; \'gateway\' attaches an HTTPRoute to an existing Gateway, whose implementation configures what a portable route cannot express'],
  ['gateway mode is given an nginx image', { mode: 'gateway', gateway: { name: 'public' }, image: 'nginx:1.27.4' },
    'test/lb: \'image\' ("nginx:1.27.4") does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier;'],
  ['ingress mode is given nginx replicas', { mode: 'ingress', ingressClassName: 'traefik', minReplicas: 3 },
    'test/lb: \'minReplicas\' (3) does not apply to mode \'ingress\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier;'],
  ['gateway mode is given nginx resources', { mode: 'gateway', gateway: { name: 'public' }, resources: { cpuLimit: '2' } },
    'test/lb: \'resources\' ({"cpuLimit":"2"}) does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier;'],
  ['gateway mode is given a health source', { mode: 'gateway', gateway: { name: 'public' }, health: 'backend' },
    'test/lb: \'health\' ("backend") does not apply to mode \'gateway\': it is a prop of mode \'nginx\' (\'nginx\' runs our own nginx tier; \'gateway\' attaches an HTTPRoute to an existing Gateway, whose implementation configures what a portable route cannot express'],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthLb(props)).toThrow(message);
});

function resolveFor(props: Partial<LoadBalancerProps> = {}) {
  const chart = Testing.chart();
  const backend = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  const scope = new Construct(chart, 'lb');
  return { chart, scope, backend, settings: resolveLoadBalancerSettings(scope, { backend, ...props }) };
}

test('the resolved settings of nginx mode carry every production default', () => {
  const { backend, settings } = resolveFor();
  expect(settings).toEqual({
    mode: 'nginx',
    backend,
    image: 'nginxinc/nginx-unprivileged:1.27.4-alpine',
    exporterImage: 'nginx/nginx-prometheus-exporter:1.4.2',
    minReplicas: 2,
    maxReplicas: 10,
    cpuUtilization: 70,
    apiRateLimit: { rate: 100, burst: 20, per: 'second' },
    loginRateLimit: { rate: 5, burst: 3, per: 'minute' },
    loginPath: '/api/v1/auth/login', loginMatch: 'exact',
    websocketPath: '/ws',
    internalPaths: ['/metrics', '/api/v1/scaling', '/api/v1/cache'],
    maxFails: 3,
    failTimeoutSeconds: 10,
    keepalive: 32,
    nextUpstreamTries: 3,
    nextUpstreamConditions: ['error', 'timeout', 'http_502', 'http_503'],
    writeResendConditions: ['error', 'timeout', 'non_idempotent'],
    proxyTimeouts: { connectSeconds: 2, sendSeconds: 30, readSeconds: 30 },
    websocketReadTimeoutSeconds: 3600,
    http2: false,
    health: 'nginx',
    routes: [],
    clientMaxBodySize: '1m',
    resolver: 'kube-dns.kube-system.svc.cluster.local',
    resources: { requests: { cpu: { value: '100m' }, memory: { value: '128Mi' } }, limits: { cpu: { value: '1' }, memory: { value: '256Mi' } } },
    metricsScraper: { podSelector: { 'app.kubernetes.io/name': 'prometheus' }, namespaceSelector: { 'kubernetes.io/metadata.name': 'monitoring' } },
    workerProcesses: 1,
    drainDelaySeconds: 35,
    pod: {},
  });
});

test.each<[string, Partial<LoadBalancerProps>, string[] | undefined]>([
  ['resending turned off', { resendWrites: false }, undefined],
  ['retries only on timeouts', { nextUpstreamOn: ['timeout', 'http_504'] }, ['timeout', 'non_idempotent']],
  ['no retry on failures', { nextUpstreamOn: ['http_503'] }, undefined],
  ['retries off', { nextUpstreamOn: ['off'] }, undefined],
  ['every write retried by nextUpstreamOn', { nextUpstreamOn: ['error', 'http_503', 'non_idempotent'] }, undefined],
])('writes are resent on the failures of nextUpstreamOn alone: %s', (_case, props, conditions) => {
  expect(resolveFor(props).settings).toHaveProperty('writeResendConditions', conditions);
});

test('the resolved settings keep given values and count the fail timeout in seconds', () => {
  const { settings } = resolveFor({
    apiRateLimit: { rate: 100, burst: 20, per: 'minute' }, loginRateLimit: { rate: 10, burst: 0 }, failTimeout: Duration.minutes(1), keepalive: 64,
    tls: { secretName: 'site-tls' }, websocketReadTimeout: Duration.minutes(5), proxyCache: { maxSize: Size.mebibytes(512) },
    clientMaxBodySize: Size.kibibytes(1536),
  });
  expect(settings).toMatchObject({
    apiRateLimit: { rate: 100, burst: 20, per: 'minute' }, loginRateLimit: { rate: 10, burst: 0, per: 'minute' }, failTimeoutSeconds: 60, keepalive: 64,
    tls: { secretName: 'site-tls' }, websocketReadTimeoutSeconds: 300, proxyCache: { keysZoneMib: 100, maxSizeMib: 512, inactiveSeconds: 3600 },
    clientMaxBodySize: '1536k',
  });
});

test('the resolved settings of gateway mode hold only what the route needs, and admit the Gateway\'s namespace by default', () => {
  const { backend, settings } = resolveFor({ mode: 'gateway', gateway: { name: 'public', namespace: 'gateways' } });
  expect(settings).toEqual({
    mode: 'gateway',
    backend,
    routes: [],
    internalPaths: ['/metrics', '/api/v1/scaling', '/api/v1/cache'],
    gateway: { name: 'public', namespace: 'gateways' },
    gatewayPods: { podSelector: {}, namespaceSelector: { 'kubernetes.io/metadata.name': 'gateways' } },
  });
});

test('resolving the settings creates nothing and opens no port of the backend', () => {
  // GIVEN
  const apiOnly = Testing.chart();
  new ScaledApi(apiOnly, 'api', { image: 'example/api:1.0.0' });
  // WHEN
  const { chart, scope, settings } = resolveFor({ tls: { secretName: 'site-tls' } });
  // THEN
  expect(settings.mode).toBe('nginx');
  expect(scope.node.children).toEqual([]);
  expect(Testing.synth(chart)).toEqual(Testing.synth(apiOnly));
});

test('throws error, when the settings are resolved with keepalive 0', () => {
  expect(() => resolveFor({ keepalive: 0 })).toThrow('test/lb: \'keepalive\' (0) must be an integer from 1 to 10000');
});

test('a certificate from a named issuer: cert-manager writes the TLS Secret nginx mounts, and nothing is left to make by hand', async () => {
  // GIVEN
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  // WHEN
  new LoadBalancer(chart, 'lb', { backend: api, tls: { secretName: 'shop-tls', certificate: { issuer: 'letsencrypt-prod', dnsNames: ['shop.example.com'] } } });
  const manifests = Testing.synth(chart);
  // THEN
  expect(findObject(manifests, 'Certificate', 'shop-lb').spec).toEqual({
    secretName: 'shop-tls', dnsNames: ['shop.example.com'], issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'letsencrypt-prod' },
  });
  expect(findObject(manifests, 'Deployment', 'shop-lb').spec.template.spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'shop-tls' } });
  await checkManifests(manifests); // the Certificate against @kubernetes-models/cert-manager's schema
  const r = externalRequirements(manifests);
  expect(r.secrets.map(s => s.name)).not.toContain('shop-tls');
  expect(r.createdSecrets).toContainEqual({ namespace: 'shop', name: 'shop-tls', by: 'Certificate/shop-lb' });
  expect(r.operators.map(o => o.operator)).toContain('cert-manager');
});

test('throws error, when a certificate names no DNS name', () => {
  const chart = Testing.chart();
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  expect(() => new LoadBalancer(chart, 'lb', { backend: api, tls: { secretName: 'tls', certificate: { issuer: 'le', dnsNames: [] } } }))
    .toThrow('test/lb: \'tls.certificate.dnsNames\' ("[]") must name at least one DNS name to certify');
});

const TRAEFIK_PODS = { podSelector: { 'app.kubernetes.io/name': 'traefik' }, namespaceSelector: { 'kubernetes.io/metadata.name': 'traefik' } };

test('ingress mode emits an Ingress with TLS for the named class, admits the controller\'s pods and lists the controller as a requirement', async () => {
  // GIVEN
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop' });
  const api = new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' });
  // WHEN
  const lb = new LoadBalancer(chart, 'lb', {
    backend: api, mode: 'ingress', ingressClassName: 'traefik', ingressControllerPods: TRAEFIK_PODS,
    hostnames: ['shop.example.com'], tls: { secretName: 'shop-tls' },
  });
  const manifests = Testing.synth(chart);
  // THEN
  await checkManifests(manifests); // the Ingress against the Kubernetes schema; the closed Service is empty on purpose
  const ingress = findObject(manifests, 'Ingress', 'shop-lb');
  expect(lb.ingress).toBeDefined();
  expect(ingress.apiVersion).toBe('networking.k8s.io/v1');
  expect(ingress.spec.ingressClassName).toBe('traefik');
  expect(ingress.spec.tls).toEqual([{ hosts: ['shop.example.com'], secretName: 'shop-tls' }]);
  const backendOf = (path: string) => ingress.spec.rules[0].http.paths.find((p: Manifest) => p.path === path).backend.service;
  expect(ingress.spec.rules[0].host).toBe('shop.example.com');
  expect(backendOf('/')).toEqual({ name: 'shop-api', port: { number: 8000 } });
  // The API's internal paths go to a Service without endpoints: the controller answers 503 and forwards none.
  expect(backendOf('/metrics').name).toBe('shop-lb-closed');
  expect(findObject(manifests, 'Service', 'shop-lb-closed').spec.selector).toBeUndefined();
  expect(findObject(manifests, 'NetworkPolicy', 'shop-api').spec.ingress).toContainEqual({
    from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'traefik' } }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } } }],
    ports: [{ protocol: 'TCP', port: 8000 }],
  });
  expect(manifests.filter(m => m.kind === 'Deployment').map(m => m.metadata.name)).toEqual(['shop-api']);
  const r = externalRequirements(manifests);
  expect(r.addons).toContainEqual(expect.objectContaining({ addon: 'an Ingress controller', reason: expect.stringContaining('(traefik): Ingress/shop-lb') }));
  expect(r.secrets).toContainEqual(expect.objectContaining({ name: 'shop-tls' }));
});

test('ingress mode takes its hosts and TLS Secret from a cert-manager certificate', () => {
  const { manifests } = synthLb({
    mode: 'ingress', ingressClassName: 'traefik', ingressControllerPods: TRAEFIK_PODS,
    tls: { secretName: 'shop-tls', certificate: { issuer: 'letsencrypt-prod', dnsNames: ['shop.example.com', 'www.shop.example.com'] } },
  });
  const ingress = findObject(manifests, 'Ingress', 'test-lb');
  expect(ingress.spec.tls).toEqual([{ hosts: ['shop.example.com', 'www.shop.example.com'], secretName: 'shop-tls' }]);
  expect(ingress.spec.rules.map((rule: Manifest) => rule.host)).toEqual(['shop.example.com', 'www.shop.example.com']);
  expect(findObject(manifests, 'Certificate', 'test-lb').spec.secretName).toBe('shop-tls');
});

test.each<[string, Partial<LoadBalancerProps>, string]>([
  ['ingress mode names no class', { mode: 'ingress', ingressControllerPods: TRAEFIK_PODS },
    'test/lb: \'ingressClassName\' ("") must name the IngressClass of the cluster\'s Ingress controller in \'ingress\' mode'],
  ['ingress mode selects no controller pods', { mode: 'ingress', ingressClassName: 'traefik' },
    'test/lb: \'ingressControllerPods\' ("") must select the Ingress controller\'s pods in \'ingress\' mode'],
  ['ingress mode has TLS without host names', { mode: 'ingress', ingressClassName: 'traefik', ingressControllerPods: TRAEFIK_PODS, tls: { secretName: 'tls' } },
    'test/lb: \'hostnames\' ("[]") must name the host names the certificate of \'tls\' serves in \'ingress\' mode'],
  ['ingress mode is given rate limits', { mode: 'ingress', ingressClassName: 'traefik', ingressControllerPods: TRAEFIK_PODS, apiRateLimit: { rate: 10, burst: 1 } },
    'test/lb: \'apiRateLimit\' ({"rate":10,"burst":1}) does not apply to mode \'ingress\': it is a prop of mode \'nginx\''],
  ['gateway mode is given TLS, which is the Gateway listener\'s', { mode: 'gateway', gateway: { name: 'public' }, tls: { secretName: 'tls' } },
    'test/lb: \'tls\' ({"secretName":"tls"}) does not apply to mode \'gateway\''],
  ['nginx mode is given an ingress class', { ingressClassName: 'traefik' },
    'test/lb: \'ingressClassName\' ("traefik") does not apply to mode \'nginx\': it is a prop of mode \'ingress\''],
])('throws error, when %s', (_case, props, message) => {
  expect(() => synthLb(props)).toThrow(message);
});

const CERTIFICATE = { secretName: 'shop-tls', certificate: { issuer: 'letsencrypt-prod', dnsNames: ['shop.example.com'] } };

test.each([
  ['nginx', { tls: CERTIFICATE, pod: { serviceAccountAnnotations: { 'iam.example.com/role': 'lb' } } }],
  ['gateway', { mode: 'gateway', gateway: { name: 'public' } }],
  ['ingress', { mode: 'ingress', ingressClassName: 'traefik', ingressControllerPods: TRAEFIK_PODS, tls: CERTIFICATE }],
] as Array<[string, Partial<LoadBalancerProps>]>)('%s mode exposes every object it makes, as the object synthesized', (_mode, props) => {
  const { lb } = synthLb(props);
  expectEveryObjectExposed(lb, [
    lb.configMap, lb.deployment, lb.service, lb.autoscaler, lb.disruptionBudget, lb.networkPolicy?.policy, lb.serviceAccount,
    lb.httpRoute, lb.ingress, lb.closedService, lb.certificate,
  ]);
});
