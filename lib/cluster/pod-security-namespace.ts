import { JsonPatch } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { namespaceOf } from '../core/names';
import { validateProps } from '../core/prop-validation';
import { propError, requireDnsLabel, requireOneOf } from '../core/validation';

/** A Pod Security Standards profile, as Pod Security Admission names it. */
export type PodSecurityLevel = 'privileged' | 'baseline' | 'restricted';
const LEVELS: PodSecurityLevel[] = ['privileged', 'baseline', 'restricted'];

/** The Pod Security Admission modes the namespace is labelled for. */
export const POD_SECURITY_MODES = ['enforce', 'warn', 'audit'] as const;

/** Props of a {@link PodSecurityNamespace}. */
export interface PodSecurityNamespaceProps {
  /** Name of the Namespace. @default - the chart's namespace */
  readonly name?: string;
  /** Profile that Pod Security Admission enforces, warns about and audits. @default 'restricted' */
  readonly level?: PodSecurityLevel;
  /** Version of the profile: 'latest' (the cluster's own) or a Kubernetes minor version such as 'v1.30'. @default 'latest' */
  readonly version?: string;
  /**
   * Add a NetworkPolicy that selects every pod of the namespace for ingress and egress and allows
   * nothing, so a pod without a policy of its own (a Job, a user's debugging pod) is isolated too.
   * @default true
   */
  readonly defaultDeny?: boolean;
}

/**
 * The Namespace a chart's objects live in, labelled for Pod Security Admission so the API
 * server itself refuses (`enforce`), reports to kubectl (`warn`) and logs (`audit`) any pod
 * below the profile. Create it first in the chart, so it is the first object of the file and
 * `kubectl apply` creates it before the objects in it.
 */
export class PodSecurityNamespace extends Construct {
  /** The namespace's name: `name`, or the chart's namespace. */
  public readonly name: string;
  /** The Pod Security Standards level enforced. */
  public readonly level: PodSecurityLevel;
  /** The Pod Security Standards version enforced. */
  public readonly version: string;
  /** The Namespace, labelled for Pod Security admission. */
  public readonly namespace: k8s.KubeNamespace;
  /** The namespace's default-deny NetworkPolicy (unless `defaultDeny` is false). */
  public readonly defaultDenyPolicy?: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: PodSecurityNamespaceProps = {}) {
    super(scope, id);
    validateProps(this, 'PodSecurityNamespaceProps', props);
    const name = props.name ?? namespaceOf(this);
    if (name === undefined) {
      throw propError(this, 'name', name, 'must be given when the chart has no namespace');
    }
    this.name = requireDnsLabel(this, 'name', name);
    this.level = requireOneOf(this, 'level', props.level ?? 'restricted', LEVELS);
    this.version = props.version ?? 'latest';
    if (!/^(latest|v1\.[0-9]{1,3})$/.test(this.version)) {
      throw propError(this, 'version', this.version, 'must be \'latest\' or a Kubernetes minor version such as \'v1.30\'');
    }
    this.namespace = new k8s.KubeNamespace(this, 'Resource', {
      metadata: { name: this.name, labels: podSecurityLabels(this.level, this.version) },
    });
    // A Namespace is cluster-scoped; cdk8s would give it the chart's namespace like every other object.
    if (namespaceOf(this) !== undefined) this.namespace.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    if (props.defaultDeny ?? true) this.defaultDenyPolicy = defaultDenyPolicy(this, this.name);
  }
}

/** Every pod of `namespace` isolated both ways; each construct's own policy then allows its real links. */
function defaultDenyPolicy(scope: Construct, namespace: string): k8s.KubeNetworkPolicy {
  return new k8s.KubeNetworkPolicy(scope, 'DefaultDeny', {
    metadata: { name: 'default-deny', namespace, labels: { 'app.kubernetes.io/managed-by': 'cdk8s' } },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  });
}

/** The `pod-security.kubernetes.io/*` labels of every mode, at one level and version. */
export function podSecurityLabels(level: PodSecurityLevel, version: string): Record<string, string> {
  return Object.fromEntries(POD_SECURITY_MODES.flatMap(mode => [
    [`pod-security.kubernetes.io/${mode}`, level],
    [`pod-security.kubernetes.io/${mode}-version`, version],
  ]));
}
