import { Duration, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import {
  closestName, formatValue, parseQuantity, propError, requireDnsLabel, requireIntInRange, requireOneOf, requirePinnedImage, requirePort,
  requirePositive, requireQuantity,
} from '../lib/core/validation';

const scope = () => new Construct(Testing.chart(), 'thing');
const DIGEST = `sha256:${'a'.repeat(64)}`;

test('an error names the construct path, the prop, the value and the rule', () => {
  expect(propError(scope(), 'mode', 'fast', 'must be slow').message).toBe('test/thing: \'mode\' ("fast") must be slow');
  expect(propError(scope(), 'size', 3, 'must be 2').message).toBe('test/thing: \'size\' (3) must be 2');
});

test('valid values are returned unchanged', () => {
  expect(requireIntInRange(scope(), 'n', 1, 1, 3)).toBe(1);
  expect(requirePort(scope(), 'port', 65535)).toBe(65535);
  expect(requirePositive(scope(), 'rate', 0.5)).toBe(0.5);
  expect(requireOneOf(scope(), 'mode', 'b', ['a', 'b'])).toBe('b');
  expect(requireDnsLabel(scope(), 'id', 'a-1')).toBe('a-1');
  expect(requireQuantity(scope(), 'memory', '512Mi')).toBe(512 * 2 ** 20);
});

test('pinned images: a tag other than latest, or a digest, with or without a registry port', () => {
  for (const image of ['api:1', 'redis:7', 'ghcr.io/org/api:1.4.2', 'localhost:5000/team/api:v2', `api@${DIGEST}`, `api:latest@${DIGEST}`]) {
    expect(requirePinnedImage(scope(), 'image', image)).toBe(image);
  }
});

test('quantities parse to plain numbers, exponents and exa apart', () => {
  expect([parseQuantity('250m'), parseQuantity('1.5Gi'), parseQuantity('2k'), parseQuantity('1e3'), parseQuantity('1E')])
    .toEqual([0.25, 1.5 * 2 ** 30, 2000, 1000, 1e18]);
  expect([parseQuantity(''), parseQuantity('1.2.3'), parseQuantity('10 Mi'), parseQuantity('1mi')]).toEqual([undefined, undefined, undefined, undefined]);
});

test.each<[string, () => unknown, string]>([
  ['an integer prop is fractional', () => requireIntInRange(scope(), 'n', 1.5, 1, 3), 'test/thing: \'n\' (1.5) must be an integer from 1 to 3'],
  ['a port is 0', () => requirePort(scope(), 'port', 0), 'test/thing: \'port\' (0) must be an integer from 1 to 65535'],
  ['a positive number is NaN', () => requirePositive(scope(), 'rate', NaN), 'test/thing: \'rate\' (NaN) must be a number greater than 0'],
  ['a value is not among the allowed', () => requireOneOf(scope(), 'mode', 'c', ['a', 'b']), 'test/thing: \'mode\' ("c") must be one of \'a\', \'b\''],
  ['a label ends with a dash', () => requireDnsLabel(scope(), 'id', 'api-'), 'test/thing: \'id\' ("api-") must be a DNS-1123 label'],
  ['a label is 64 characters', () => requireDnsLabel(scope(), 'id', 'a'.repeat(64)), `test/thing: 'id' ("${'a'.repeat(64)}") must be a DNS-1123 label`],
  ['an image has upper case', () => requirePinnedImage(scope(), 'image', 'Example/api:1'), 'test/thing: \'image\' ("Example/api:1") must be an image reference pinned'],
  ['an image names only a registry port', () => requirePinnedImage(scope(), 'image', 'localhost:5000/api'),
    'test/thing: \'image\' ("localhost:5000/api") must be an image reference pinned'],
  ['a quantity is zero', () => requireQuantity(scope(), 'cpu', '0'), 'test/thing: \'cpu\' ("0") must be a Kubernetes quantity greater than 0'],
])('throws error, when %s', (_case, call, message) => {
  expect(call).toThrow(message);
});

test('the closest name is within two edits, or shares the first three quarters of the name', () => {
  const known = ['replicas', 'queue', 'image', 'liveness', 'readiness', 'startup'];
  expect(['replica', 'Queues', 'ready', 'start', 'storage', 'rea'].map(name => closestName(name, known)))
    .toEqual(['replicas', 'queue', 'readiness', 'startup', undefined, undefined]);
});

test('values are quoted as JSON, with Durations as their length and constructs as their class and path', () => {
  const chart = Testing.chart();
  const thing = new Construct(chart, 'thing');
  expect([formatValue('a'), formatValue(3), formatValue(undefined), formatValue(() => 1), formatValue(null)])
    .toEqual(['"a"', '3', 'undefined', 'a function', 'null']);
  expect(formatValue({ delay: Duration.seconds(90), db: thing, at: new Date(0), list: [1] }))
    .toBe('{"delay":"Duration 1 minute 30 seconds","db":"Construct test/thing","at":"1970-01-01T00:00:00.000Z","list":[1]}');
});
