import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { propError, requireWholeDuration } from './validation';

/** How a Deployment replaces its pods with those of a new version. */
export interface RolloutPolicy {
  /** Pods started above the desired count at once: a count, or a percentage such as '25%'. @default '25%' */
  readonly maxSurge?: number | string;
  /** Pods the desired count may lack at once: a count, or a percentage such as '10%'. @default 0 */
  readonly maxUnavailable?: number | string;
  /** Time a new pod must stay ready before it counts as available and the rollout goes on to the next. @default Duration.seconds(0) */
  readonly minReady?: Duration;
  /** Time without progress after which the Deployment marks the rollout failed (`ProgressDeadlineExceeded`). @default Duration.seconds(600) */
  readonly progressDeadline?: Duration;
}

/** The Deployment spec fields of a {@link RolloutPolicy}; the kubelet defaults (0 s, 600 s) are left out. */
export type RolloutSpec = Pick<k8s.DeploymentSpec, 'strategy' | 'minReadySeconds' | 'progressDeadlineSeconds'>;

const PERCENT = /^(\d{1,3})%$/;

/** Validates `rollout` (the prop named `prop`) and returns its Deployment spec fields. */
export function resolveRollout(scope: Construct, prop: string, rollout: RolloutPolicy = {}): RolloutSpec {
  const maxSurge = surgeOrUnavailable(scope, `${prop}.maxSurge`, rollout.maxSurge ?? '25%');
  const maxUnavailable = surgeOrUnavailable(scope, `${prop}.maxUnavailable`, rollout.maxUnavailable ?? 0);
  if (isZero(maxSurge) && isZero(maxUnavailable)) {
    throw propError(scope, `${prop}.maxUnavailable`, rollout.maxUnavailable ?? 0, `must not be 0 when '${prop}.maxSurge' is 0 too, or the rollout can never replace a pod`);
  }
  const minReadySeconds = requireWholeDuration(scope, `${prop}.minReady`, rollout.minReady ?? Duration.seconds(0), 'seconds', 0, 3600);
  const progressDeadlineSeconds = requireWholeDuration(scope, `${prop}.progressDeadline`, rollout.progressDeadline ?? Duration.seconds(600), 'seconds', 1, 86_400);
  if (progressDeadlineSeconds <= minReadySeconds) {
    throw propError(scope, `${prop}.progressDeadline`, `${progressDeadlineSeconds}s`, `must be longer than '${prop}.minReady' (${minReadySeconds}s)`);
  }
  return {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: intOrString(maxSurge), maxUnavailable: intOrString(maxUnavailable) } },
    // Left out at the API server's defaults, so manifests written before the prop stay as they were.
    ...(minReadySeconds > 0 ? { minReadySeconds } : {}),
    ...(progressDeadlineSeconds !== 600 ? { progressDeadlineSeconds } : {}),
  };
}

function surgeOrUnavailable(scope: Construct, prop: string, value: number | string): number | string {
  const percent = typeof value === 'string' ? PERCENT.exec(value) : null;
  const valid = typeof value === 'number' ? Number.isInteger(value) && value >= 0 && value <= 1000 : percent !== null && Number(percent[1]) <= 100;
  if (!valid) throw propError(scope, prop, value, 'must be a whole number of pods from 0 to 1000, or a percentage from \'0%\' to \'100%\'');
  return value;
}

function isZero(value: number | string): boolean {
  return value === 0 || (typeof value === 'string' && Number(value.slice(0, -1)) === 0);
}

function intOrString(value: number | string): k8s.IntOrString {
  return typeof value === 'number' ? k8s.IntOrString.fromNumber(value) : k8s.IntOrString.fromString(value);
}
