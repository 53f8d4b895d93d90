import { Duration } from 'cdk8s';
import { ScalingPolicy } from '../lib';

/** An HPA policy as the guides write it: at most `percent`% of the pods per `seconds`. */
export function percentPer(percent: number, seconds: number): ScalingPolicy {
  return { type: 'Percent', value: percent, period: Duration.seconds(seconds) };
}

/** An HPA policy as the guides write it: at most `pods` pods per `seconds`. */
export function podsPer(pods: number, seconds: number): ScalingPolicy {
  return { type: 'Pods', value: pods, period: Duration.seconds(seconds) };
}
