import { Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { ContainerResources, nodeAntiAffinity, resolveResources, zoneAndNodeSpread } from '../lib/core/pod-defaults';

const DEFAULTS: ContainerResources = { cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi' };
const scope = () => new Construct(Testing.chart(), 'thing');

test('given resources override the defaults one by one', () => {
  const resources = resolveResources(scope(), 'resources', { memoryLimit: '2Gi' }, DEFAULTS);
  expect([resources.requests?.cpu, resources.requests?.memory, resources.limits?.cpu, resources.limits?.memory].map(q => q?.value))
    .toEqual(['250m', '256Mi', '1', '2Gi']);
});

test('a request equal to its limit is allowed, with mixed units compared by value', () => {
  expect(() => resolveResources(scope(), 'resources', { cpuRequest: '1000m', memoryRequest: '1024Mi' }, DEFAULTS)).not.toThrow();
});

test('spread covers zones first, then nodes, for the given pods, as a rule when required', () => {
  const spread = zoneAndNodeSpread({ app: 'a' }, 'required');
  expect(spread.map(s => [s.topologyKey, s.maxSkew, s.whenUnsatisfiable, s.labelSelector?.matchLabels])).toEqual([
    ['topology.kubernetes.io/zone', 1, 'DoNotSchedule', { app: 'a' }],
    ['kubernetes.io/hostname', 1, 'DoNotSchedule', { app: 'a' }],
  ]);
});

test('anti-affinity is a preference unless required', () => {
  expect(nodeAntiAffinity({ app: 'a' }, 'preferred').podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  expect(nodeAntiAffinity({ app: 'a' }, 'required').podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0].topologyKey)
    .toBe('kubernetes.io/hostname');
});

test('throws error, when a memory request exceeds its limit', () => {
  expect(() => resolveResources(scope(), 'exporter', { memoryRequest: '2Gi' }, DEFAULTS))
    .toThrow('test/thing: \'exporter.memoryRequest\' ("2Gi") must be less than or equal to \'exporter.memoryLimit\' (1Gi) for memory');
});
