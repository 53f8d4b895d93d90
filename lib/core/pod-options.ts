/* eslint-disable @typescript-eslint/no-explicit-any */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { propError } from './validation';

/**
 * What a platform's cluster asks of every pod: node pools, priorities, a private registry, a
 * cloud identity and the labels and annotations its tooling reads. Every construct that makes
 * pods takes it as `pod` (for all its pods) and, where it makes several kinds of pod, as
 * `<kind>Pod` (`sentinelPod`, `jobPod`, `poolerPod`, ...) laid over `pod` for that kind. Options
 * add to what the construct sets and never take it away: its anti-affinity, tolerations, labels
 * and security settings stay.
 */
export interface PodOptions {
  /** Node labels the pods' nodes must carry (`spec.nodeSelector`), e.g. `{ pool: 'db' }`. @default - any node */
  readonly nodeSelector?: Record<string, string>;
  /** Taints the pods tolerate, added to the construct's own. @default - none beyond the construct's own */
  readonly tolerations?: k8s.Toleration[];
  /** Node and pod affinity, combined with the construct's own anti-affinity: every term of both applies. @default - the construct's own */
  readonly affinity?: k8s.Affinity;
  /** PriorityClass of the pods, which must exist in the cluster. @default - the cluster's default priority */
  readonly priorityClassName?: string;
  /** Names of `kubernetes.io/dockerconfigjson` Secrets the kubelet pulls the images with. @default - none */
  readonly imagePullSecrets?: string[];
  /** Annotations of the pods. @default {} */
  readonly annotations?: Record<string, string>;
  /** Labels of the pods, beside the construct's own `app.kubernetes.io/*` labels. @default {} */
  readonly labels?: Record<string, string>;
  /** Annotations of the pods' ServiceAccount (IRSA, GKE or Azure workload identity); a pod without one gets its own. @default {} */
  readonly serviceAccountAnnotations?: Record<string, string>;
}

// Label keys: an optional DNS-subdomain prefix and a name of at most 63 characters; values at most 63.
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Label key prefixes the library's selectors (and CloudNativePG's) match pods by. */
export const RESERVED_LABEL_PREFIXES = ['app.kubernetes.io/', 'cnpg.io/', 'hscale.io/'];
/** Annotation key prefixes the library writes and its checks read. */
const RESERVED_ANNOTATION_PREFIXES = ['hscale.io/'];

const TOLERATION_OPERATORS = ['Equal', 'Exists'];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Whether a label key or annotation key is a valid qualified name (prefix at most 253 characters). */
export function isQualifiedName(key: string): boolean {
  const slash = key.indexOf('/');
  return QUALIFIED_NAME.test(key) && (slash < 0 || slash <= 253);
}

/** Whether `value` is a valid label value. */
export function isLabelValue(value: string): boolean {
  return typeof value === 'string' && LABEL_VALUE.test(value);
}

/**
 * Validates the options given as `prop` (e.g. 'pod', 'sentinelPod') and returns them; throws
 * naming the construct path, the prop, the value and the rule for a label that would change a
 * selector, an annotation that turns a Pod Security control off, or a malformed field.
 */
export function resolvePodOptions(scope: Construct, prop: string, options: PodOptions | undefined): PodOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw propError(scope, prop, JSON.stringify(options), 'must be an object of pod options');
  requireLabelMap(scope, `${prop}.nodeSelector`, options.nodeSelector);
  requirePodLabels(scope, `${prop}.labels`, options.labels);
  requirePodAnnotations(scope, `${prop}.annotations`, options.annotations);
  requireAnnotationKeys(scope, `${prop}.serviceAccountAnnotations`, options.serviceAccountAnnotations);
  (options.tolerations ?? []).forEach((t, i) => requireToleration(scope, `${prop}.tolerations[${i}]`, t));
  if (options.priorityClassName !== undefined) requireSubdomain(scope, `${prop}.priorityClassName`, options.priorityClassName);
  (options.imagePullSecrets ?? []).forEach((name, i) => requireSubdomain(scope, `${prop}.imagePullSecrets[${i}]`, name));
  return options;
}

