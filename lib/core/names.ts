import { createHash } from 'crypto';
import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { propError, requireDnsLabel } from './validation';

/** Label keys that select a construct's pods (`app.kubernetes.io/instance` + `component`). */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';

/**
 * The stable, readable name of an object a construct makes: `<chart>-<path below the chart>-<role>`,
 * e.g. `hscale-api` or `hscale-db-ro`. Throws when it is not a DNS-1123 label.
 */
export function resourceName(scope: Construct, role?: string): string {
  const chart = Chart.of(scope);
  const below = scope.node.scopes.slice(scope.node.scopes.indexOf(chart) + 1).map(s => s.node.id);
  const name = [chart.node.id, ...below, ...(role ? [role] : [])].join('-').toLowerCase();
  // Services take these names too, and a Service name (RFC 1035) must start with a letter.
  if (/^[0-9]/.test(name)) {
    throw propError(scope, 'id', name, 'must start with a letter: object names here are also Service names (RFC 1035 labels)');
  }
  return requireDnsLabel(scope, 'id', name);
}

/** Labels that select the pods of one component of a construct. */
export function selectorLabels(scope: Construct, component: string): Record<string, string> {
  return {
    [INSTANCE_LABEL]: resourceName(scope),
    [COMPONENT_LABEL]: component,
  };
}

/** The recommended `app.kubernetes.io/*` labels for every object of one component. */
export function commonLabels(scope: Construct, name: string, component: string, version?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    ...selectorLabels(scope, component),
    ...(version ? { 'app.kubernetes.io/version': labelValue(version) } : {}),
    'app.kubernetes.io/part-of': 'hscale',
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
}

/** The tag of an image reference, reduced to what a label value may hold; none for a digest alone. */
export function imageVersion(image: string): string | undefined {
  // Drop the digest and a registry's port first, so neither is read as the tag.
  const tag = /:([\w][\w.-]*)$/.exec(image.replace(/@sha256:[a-f0-9]+$/, '').replace(/^[^/]*:[0-9]+\//, ''))?.[1];
  return tag ? labelValue(tag) : undefined;
}

function labelValue(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** The namespace of the chart a construct lives in, when the user gave one. */
export function namespaceOf(scope: Construct): string | undefined {
  return Chart.of(scope).namespace;
}

/**
 * Throws unless `linked`, a construct the pods of `scope` connect to, is in their namespace. A link
 * carries no namespace: the client's pods read the linked construct's Secrets from their own
 * namespace, and its NetworkPolicy admits client pods of its own namespace only. A linked
 * endpoint that is not a construct (one the user describes by hand) is taken as it is.
 */
export function requireSameNamespace(scope: Construct, prop: string, linked: unknown): void {
  if (!Construct.isConstruct(linked)) return;
  const own = namespaceOf(scope);
  const theirs = namespaceOf(linked);
  if (own === theirs) return;
  const name = (ns: string | undefined) => (ns === undefined ? 'none (the namespace it is applied to)' : `'${ns}'`);
  throw propError(scope, prop, linked, `must be in this construct's namespace, ${name(own)}, not ${name(theirs)}: `
    + 'its clients read its Secrets from their own namespace, and its NetworkPolicy admits clients of its own namespace only');
}

/** `<namespace>.svc.cluster.local`, which the DNS names of the Services and pods of `namespace` end with. */
export function namespaceDnsSuffix(namespace: string): string {
  return `${namespace}.svc.cluster.local`;
}

/**
 * The {@link namespaceDnsSuffix} of a construct's Services and pods (`default` when the chart has
 * no namespace).
 */
export function serviceDnsSuffix(scope: Construct): string {
  return namespaceDnsSuffix(namespaceOf(scope) ?? 'default');
}

/** The pod annotation whose value changes with the config the pods read, so a new config rolls them. */
export const CONFIG_HASH_ANNOTATION = 'hscale.io/config-sha256';

/** The sha256 of a config (one file, or the files of a ConfigMap), the value of {@link CONFIG_HASH_ANNOTATION}. */
export function configHash(config: string | Record<string, string>): string {
  return createHash('sha256').update(typeof config === 'string' ? config : JSON.stringify(config)).digest('hex');
}

/** The annotation of a pod template naming the labels a process sets on its pods at run time, with their values: `{"role":["master","replica"]}` (Patroni); the manifest checks read it. */
export const RUNTIME_LABELS_ANNOTATION = 'hscale.io/runtime-labels';
