import { Construct } from 'constructs';
import { propError, requireDnsLabel } from '../core/validation';

/**
 * Names of the objects of a {@link ScaledApi}, for runbooks and commands written against other
 * names (`kubectl describe hpa backend-hpa`). Whatever refers to an object follows its name: the
 * autoscaler's target, the load balancer's upstream, monitors, alerts and panels.
 */
export interface ScaledApiNames {
  /** Name of the Deployment, which its pods' names start with. @default - the construct's name, <chart>-<id> */
  readonly deployment?: string;
  /** Name of the HorizontalPodAutoscaler. @default - the construct's name, <chart>-<id> */
  readonly autoscaler?: string;
  /** Name of the PodDisruptionBudget. @default - the construct's name, <chart>-<id> */
  readonly disruptionBudget?: string;
  /** Name of the ClusterIP Service; the headless one is `<service>-pods`. @default - the construct's name, <chart>-<id> */
  readonly service?: string;
}

/** Each object's name, given or `fallback`, validated. */
export function resolveApiNames(scope: Construct, names: ScaledApiNames, fallback: string): Required<ScaledApiNames> {
  const name = (key: keyof ScaledApiNames) => requireDnsLabel(scope, `names.${key}`, names[key] ?? fallback);
  const service = name('service');
  // A Service name is an RFC 1035 label, and the headless Service's name is it with '-pods'.
  if (!/^[a-z]/.test(service) || service.length > 63 - '-pods'.length) {
    throw propError(scope, 'names.service', service, 'must start with a letter and be at most 58 characters (the headless Service adds \'-pods\')');
  }
  return { deployment: name('deployment'), autoscaler: name('autoscaler'), disruptionBudget: name('disruptionBudget'), service };
}
