import { Testing } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import {
  ContainerResources, CONTAINER_LOG_ROOM_MIB, nodeAntiAffinity, resolveResources, scratchVolume, withEphemeralStorage, zoneAndNodeSpread,
} from '../lib/core/pod-defaults';

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

describe('withEphemeralStorage', () => {
  const storage = (c: k8s.Container) => [c.resources?.requests?.['ephemeral-storage']?.value, c.resources?.limits?.['ephemeral-storage']?.value];
  const cache = scratchVolume('cache', '/cache', '1Gi');
  const tmp = scratchVolume('tmp', '/tmp');
  const shm: k8s.Volume = { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('256Mi') } };

  test('each container gets its logs plus the disk emptyDirs it mounts first; a memory emptyDir counts as memory', () => {
    const spec = withEphemeralStorage({
      volumes: [cache.volume, tmp.volume, shm],
      containers: [
        { name: 'server', volumeMounts: [cache.mount, tmp.mount, { name: 'shm', mountPath: '/dev/shm' }], resources: { limits: { cpu: k8s.Quantity.fromString('1') } } },
        { name: 'sidecar', volumeMounts: [tmp.mount] },
      ],
    });
    expect(spec.containers.map(storage)).toEqual([
      [`${CONTAINER_LOG_ROOM_MIB + 1024 + 64}Mi`, `${CONTAINER_LOG_ROOM_MIB + 1024 + 64}Mi`],
      [`${CONTAINER_LOG_ROOM_MIB}Mi`, `${CONTAINER_LOG_ROOM_MIB}Mi`],
    ]);
    expect(spec.containers[0].resources?.limits?.cpu?.value).toBe('1');
  });

  test('an init container, which runs alone, counts every disk emptyDir it mounts', () => {
    const spec = withEphemeralStorage({
      volumes: [tmp.volume],
      initContainers: [{ name: 'init', volumeMounts: [tmp.mount] }],
      containers: [{ name: 'server', volumeMounts: [tmp.mount] }],
    });
    expect([...spec.initContainers!, ...spec.containers].map(c => storage(c)[1])).toEqual(['114Mi', '114Mi']);
  });

  test('throws error, when a disk emptyDir has no size limit', () => {
    expect(() => withEphemeralStorage({ volumes: [{ name: 'scratch', emptyDir: {} }], containers: [{ name: 'server' }] }))
      .toThrow('emptyDir scratch has no sizeLimit');
  });
});