function requireSubdomain(scope: Construct, prop: string, value: string): void {
  if (typeof value !== 'string' || value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw propError(scope, prop, value, 'must be a DNS-1123 subdomain: lower case alphanumerics, \'-\' and \'.\', at most 253 characters');
  }
}

function requireAnnotationKeys(scope: Construct, prop: string, map: Record<string, string> | undefined): void {
  for (const [key, value] of Object.entries(map ?? {})) {
    if (!isQualifiedName(key)) throw propError(scope, prop, key, 'is not a valid annotation key (an optional DNS prefix and \'/\', then at most 63 alphanumerics, \'-\', \'_\' or \'.\')');
    if (typeof value !== 'string') throw propError(scope, `${prop}.${key}`, String(value), 'must be a string');
  }
}

function requireLabelMap(scope: Construct, prop: string, map: Record<string, string> | undefined): void {
  for (const [key, value] of Object.entries(map ?? {})) {
    if (!isQualifiedName(key)) throw propError(scope, prop, key, 'is not a valid label key (an optional DNS prefix and \'/\', then at most 63 alphanumerics, \'-\', \'_\' or \'.\')');
    if (!isLabelValue(value)) throw propError(scope, `${prop}.${key}`, value, 'is not a valid label value (at most 63 alphanumerics, \'-\', \'_\' or \'.\')');
  }
}

function requirePodLabels(scope: Construct, prop: string, labels: Record<string, string> | undefined): void {
  requireLabelMap(scope, prop, labels);
  for (const key of Object.keys(labels ?? {})) {
    const prefix = RESERVED_LABEL_PREFIXES.find(p => key.startsWith(p));
    if (prefix) {
      throw propError(scope, prop, key, `would change the labels the Services, PodDisruptionBudgets and NetworkPolicies select these pods by: keys under ${RESERVED_LABEL_PREFIXES.map(p => `'${p}'`).join(', ')} are the library's; use a prefix of your own, e.g. 'example.com/team'`);
    }
  }
}

/** A Pod Security control an annotation can turn off, and the values that keep it on. */
const SECURITY_ANNOTATIONS: Array<{ readonly key: RegExp; readonly allowed: RegExp; readonly rule: string }> = [
  {
    key: /^(seccomp\.security\.alpha\.kubernetes\.io\/pod|container\.seccomp\.security\.alpha\.kubernetes\.io\/.+)$/,
    allowed: /^(runtime\/default|docker\/default|localhost\/.+)$/,
    rule: 'the seccomp profile must stay \'runtime/default\' or \'localhost/<profile>\' (the restricted Pod Security profile)',
  },
  {
    key: /^container\.apparmor\.security\.beta\.kubernetes\.io\/.+$/,
    allowed: /^(runtime\/default|localhost\/.+)$/,
    rule: 'the AppArmor profile must stay \'runtime/default\' or \'localhost/<profile>\' (the restricted Pod Security profile)',
  },
  {
    key: /^pod-security\.kubernetes\.io\//,
    allowed: /$^/,
    rule: 'Pod Security levels are namespace labels, not pod annotations: the pods keep the restricted profile',
  },
];

function requirePodAnnotations(scope: Construct, prop: string, annotations: Record<string, string> | undefined): void {
  requireAnnotationKeys(scope, prop, annotations);
  for (const [key, value] of Object.entries(annotations ?? {})) {
    const control = SECURITY_ANNOTATIONS.find(c => c.key.test(key));
    if (control && !control.allowed.test(value)) throw propError(scope, prop, `${key}: ${value}`, `would turn a Pod Security control off: ${control.rule}`);
    const prefix = RESERVED_ANNOTATION_PREFIXES.find(p => key.startsWith(p));
    if (prefix) throw propError(scope, prop, key, `is the library's own: keys under '${prefix}' record what the library needs (and its checks read)`);
  }
}

