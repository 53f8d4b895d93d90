import { Chart, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { commonLabels, imageVersion, namespaceDnsSuffix, namespaceOf, resourceName, selectorLabels, serviceDnsSuffix } from '../lib/core/names';

test('a name is the chart, the path below it and the role, in lower case', () => {
  const chart = new Chart(Testing.app(), 'hscale');
  const db = new Construct(new Construct(chart, 'Data'), 'db');
  expect(resourceName(db)).toBe('hscale-data-db');
  expect(resourceName(db, 'ro')).toBe('hscale-data-db-ro');
});

test('selector labels are a subset of the common labels, which carry the version', () => {
  const api = new Construct(Testing.chart(), 'api');
  expect(selectorLabels(api, 'api')).toEqual({ 'app.kubernetes.io/instance': 'test-api', 'app.kubernetes.io/component': 'api' });
  expect(commonLabels(api, 'hscale-service', 'api', '1.0.0')).toEqual({
    'app.kubernetes.io/name': 'hscale-service',
    'app.kubernetes.io/instance': 'test-api',
    'app.kubernetes.io/component': 'api',
    'app.kubernetes.io/version': '1.0.0',
    'app.kubernetes.io/part-of': 'hscale',
    'app.kubernetes.io/managed-by': 'cdk8s',
  });
});

test('the version is the image tag, never a registry port or a digest', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  expect(imageVersion('localhost:5000/api:2.0')).toBe('2.0');
  expect(imageVersion(`api:1.2@${digest}`)).toBe('1.2');
  expect(imageVersion(`api@${digest}`)).toBeUndefined();
  expect(imageVersion('localhost:5000/api')).toBeUndefined();
});

test('the namespace is the chart\'s, when it has one', () => {
  expect(namespaceOf(new Construct(new Chart(Testing.app(), 'c', { namespace: 'prod' }), 'x'))).toBe('prod');
  expect(namespaceOf(new Construct(Testing.chart(), 'x'))).toBeUndefined();
});

test('throws error, when the name is longer than a DNS-1123 label', () => {
  const long = new Construct(Testing.chart(), 'a'.repeat(60));
  expect(() => resourceName(long, 'metrics')).toThrow(`test/${'a'.repeat(60)}: 'id' ("test-${'a'.repeat(60)}-metrics") must be a DNS-1123 label`);
});

test('throws error, when the chart id would start a Service name with a digit', () => {
  const chart = new Chart(Testing.app(), '1shop');
  expect(() => resourceName(new Construct(chart, 'api')))
    .toThrow('1shop/api: \'id\' ("1shop-api") must start with a letter: object names here are also Service names (RFC 1035 labels)');
});

test('the cluster DNS suffix is written once: a construct\'s namespace, default without one, and any namespace by name', () => {
  expect(serviceDnsSuffix(new Construct(new Chart(Testing.app(), 'shop', { namespace: 'orders' }), 'db'))).toBe('orders.svc.cluster.local');
  expect(serviceDnsSuffix(new Construct(Testing.chart(), 'db'))).toBe('default.svc.cluster.local');
  expect(namespaceDnsSuffix('kube-system')).toBe('kube-system.svc.cluster.local');
});
