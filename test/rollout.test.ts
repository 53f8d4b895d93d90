import { Duration, Testing } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { RolloutPolicy } from '../lib';
import { resolveRollout } from '../lib/core/rollout';

const scope = () => new Construct(Testing.chart(), 'api');
// IntOrString as it is written into the manifest.
const resolve = (rollout?: RolloutPolicy) => JSON.parse(JSON.stringify(resolveRollout(scope(), 'rollout', rollout),
  (_key, value: unknown) => (value instanceof k8s.IntOrString ? value.value : value)));

test('by default a rollout surges 25% and takes no ready pod away, at the API server\'s default timings', () => {
  expect(resolve()).toEqual({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } } });
});

test('one pod at a time, each ready for 30 s before the next, with a shorter progress deadline', () => {
  expect(resolve({ maxSurge: 1, maxUnavailable: 0, minReady: Duration.seconds(30), progressDeadline: Duration.minutes(5) })).toEqual({
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, minReadySeconds: 30, progressDeadlineSeconds: 300,
  });
});

test('percentages pass as strings, counts as numbers', () => {
  expect(resolve({ maxSurge: 0, maxUnavailable: '10%' }).strategy.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: '10%' });
});

test.each<[string, RolloutPolicy, string]>([
  ['neither surge nor unavailability is allowed', { maxSurge: '0%', maxUnavailable: 0 },
    'test/api: \'rollout.maxUnavailable\' (0) must not be 0 when \'rollout.maxSurge\' is 0 too, or the rollout can never replace a pod'],
  ['a surge above 100%', { maxSurge: '150%' },
    'test/api: \'rollout.maxSurge\' ("150%") must be a whole number of pods from 0 to 1000, or a percentage from \'0%\' to \'100%\''],
  ['a negative unavailability', { maxUnavailable: -1 },
    'test/api: \'rollout.maxUnavailable\' (-1) must be a whole number of pods from 0 to 1000, or a percentage from \'0%\' to \'100%\''],
  ['a fractional surge', { maxSurge: 1.5 },
    'test/api: \'rollout.maxSurge\' (1.5) must be a whole number of pods from 0 to 1000, or a percentage from \'0%\' to \'100%\''],
  ['a progress deadline within minReady', { minReady: Duration.minutes(2), progressDeadline: Duration.minutes(1) },
    'test/api: \'rollout.progressDeadline\' ("60s") must be longer than \'rollout.minReady\' (120s)'],
])('throws error, when %s', (_case, rollout, message) => {
  expect(() => resolveRollout(scope(), 'rollout', rollout)).toThrow(message);
});