function requireToleration(scope: Construct, prop: string, t: k8s.Toleration): void {
  if (t === null || typeof t !== 'object') throw propError(scope, prop, String(t), 'must be a toleration object');
  const operator = t.operator ?? 'Equal';
  if (!TOLERATION_OPERATORS.includes(operator)) throw propError(scope, `${prop}.operator`, operator, 'must be one of \'Equal\', \'Exists\'');
  if (operator === 'Exists' && t.value) throw propError(scope, `${prop}.value`, t.value, 'must be empty with operator \'Exists\'');
  if (operator === 'Equal' && !t.key) throw propError(scope, `${prop}.key`, t.key ?? '', 'must name the taint with operator \'Equal\'');
  if (t.effect !== undefined && t.effect !== '' && !TAINT_EFFECTS.includes(t.effect)) {
    throw propError(scope, `${prop}.effect`, t.effect, `must be one of ${TAINT_EFFECTS.map(e => `'${e}'`).join(', ')}, or empty for every effect`);
  }
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    throw propError(scope, `${prop}.tolerationSeconds`, t.tolerationSeconds, 'only applies with effect \'NoExecute\'');
  }
}

/**
 * Lays `layers` over each other, later over earlier: the topology's `pod`, a tier's `pod`, a
 * kind's `<kind>Pod`. Maps merge (a later key wins), tolerations and pull Secrets add up, affinity
 * terms combine (all apply), and a later `priorityClassName` replaces an earlier one.
 */
export function mergePodOptions(...layers: Array<PodOptions | undefined>): PodOptions {
  const given = layers.filter((l): l is PodOptions => l !== undefined && l !== null);
  if (given.length <= 1) return given[0] ?? {};
  const maps = (field: 'nodeSelector' | 'annotations' | 'labels' | 'serviceAccountAnnotations') =>
    given.some(l => l[field] !== undefined) ? Object.assign({}, ...given.map(l => l[field] ?? {})) : undefined;
  const lists = <T>(items: T[]) => (items.length > 0 ? unique(items) : undefined);
  return compact({
    nodeSelector: maps('nodeSelector'),
    tolerations: lists(given.flatMap(l => l.tolerations ?? [])),
    affinity: given.reduce<k8s.Affinity | undefined>((a, l) => combineAffinity(a, l.affinity), undefined),
    priorityClassName: [...given].reverse().find(l => l.priorityClassName !== undefined)?.priorityClassName,
    imagePullSecrets: lists(given.flatMap(l => l.imagePullSecrets ?? [])),
    annotations: maps('annotations'),
    labels: maps('labels'),
    serviceAccountAnnotations: maps('serviceAccountAnnotations'),
  });
}

/** Whether `options` asks for nothing, so the objects stay exactly as the construct makes them. */
export function isEmptyPodOptions(options: PodOptions): boolean {
  return Object.values(options).every(v => v === undefined || (typeof v === 'object' && Object.keys(v).length === 0));
}

/** Whether the options ask for a ServiceAccount annotation. */
export function hasServiceAccountAnnotations(options: PodOptions): boolean {
  return Object.keys(options.serviceAccountAnnotations ?? {}).length > 0;
}

/**
 * Both affinities at once: node affinity requires a term of each (the cross product of their
 * terms), and every pod (anti-)affinity term of either applies. Neither side's terms are dropped.
 */
export function combineAffinity(a: k8s.Affinity | undefined, b: k8s.Affinity | undefined): k8s.Affinity | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compact({
    nodeAffinity: combineNodeAffinity(a.nodeAffinity, b.nodeAffinity),
    podAffinity: combinePodTerms(a.podAffinity, b.podAffinity),
    podAntiAffinity: combinePodTerms(a.podAntiAffinity, b.podAntiAffinity),
  });
}

function combineNodeAffinity(a: k8s.NodeAffinity | undefined, b: k8s.NodeAffinity | undefined): k8s.NodeAffinity | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const ra = a.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const rb = b.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  // Terms are ORed within one selector, so requiring both selectors takes every pair of terms.
  const required = ra && rb
    ? ra.flatMap(ta => rb.map(tb => compact({
      matchExpressions: concat(ta.matchExpressions, tb.matchExpressions),
      matchFields: concat(ta.matchFields, tb.matchFields),
    })))
    : ra ?? rb;
  return compact({
    requiredDuringSchedulingIgnoredDuringExecution: required ? { nodeSelectorTerms: required } : undefined,
    preferredDuringSchedulingIgnoredDuringExecution: concat(a.preferredDuringSchedulingIgnoredDuringExecution, b.preferredDuringSchedulingIgnoredDuringExecution),
  });
}

function combinePodTerms<T extends k8s.PodAffinity | k8s.PodAntiAffinity>(a: T | undefined, b: T | undefined): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compact({
    requiredDuringSchedulingIgnoredDuringExecution: concat(a.requiredDuringSchedulingIgnoredDuringExecution, b.requiredDuringSchedulingIgnoredDuringExecution),
    preferredDuringSchedulingIgnoredDuringExecution: concat(a.preferredDuringSchedulingIgnoredDuringExecution, b.preferredDuringSchedulingIgnoredDuringExecution),
  }) as T;
}

/** A pod template as synthesized (JSON), or as the k8s props give it: the fields the options touch are named alike. */
export interface PodTemplateJson {
  readonly metadata?: Record<string, any>;
  readonly spec?: Record<string, any>;
}

/**
 * The pod template with `options` applied: labels and annotations added after the template's
 * own, nodeSelector merged, tolerations and pull Secrets appended, affinity combined with the
 * template's, `serviceAccountName` set when given. Empty options return the template itself.
 */
export function podTemplateWithOptions(template: PodTemplateJson, options: PodOptions, serviceAccountName?: string): PodTemplateJson {
  if (isEmptyPodOptions(options) && serviceAccountName === undefined) return template;
  const metadata = template.metadata ?? {};
  const spec = template.spec ?? {};
  const pullSecrets = (options.imagePullSecrets ?? []).map(name => ({ name }));
  return {
    ...template,
    metadata: compact({
      ...metadata,
      labels: mergedMap(metadata.labels, options.labels),
      annotations: mergedMap(metadata.annotations, options.annotations),
    }),
    spec: compact({
      ...spec,
      ...(serviceAccountName !== undefined ? { serviceAccountName } : {}),
      nodeSelector: mergedMap(spec.nodeSelector, options.nodeSelector),
      tolerations: concat(spec.tolerations, options.tolerations, true),
      affinity: combineAffinity(spec.affinity, options.affinity),
      priorityClassName: options.priorityClassName ?? spec.priorityClassName,
      imagePullSecrets: concat(spec.imagePullSecrets, pullSecrets, true),
    }),
  };
}

/** Where a workload of each kind holds its pod template, as a JSON pointer. */
const TEMPLATE_PATHS: Record<string, string> = {
  Deployment: '/spec/template', StatefulSet: '/spec/template', DaemonSet: '/spec/template', ReplicaSet: '/spec/template',
  Job: '/spec/template', CronJob: '/spec/jobTemplate/spec/template',
};

/**
 * What `workload.addJsonPatch` patches: the object before a generated class (`k8s.Kube*`, the
 * CRD imports) renders its props as Kubernetes JSON. The names are the YAML's, but a quantity or
 * an int-or-string is still its object (`{ value: '1Gi' }`), so a patch must leave those alone.
 */
export function patchableJson(object: ApiObject): Record<string, any> {
  return ApiObject.prototype.toJson.call(object);
}

/** What a construct tells applyPodOptions beside the options. */
export interface PodOptionsTarget {
  /** The ServiceAccount the pods run as, set on the template. @default - the template's own */
  readonly serviceAccountName?: string;
  /**
   * Label keys that select these pods without being in the template, because something sets them
   * at run time (Patroni's `role`); the options may not set them. @default - none
   */
  readonly runtimeSelectorLabels?: string[];
}

/**
 * Applies `options` (given as `prop`, which errors name) to the pod template of `workload`, any
 * cdk8s ApiObject holding one: a `k8s.Kube*` workload, or a cdk8s-plus workload through
 * `ApiObject.of(workload)`. The change is a JSON patch of the fields the options set (and only
 * those), so it composes with other patches; apply it once the workload is complete. Refuses a
 * label that the template already sets to another value, or that `target` says selects the pods.
 */
export function applyPodOptions(scope: Construct, prop: string, workload: ApiObject, options: PodOptions, target: PodOptionsTarget = {}): void {
  const { serviceAccountName, runtimeSelectorLabels = [] } = target;
  if (isEmptyPodOptions(options) && serviceAccountName === undefined) return;
  const path = TEMPLATE_PATHS[workload.kind];
  if (path === undefined) throw new Error(`${scope.node.path}: cannot apply '${prop}' to a ${workload.kind}, which has no pod template`);
  const template: PodTemplateJson = path.split('/').slice(1).reduce((o: any, key) => o?.[key], patchableJson(workload)) ?? {};
  for (const [key, value] of Object.entries(options.labels ?? {})) {
    if (runtimeSelectorLabels.includes(key)) {
      throw propError(scope, `${prop}.labels`, key, `would change the label '${key}' that selects these pods, which is set while they run`);
    }
    const own = template.metadata?.labels?.[key];
    if (own !== undefined && own !== value) {
      throw propError(scope, `${prop}.labels`, key, `would change the label '${key}' (${JSON.stringify(own)}) that selects these pods`);
    }
  }
  // Through JSON: a field the caller left undefined must not reach the YAML.
  const applied: PodTemplateJson = JSON.parse(JSON.stringify(podTemplateWithOptions(template, options, serviceAccountName)));
  for (const part of ['metadata', 'spec'] as const) {
    const before = template[part] ?? {};
    const after = applied[part] ?? {};
    if (template[part] === undefined) {
      workload.addJsonPatch(JsonPatch.add(`${path}/${part}`, after));
      continue;
    }
    for (const field of Object.keys(after).filter(f => JSON.stringify(after[f]) !== JSON.stringify(before[f]))) {
      workload.addJsonPatch(JsonPatch.add(`${path}/${part}/${field}`, after[field]));
    }
  }
}

/** Adds `annotations` to a ServiceAccount the construct made (or any ApiObject), after its own. */
export function annotateServiceAccount(serviceAccount: ApiObject, annotations: Record<string, string> | undefined): void {
  if (Object.keys(annotations ?? {}).length === 0) return;
  const own = patchableJson(serviceAccount).metadata?.annotations;
  serviceAccount.addJsonPatch(JsonPatch.add('/metadata/annotations', { ...own, ...annotations }));
}

/**
 * A ServiceAccount for pods that run without one of their own, made only when the options
 * annotate it (a cloud identity); it mounts no token, like the pods. Undefined otherwise.
 */
export function optionalServiceAccount(scope: Construct, id: string, metadata: k8s.ObjectMeta, options: PodOptions): k8s.KubeServiceAccount | undefined {
  if (!hasServiceAccountAnnotations(options)) return undefined;
  return new k8s.KubeServiceAccount(scope, id, {
    metadata: { ...metadata, annotations: { ...metadata.annotations, ...options.serviceAccountAnnotations } },
    automountServiceAccountToken: false,
  });
}

/**
 * Applies the options to workloads whose pods had no ServiceAccount: makes one (`id`, `metadata`)
 * when the options annotate it, points the pods at it, and returns it.
 */
export function applyPodOptionsWithServiceAccount(
  scope: Construct, prop: string, workloads: ApiObject[], options: PodOptions, account: { id: string; metadata: k8s.ObjectMeta },
): k8s.KubeServiceAccount | undefined {
  const serviceAccount = optionalServiceAccount(scope, account.id, account.metadata, options);
  for (const workload of workloads) applyPodOptions(scope, prop, workload, options, { serviceAccountName: serviceAccount?.name });
  return serviceAccount;
}

function mergedMap(own: Record<string, string> | undefined, added: Record<string, string> | undefined): Record<string, string> | undefined {
  if (added === undefined || Object.keys(added).length === 0) return own;
  return { ...own, ...added };
}

/** Both lists, `a` first; `dedupe` drops items equal to an earlier one. Undefined when both are empty. */
function concat<T>(a: T[] | undefined, b: T[] | undefined, dedupe = false): T[] | undefined {
  const all = [...(a ?? []), ...(b ?? [])];
  if (all.length === 0) return undefined;
  return dedupe ? unique(all) : all;
}

function unique<T>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter(item => {
    const key = JSON.stringify(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The object without its undefined fields, so none reaches the YAML. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
