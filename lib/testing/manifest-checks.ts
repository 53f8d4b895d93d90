/* eslint-disable @typescript-eslint/no-explicit-any */
import { Chart, Testing } from 'cdk8s';
import { RUNTIME_LABELS_ANNOTATION } from '../core/names';
import { parseQuantity } from '../core/validation';
import { findModel, ModelLookup } from './schema-models';

/** A synthesized Kubernetes object, as `Testing.synth` returns it. */
export type Manifest = Record<string, any>;

/** Validates one object of a kind the built-in models do not know; returns its errors. */
export type Validator = (manifest: Manifest) => string[];

/** A violation accepted for a stated reason. */
export interface Allowance {
  /** Matches the violation line, e.g. `Deployment/hscale-x: readOnlyRootFilesystem is not true`. */
  readonly violation: string | RegExp;
  /** Why the rule does not hold here; required so nothing is waived silently. */
  readonly reason: string;
}

export interface CheckOptions {
  /** Validators for custom resources, by `apiVersion/kind`. */
  readonly validators?: Record<string, Validator>;
  /** Violations to accept; an allowance that matches nothing is itself a violation, so none outlives its cause. */
  readonly allow?: Allowance[];
  /**
   * Registries that need credentials, by host (`registry.example.com`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com`)
   * or host and path (`ghcr.io/acme`): a pod pulling an image from one must have `imagePullSecrets`, its own or its
   * ServiceAccount's. @default - none checked
   */
  readonly privateRegistries?: string[];
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);
const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|(?:^|_)KEY$/i;
// The volume types the `restricted` profile admits.
const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
// A credential written out as a value: `password=hunter2`, `token: abc`, `requirepass hunter2`, `--token abc` ...
// A reference to an env var or a file (`$REDIS_PASSWORD`, `${X}`, `$(X)`, `/etc/...`) is fine, and so is
// prose that only names one ("REDIS_PASSWORD must be set").
const LITERAL_VALUE = String.raw`["']?(?!\$|\/|\{|\()[A-Za-z0-9+/_.-]{3,}`;
const LITERAL_SECRET = new RegExp([
  String.raw`(?:password|passwd|secret|token|api[_-]?key)["']?\s*[=:]\s*` + LITERAL_VALUE,
  String.raw`(?:^|\s)(?:requirepass|masterauth)\s+` + LITERAL_VALUE,
  String.raw`--(?:password|passwd|secret|token|api-?key)\s+` + LITERAL_VALUE,
].join('|'), 'i');

/** Synthesizes a chart into its objects. */
export function synth(chart: Chart): Manifest[] {
  return Testing.synth(chart);
}

/**
 * Checks the rules hscale's own charts pass, on objects that can be read off the YAML: schema
 * validity, the Pod Security Standards `restricted` profile, requests and limits, no literal
 * secrets, and the lint rules across objects. Rejects with one error listing every violation.
 */
export async function checkManifests(manifests: Manifest[], options: CheckOptions = {}): Promise<void> {
  const violations = await findViolations(manifests, options);
  if (violations.length > 0) {
    throw new Error(`${violations.length} manifest violation(s):\n${violations.map(v => `- ${v}`).join('\n')}`);
  }
}

/** Every violation, as `Kind/name: rule` lines. */
export async function findViolations(manifests: Manifest[], options: CheckOptions = {}): Promise<string[]> {
  const violations: string[] = [];
  const report = (m: Manifest, message: string) => violations.push(`${m.kind}/${m.metadata?.name}: ${message}`);
  const workloads = manifests.filter(m => WORKLOAD_KINDS.has(m.kind));
  const models = await modelsFor(manifests, options);

  for (const m of manifests) {
    schemaErrors(m, options, models).forEach(e => report(m, e));
    if (WORKLOAD_KINDS.has(m.kind)) podTemplateErrors(podTemplate(m), claimTemplateNames(m)).forEach(e => report(m, e));
    literalSecretErrors(m).forEach(e => report(m, e));
    droppedEmptyFieldErrors(m).forEach(e => report(m, e));
  }
  crossObjectErrors(manifests, workloads).forEach(([m, e]) => report(m, e));
  missingPullSecrets(manifests, options.privateRegistries ?? []).forEach(([m, e]) => report(m, e));
  networkLinkErrors(manifests, workloads).forEach(([m, e]) => report(m, e));
  isolationErrors(manifests).forEach(([m, e]) => report(m, e));
  evictingBrokerErrors(manifests, workloads).forEach(([m, e]) => report(m, e));
  secretReadingRoleErrors(manifests).forEach(([m, e]) => report(m, e));
  return applyAllowances(violations, options.allow ?? []);
}

const typeKey = (m: Manifest) => `${m.apiVersion}/${m.kind}`;

/** The model of every `apiVersion/kind` in the objects that no custom validator covers. */
async function modelsFor(manifests: Manifest[], options: CheckOptions): Promise<Map<string, ModelLookup>> {
  const types = new Map(manifests.filter(m => !options.validators?.[typeKey(m)]).map(m => [typeKey(m), m]));
  const lookups = await Promise.all([...types.values()].map(m => findModel(m.apiVersion, m.kind)));
  return new Map([...types.keys()].map((key, i) => [key, lookups[i]]));
}

function applyAllowances(violations: string[], allow: Allowance[]): string[] {
  const matches = (a: Allowance, v: string) => typeof a.violation === 'string' ? v.includes(a.violation) : a.violation.test(v);
  const stale = allow.filter(a => !violations.some(v => matches(a, v)))
    .map(a => `allowance ${String(a.violation)} (${a.reason}) matches no violation; remove it`);
  const unreasoned = allow.filter(a => a.reason.trim() === '').map(a => `allowance ${String(a.violation)} gives no reason`);
  return [...violations.filter(v => !allow.some(a => a.reason.trim() !== '' && matches(a, v))), ...stale, ...unreasoned];
}

function schemaErrors(m: Manifest, options: CheckOptions, models: Map<string, ModelLookup>): string[] {
  const key = typeKey(m);
  const custom = options.validators?.[key];
  if (custom) return custom(m);
  const lookup = models.get(key);
  if (!lookup || 'missing' in lookup) return [`no schema known for ${key}; ${lookup?.missing ?? 'pass a validator'}`];
  try {
    new lookup.model(m).validate();
    return [];
  } catch (error) {
    return [`schema: ${(error as Error).message}`];
  }
}

// Built-in API groups: the API server decodes their objects into typed structs whose empty lists
// and label maps are `omitempty`, so it stores none of them. Custom resources keep what is sent.
const TYPED_API_GROUPS = new Set(['', 'apps', 'batch', 'autoscaling', 'policy', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'scheduling.k8s.io', 'storage.k8s.io']);
const OMITTED_EMPTY_MAPS = new Set(['matchLabels', 'labels', 'annotations', 'nodeSelector']);
const FREE_FORM_FIELDS = new Set(['data', 'stringData', 'binaryData']);

/**
 * Empty lists and label maps in built-in objects: the API server drops them, so what it stores
 * differs from what is applied, and every apply changes the object again (a new `generation`, a
 * non-empty `kubectl diff --server-side`).
 */
function droppedEmptyFieldErrors(m: Manifest): string[] {
  const group = String(m.apiVersion).includes('/') ? String(m.apiVersion).split('/')[0] : '';
  if (!TYPED_API_GROUPS.has(group)) return [];
  const errors: string[] = [];
  const walk = (value: unknown, path: string, key: string): void => {
    if (Array.isArray(value)) {
      if (value.length === 0) errors.push(`${path} is an empty list, which the API server drops: every apply changes the object again (leave it out)`);
      value.forEach((item, i) => walk(item, `${path}[${i}]`, key));
    } else if (value && typeof value === 'object') {
      const entries = Object.entries(value);
      if (entries.length === 0 && OMITTED_EMPTY_MAPS.has(key)) {
        errors.push(`${path} is an empty map, which the API server drops: every apply changes the object again (leave it out)`);
      }
      for (const [k, v] of entries) if (!(path === '' && FREE_FORM_FIELDS.has(k))) walk(v, path ? `${path}.${k}` : k, k);
    }
  };
  walk(m, '', '');
  return errors;
}

/** The pod template of a workload. */
export function podTemplate(m: Manifest): Manifest {
  return m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template : m.spec.template;
}

function claimTemplateNames(m: Manifest): string[] {
  return (m.spec?.volumeClaimTemplates ?? []).map((claim: Manifest) => claim.metadata?.name);
}

function podTemplateErrors(template: Manifest, claimNames: string[]): string[] {
  const errors: string[] = [];
  const spec = template.spec ?? {};
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) errors.push('uses host namespaces');
  if ((spec.volumes ?? []).some((v: Manifest) => v.hostPath)) errors.push('mounts a hostPath volume');
  for (const v of spec.volumes ?? []) {
    const types = Object.keys(v).filter(k => k !== 'name' && k !== 'hostPath' && !RESTRICTED_VOLUME_TYPES.has(k));
    if (types.length > 0) errors.push(`volume ${v.name}: type ${types.join(', ')} is not allowed by the restricted profile`);
  }
  if (spec.automountServiceAccountToken !== false && !template.metadata?.annotations?.['hscale.io/needs-service-account-token']) {
    errors.push('automountServiceAccountToken is not false (annotate hscale.io/needs-service-account-token with the reason if the pod needs the API)');
  }
  const volumes = new Set([...(spec.volumes ?? []).map((v: Manifest) => v.name), ...claimNames]);
  const containers: Manifest[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of containers) {
    const where = `container ${c.name}`;
    const sc = c.securityContext ?? {};
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) errors.push(`${where}: runAsNonRoot is not true`);
    if ((sc.runAsUser ?? pod.runAsUser) === 0) errors.push(`${where}: runs as uid 0`);
    if (sc.allowPrivilegeEscalation !== false) errors.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged) errors.push(`${where}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) errors.push(`${where}: capabilities do not drop ALL`);
    const added = (sc.capabilities?.add ?? []).filter((cap: string) => cap !== 'NET_BIND_SERVICE');
    if (added.length > 0) errors.push(`${where}: adds capabilities ${added.join(', ')}`);
    const seccomp = (sc.seccompProfile ?? pod.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') errors.push(`${where}: seccompProfile is not RuntimeDefault`);
    const hostPorts = (c.ports ?? []).filter((p: Manifest) => p.hostPort).map((p: Manifest) => p.hostPort);
    if (hostPorts.length > 0) errors.push(`${where}: binds host ports ${hostPorts.join(', ')}`);
    if (sc.readOnlyRootFilesystem !== true) errors.push(`${where}: readOnlyRootFilesystem is not true`);
    for (const kind of ['cpu', 'memory', 'ephemeral-storage']) {
      if (!c.resources?.requests?.[kind]) errors.push(`${where}: no ${kind} request`);
      if (!c.resources?.limits?.[kind]) errors.push(`${where}: no ${kind} limit`);
    }
    const image: string = c.image ?? '';
    const tag = /:([\w][\w.-]*)$/.exec(image.replace(/^[^/]*:[0-9]+\//, ''))?.[1];
    if (!image.includes('@sha256:') && (!tag || tag === 'latest')) errors.push(`${where}: image ${image} is not pinned`);
    const ports = new Set<string | number>((c.ports ?? []).flatMap((p: Manifest) => [p.containerPort, p.name]));
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port ?? c[probe]?.grpc?.port;
      if (port !== undefined && !ports.has(port)) errors.push(`${where}: ${probe} targets port ${port}, which the container does not declare`);
    }
    const names = (c.env ?? []).map((e: Manifest) => e.name);
    const duplicates = names.filter((n: string, i: number) => names.indexOf(n) !== i);
    if (duplicates.length > 0) errors.push(`${where}: duplicate env ${[...new Set(duplicates)].join(', ')}`);
    for (const mount of c.volumeMounts ?? []) {
      if (!volumes.has(mount.name)) errors.push(`${where}: mounts volume ${mount.name}, which the pod does not define`);
    }
  }
  return [...errors, ...scratchSpaceErrors(spec)];
}

/** Bytes of a quantity, or 0 when it is missing or malformed (reported elsewhere). */
const bytesOf = (quantity: unknown) => parseQuantity(String(quantity ?? '')) ?? 0;

/**
 * A disk-backed emptyDir needs a size limit, and the containers' ephemeral-storage limits must add
 * up to more than the emptyDirs may hold: the kubelet evicts a pod whose emptyDirs and logs outgrow
 * that sum, long before an emptyDir reaches its own limit.
 */
function scratchSpaceErrors(spec: Manifest): string[] {
  const disks: Manifest[] = (spec.volumes ?? []).filter((v: Manifest) => v.emptyDir && v.emptyDir.medium !== 'Memory');
  const unbounded = disks.filter(v => !v.emptyDir.sizeLimit).map(v => `emptyDir ${v.name} has no sizeLimit: it may fill the node's disk`);
  const emptyDirs = disks.reduce((sum, v) => sum + bytesOf(v.emptyDir.sizeLimit), 0);
  const limits = (spec.containers ?? []).reduce((sum: number, c: Manifest) => sum + bytesOf(c.resources?.limits?.['ephemeral-storage']), 0);
  const mib = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)}Mi`;
  return emptyDirs > 0 && limits > 0 && limits <= emptyDirs
    ? [...unbounded, `the containers' ephemeral-storage limits (${mib(limits)}) do not exceed the emptyDirs' size limits (${mib(emptyDirs)}), which leaves no room for logs: the pod is evicted before its emptyDirs fill`]
    : unbounded;
}

/** The registry host of an image reference: its first path part when that names a host, else Docker Hub's. */
export function imageRegistry(image: string): string {
  const first = image.split('/')[0];
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** Whether `image` comes from `registry`, a host (`registry.example.com`) or a host and path (`ghcr.io/acme`). */
function fromRegistry(image: string, registry: string): boolean {
  const entry = registry.replace(/\/+$/, '');
  return entry.includes('/') ? image.startsWith(`${entry}/`) : imageRegistry(image) === entry;
}

/**
 * The pods (workload templates) pulling an image from one of `registries` without credentials:
 * neither their own `imagePullSecrets` nor those of their ServiceAccount in the chart.
 */
export function missingPullSecrets(manifests: Manifest[], registries: string[]): Array<[Manifest, string]> {
  if (registries.length === 0) return [];
  const accountSecrets = (w: Manifest) => manifests.find(m => m.kind === 'ServiceAccount' && namespaceOf(m) === namespaceOf(w)
    && m.metadata?.name === (podTemplate(w).spec?.serviceAccountName ?? 'default'))?.imagePullSecrets ?? [];
  return manifests.filter(m => WORKLOAD_KINDS.has(m.kind)).flatMap(w => {
    const spec = podTemplate(w).spec ?? {};
    if ((spec.imagePullSecrets ?? []).length > 0 || accountSecrets(w).length > 0) return [];
    return [...(spec.initContainers ?? []), ...(spec.containers ?? [])].flatMap((c: Manifest): Array<[Manifest, string]> => {
      const registry = registries.find(r => fromRegistry(c.image ?? '', r));
      return registry === undefined ? []
        : [[w, `container ${c.name}: image ${c.image} comes from the private registry ${registry}, and the pod has no imagePullSecrets (pod option 'imagePullSecrets')`]];
    });
  });
}

function literalSecretErrors(m: Manifest): string[] {
  const errors: string[] = [];
  if (m.kind === 'Secret' && (m.data || m.stringData)) {
    errors.push('carries secret data in the YAML; reference a Secret the user creates instead');
  }
  if (WORKLOAD_KINDS.has(m.kind)) {
    const spec = podTemplate(m).spec ?? {};
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      for (const e of c.env ?? []) {
        if (e.value !== undefined && SECRET_NAME.test(e.name) && !/\$\(/.test(e.value)) {
          errors.push(`container ${c.name}: env ${e.name} has a literal value`);
        }
      }
      for (const arg of [...(c.command ?? []), ...(c.args ?? [])]) {
        if (LITERAL_SECRET.test(arg)) errors.push(`container ${c.name}: a command or argument holds a literal credential`);
      }
    }
  }
  if (m.kind === 'ConfigMap') {
    for (const [key, value] of Object.entries(m.data ?? {})) {
      if (typeof value === 'string' && value.split('\n').some(line => !/^\s*#/.test(line) && LITERAL_SECRET.test(line))) {
        errors.push(`data ${key} holds a literal credential`);
      }
    }
  }
  return errors;
}

/** The namespace of an object; one without is taken to be applied to 'default', as kubectl's default context does. */
function namespaceOf(m: Manifest): string {
  return m.metadata?.namespace ?? 'default';
}

/**
 * Whether a label selector selects pods with `labels`. A Service selector is a plain map; a
 * PDB or NetworkPolicy selector has matchLabels and matchExpressions, and an empty one selects
 * every pod of the namespace.
 */
function selects(m: Manifest, labels: Record<string, string> = {}): boolean {
  if (m.kind === 'Service') {
    const selector: Record<string, string> = m.spec?.selector ?? {};
    return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
  }
  const selector: Manifest | undefined = m.kind === 'NetworkPolicy' ? m.spec?.podSelector : m.spec?.selector;
  return selector !== undefined && labelSelectorMatches(selector, labels);
}

function labelSelectorMatches(selector: Manifest, labels: Record<string, string>): boolean {
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
    && (selector.matchExpressions ?? []).every((e: Manifest) => {
      switch (e.operator) {
        case 'In': return hasLabel(labels, e.key) && e.values.includes(labels[e.key]);
        case 'NotIn': return !hasLabel(labels, e.key) || !e.values.includes(labels[e.key]);
        case 'Exists': return hasLabel(labels, e.key);
        case 'DoesNotExist': return !hasLabel(labels, e.key);
        default: return false;
      }
    });
}

/** A template's labels, plus those a selector asks of a label that the pods get at run time with one of the declared values. */
function withRuntimeLabels(selector: Manifest, template: Manifest): Record<string, string> {
  const labels: Record<string, string> = template.metadata?.labels ?? {};
  const declared: Record<string, string[]> = JSON.parse(template.metadata?.annotations?.[RUNTIME_LABELS_ANNOTATION] ?? '{}');
  const asked: Record<string, string> = selector.kind === 'Service' ? selector.spec?.selector ?? {} : selector.spec?.selector?.matchLabels ?? {};
  const runtime = Object.entries(asked).filter(([key, value]) => declared[key]?.includes(value));
  return { ...labels, ...Object.fromEntries(runtime) };
}

const hasLabel = (labels: Record<string, string>, key: string) => Object.prototype.hasOwnProperty.call(labels, key);

/** Whether a Service's target port is a port (by name or number) of a container of the pod template. */
function templateServes(template: Manifest, targetPort: string | number): boolean {
  return (template.spec?.containers ?? []).some((c: Manifest) =>
    (c.ports ?? []).some((p: Manifest) => p.name === targetPort || p.containerPort === targetPort));
}

function crossObjectErrors(manifests: Manifest[], workloads: Manifest[]): Array<[Manifest, string]> {
  const errors: Array<[Manifest, string]> = [];
  const sameNamespace = (a: Manifest, b: Manifest) => namespaceOf(a) === namespaceOf(b);
  const selecting = (m: Manifest) => workloads.filter(w => sameNamespace(m, w) && selects(m, withRuntimeLabels(m, podTemplate(w))));

  for (const m of manifests) {
    if ((m.kind === 'Service' && m.spec?.type !== 'ExternalName') || m.kind === 'PodDisruptionBudget' || m.kind === 'NetworkPolicy') {
      const selected = selecting(m);
      // A namespace's default-deny is for every pod, those of other charts and of `kubectl run` included;
      // a Service annotated hscale.io/no-endpoints is empty on purpose (an Ingress's closed paths).
      if (selected.length === 0 && !isDefaultDeny(m) && !m.metadata?.annotations?.['hscale.io/no-endpoints']) {
        errors.push([m, 'selects no pod template in the chart']);
      }
      if (m.kind === 'Service' && selected.length > 0) {
        for (const port of m.spec?.ports ?? []) {
          const target = port.targetPort ?? port.port;
          if (!selected.some(w => templateServes(podTemplate(w), target))) {
            errors.push([m, `port ${port.name ?? port.port} targets ${target}, which no selected container declares`]);
          }
        }
      }
    }
    if (m.kind === 'PodDisruptionBudget' && !m.metadata?.annotations?.['hscale.io/blocks-drain'] && blocksEvictions(m, selecting(m), manifests)) {
      errors.push([m, 'allows no voluntary disruption at the minimum scale, so it blocks every node drain (annotate hscale.io/blocks-drain with the reason if it must)']);
    }
    // A KEDA ScaledObject owns its target's replica count as an HPA does (it creates one).
    if (m.kind === 'HorizontalPodAutoscaler' || (m.kind === 'ScaledObject' && m.apiVersion?.startsWith('keda.sh/'))) {
      const ref = { kind: 'Deployment', ...m.spec.scaleTargetRef };
      const target = workloads.find(w => w.kind === ref.kind && w.metadata?.name === ref.name && sameNamespace(m, w));
      if (!target) errors.push([m, `targets ${ref.kind}/${ref.name}, which is not in the chart`]);
      else if (target.spec.replicas !== undefined) errors.push([m, `targets ${ref.kind}/${ref.name}, which fixes replicas`]);
    }
    if (m.apiVersion?.startsWith('monitoring.coreos.com/') && (m.kind === 'PodMonitor' || m.kind === 'ServiceMonitor')) {
      monitorErrors(m, manifests, workloads).forEach(e => errors.push([m, e]));
    }
    if (m.kind === 'Job' && m.spec?.ttlSecondsAfterFinished === undefined) errors.push([m, 'has no ttlSecondsAfterFinished']);
    if (m.kind === 'CronJob' && m.spec?.startingDeadlineSeconds === undefined) errors.push([m, 'has no startingDeadlineSeconds']);
  }

  for (const w of workloads) {
    // A namespace's default-deny selects every pod but allows it nothing: each pod needs a policy naming it.
    const ownPolicy = manifests.some(m => m.kind === 'NetworkPolicy' && !isDefaultDeny(m) && sameNamespace(m, w)
      && selects(m, podTemplate(w).metadata?.labels));
    if (!ownPolicy) errors.push([w, 'has no NetworkPolicy']);
  }
  for (const w of workloads.filter(x => x.kind === 'Deployment' || x.kind === 'StatefulSet')) {
    const labels = podTemplate(w).metadata?.labels;
    const selectedBy = (kind: string) => manifests.some(m => m.kind === kind && sameNamespace(m, w) && selects(m, labels));
    if (!selectedBy('PodDisruptionBudget')) errors.push([w, 'has no PodDisruptionBudget']);
    const spec = podTemplate(w).spec ?? {};
    if (!spec.affinity?.podAntiAffinity && !(spec.topologySpreadConstraints?.length > 0)) {
      errors.push([w, 'has neither pod anti-affinity nor topology spread constraints']);
    }
  }
  return errors;
}

const NO_NAMESPACE_SELECTOR = (peer: Manifest) => peer.namespaceSelector === undefined && peer.ipBlock === undefined;
const isEmptySelector = (selector: Manifest | undefined) => selector === undefined
  || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0);
const ANY_NAMESPACE = (peer: Manifest) => Object.keys(peer.namespaceSelector?.matchLabels ?? {}).length === 0
  && (peer.namespaceSelector?.matchExpressions ?? []).length === 0;

/** The number of a container port of a pod template, given by number or by name. */
function resolvePort(w: Manifest, port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  const ports: Manifest[] = (podTemplate(w).spec?.containers ?? []).flatMap((c: Manifest) => c.ports ?? []);
  return ports.find(p => p.name === port)?.containerPort;
}

type Direction = 'ingress' | 'egress';

const labelsOf = (w: Manifest): Record<string, string> => podTemplate(w).metadata?.labels ?? {};
const nameOf = (w: Manifest) => `${w.kind}/${w.metadata?.name}`;
const policyType = (d: Direction) => (d === 'ingress' ? 'Ingress' : 'Egress');
const governs = (p: Manifest, w: Manifest, d: Direction) => namespaceOf(p) === namespaceOf(w) && selects(p, labelsOf(w))
  && (p.spec?.policyTypes ?? ['Ingress']).includes(policyType(d));
// Whether a peer of a rule in `policy` may be pod `w`; a namespace label we cannot evaluate counts as yes.
const mayBe = (peer: Manifest, policy: Manifest, w: Manifest) => peer.ipBlock === undefined
  && (peer.namespaceSelector === undefined ? namespaceOf(policy) === namespaceOf(w) : true)
  && labelSelectorMatches(peer.podSelector ?? {}, labelsOf(w));
const portAllowed = (rulePorts: Manifest[] | undefined, port: number, listener: Manifest) => !rulePorts || rulePorts.length === 0
  || rulePorts.some(p => {
    if (p.port === undefined) return true;
    const first = resolvePort(listener, p.port);
    return first !== undefined && port >= first && port <= (p.endPort ?? first);
  });
const listens = (w: Manifest, port: string | number) => {
  const number = resolvePort(w, port);
  return number !== undefined && templateServes(podTemplate(w), number);
};

/** Whether the `policies` of `w` let traffic on `port` pass in direction `d` to or from `other`. */
function allows(policies: Manifest[], w: Manifest, d: Direction, other: Manifest, port: number, listener: Manifest): boolean {
  const governing = policies.filter(p => governs(p, w, d));
  return governing.length === 0 || governing.some(p => (p.spec?.[d] ?? []).some((rule: Manifest) => {
    const peers: Manifest[] | undefined = d === 'ingress' ? rule.from : rule.to;
    return (!peers || peers.length === 0 || peers.some(peer => mayBe(peer, p, other))) && portAllowed(rule.ports, port, listener);
  }));
}

/**
 * A link is two-sided: an egress rule to pods of the chart is of no use unless they listen on
 * that port and a policy of theirs admits the source, and an ingress rule admitting pods of the
 * chart is of no use unless their egress allows it. Peers chosen by a namespace label or an IP
 * block, and peers of no pod in the chart, are not judged.
 */
function networkLinkErrors(manifests: Manifest[], workloads: Manifest[]): Array<[Manifest, string]> {
  const policies = manifests.filter(m => m.kind === 'NetworkPolicy');
  return policies.flatMap(policy => (['egress', 'ingress'] as const)
    .filter(d => (policy.spec?.policyTypes ?? ['Ingress']).includes(policyType(d)))
    .flatMap(d => (policy.spec?.[d] ?? []).flatMap((rule: Manifest) => ruleLinkErrors(policies, workloads, policy, d, rule))));
}

function ruleLinkErrors(policies: Manifest[], workloads: Manifest[], policy: Manifest, d: Direction, rule: Manifest): Array<[Manifest, string]> {
  const errors: Array<[Manifest, string]> = [];
  const own = workloads.filter(w => namespaceOf(w) === namespaceOf(policy) && selects(policy, labelsOf(w)));
  if (d === 'ingress') {
    // Whoever the peers are, an ingress port is one of our own pods' ports.
    for (const rulePort of rule.ports ?? []) {
      own.filter(w => !listens(w, rulePort.port))
        .forEach(w => errors.push([policy, `ingress on port ${rulePort.port}, which ${nameOf(w)} does not declare`]));
    }
  }
  // A link names its peer pods; an empty pod selector ("every pod") is an open door, not a link.
  // Peers that match nothing here are not reported: an operator (CloudNativePG) or another chart may run them.
  const peers: Manifest[] = ((d === 'egress' ? rule.to : rule.from) ?? [])
    .filter((x: Manifest) => !isEmptySelector(x.podSelector) && (NO_NAMESPACE_SELECTOR(x) || ANY_NAMESPACE(x)));
  for (const peer of peers) {
    for (const other of workloads.filter(w => mayBe(peer, policy, w))) {
      for (const rulePort of rule.ports ?? []) {
        if (d === 'egress') {
          const port = resolvePort(other, rulePort.port);
          if (port === undefined || !listens(other, port)) {
            errors.push([policy, `egress on port ${rulePort.port}, which ${nameOf(other)} does not declare`]);
          } else if (!own.some(client => allows(policies, other, 'ingress', client, port, other))) {
            errors.push([policy, `egress to ${nameOf(other)} on port ${port}, but no NetworkPolicy of it admits these pods`]);
          }
        } else {
          for (const listener of own) {
            const port = resolvePort(listener, rulePort.port);
            if (port !== undefined && !allows(policies, other, 'egress', listener, port, listener)) {
              errors.push([policy, `admits ${nameOf(other)} on port ${port}, but its NetworkPolicies do not allow that egress`]);
            }
          }
        }
      }
    }
  }
  return errors;
}

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Whether a namespace selector names its namespaces by the label only the API server sets. */
function pinsNamespace(selector: Manifest): boolean {
  return selector.matchLabels?.[NAMESPACE_NAME_LABEL] !== undefined
    || (selector.matchExpressions ?? []).some((e: Manifest) => e.key === NAMESPACE_NAME_LABEL && e.operator === 'In');
}

const isDefaultDeny = (p: Manifest) => p.kind === 'NetworkPolicy' && isEmptySelector(p.spec?.podSelector)
  && ['Ingress', 'Egress'].every(t => (p.spec?.policyTypes ?? []).includes(t))
  && (p.spec?.ingress ?? []).length === 0 && (p.spec?.egress ?? []).length === 0;

/**
 * A peer in other namespaces must pin them by `kubernetes.io/metadata.name`: a pod label is a claim any
 * pod can make, and other namespace labels are set by the namespace's owner. A chart that creates a
 * Namespace must also isolate it with a default-deny policy (every pod, ingress and egress, no rule).
 */
function isolationErrors(manifests: Manifest[]): Array<[Manifest, string]> {
  const errors: Array<[Manifest, string]> = [];
  for (const policy of manifests.filter(m => m.kind === 'NetworkPolicy')) {
    for (const d of ['ingress', 'egress'] as const) {
      const peers: Manifest[] = (policy.spec?.[d] ?? []).flatMap((rule: Manifest) => (d === 'ingress' ? rule.from : rule.to) ?? []);
      peers.filter(peer => peer.namespaceSelector !== undefined && !pinsNamespace(peer.namespaceSelector)).forEach(peer => errors.push([policy,
        `${d} peer ${JSON.stringify(peer)} does not pin its namespace by ${NAMESPACE_NAME_LABEL}: any pod in a matching namespace can claim its labels`]));
    }
  }
  for (const ns of manifests.filter(m => m.kind === 'Namespace')) {
    if (!manifests.some(p => isDefaultDeny(p) && namespaceOf(p) === ns.metadata?.name)) {
      errors.push([ns, 'has no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)']);
    }
  }
  return errors;
}

// KEDA's Redis scalers, whose addresses name the queue's Redis.
const REDIS_SCALERS = new Set(['redis', 'redis-cluster', 'redis-sentinel']);

/**
 * A queue's Redis (the one a KEDA Redis trigger reads) must never evict: BullMQ's jobs carry no TTL
 * and its locks do, so 'allkeys-*' loses jobs and 'volatile-*' loses locks. The Redis is found by the
 * Service in the trigger's host names, the pods it selects and the `maxmemory-policy` of their ConfigMaps.
 */
function evictingBrokerErrors(manifests: Manifest[], workloads: Manifest[]): Array<[Manifest, string]> {
  const errors: Array<[Manifest, string]> = [];
  const scaledObjects = manifests.filter(m => m.kind === 'ScaledObject' && m.apiVersion?.startsWith('keda.sh/'));
  for (const so of scaledObjects) {
    for (const trigger of (so.spec?.triggers ?? []).filter((t: Manifest) => REDIS_SCALERS.has(t.type))) {
      const hosts = String(trigger.metadata?.addresses ?? trigger.metadata?.address ?? trigger.metadata?.host ?? '').split(',');
      const labels = new Set(hosts.flatMap(host => host.trim().split(':')[0].split('.').slice(0, 2)));
      const services = manifests.filter(m => m.kind === 'Service' && labels.has(m.metadata?.name) && namespaceOf(m) === namespaceOf(so));
      const pods = workloads.filter(w => services.some(svc => namespaceOf(w) === namespaceOf(svc) && selects(svc, labelsOf(w))));
      for (const [workload, policy] of pods.flatMap(w => evictionPolicies(w, manifests).map(p => [w, p] as const))) {
        if (policy !== 'noeviction') {
          errors.push([so, `reads a queue on ${nameOf(workload)}, whose maxmemory-policy is ${policy}; a queue's Redis must be noeviction`]);
        }
      }
    }
  }
  return errors;
}

/** The `maxmemory-policy` of each config file in the ConfigMaps a workload mounts. */
function evictionPolicies(w: Manifest, manifests: Manifest[]): string[] {
  const names = new Set((podTemplate(w).spec?.volumes ?? []).map((v: Manifest) => v.configMap?.name).filter(Boolean));
  return manifests.filter(m => m.kind === 'ConfigMap' && names.has(m.metadata?.name) && namespaceOf(m) === namespaceOf(w))
    .flatMap(m => Object.values<string>(m.data ?? {}).flatMap(text => [...text.matchAll(/^\s*maxmemory-policy\s+(\S+)/gm)].map(x => x[1])));
}

/**
 * A Role that can read Secrets (get, list or watch, by name or all of them) hands every credential it
 * covers to whoever runs as its subjects; a Job that creates Secrets needs `create` alone.
 */
function secretReadingRoleErrors(manifests: Manifest[]): Array<[Manifest, string]> {
  return manifests.filter(m => m.kind === 'Role' || m.kind === 'ClusterRole').flatMap(role => (role.rules ?? [])
    .filter((rule: Manifest) => (rule.apiGroups ?? []).some((g: string) => g === '' || g === '*')
      && (rule.resources ?? []).some((r: string) => r === 'secrets' || r === '*')
      && (rule.verbs ?? []).some((v: string) => ['get', 'list', 'watch', '*'].includes(v)))
    .map((rule: Manifest): [Manifest, string] => [role, `can read Secrets (verbs ${rule.verbs.join(', ')}${rule.resourceNames ? ` on ${rule.resourceNames.join(', ')}` : ''})`]));
}

// Custom resources whose operator runs pods of its own, which no pod template in the chart shows.
const OPERATOR_POD_KINDS = new Set(['postgresql.cnpg.io/Cluster', 'postgresql.cnpg.io/Pooler']);

/**
 * A PodMonitor must select pods of the chart and scrape a port they name; a ServiceMonitor must
 * select a Service and scrape a port it names. Monitors of operator-run pods are not judged.
 */
function monitorErrors(monitor: Manifest, manifests: Manifest[], workloads: Manifest[]): string[] {
  const names: string[] | undefined = monitor.spec?.namespaceSelector?.any ? undefined
    : monitor.spec?.namespaceSelector?.matchNames ?? [namespaceOf(monitor)];
  const inScope = (m: Manifest) => names === undefined || names.includes(namespaceOf(m));
  if (manifests.some(m => inScope(m) && OPERATOR_POD_KINDS.has(`${m.apiVersion?.split('/')[0]}/${m.kind}`))) return [];
  const selector: Manifest = monitor.spec?.selector ?? {};
  if (monitor.kind === 'PodMonitor') {
    const pods = workloads.filter(w => inScope(w) && labelSelectorMatches(selector, podTemplate(w).metadata?.labels ?? {}));
    if (pods.length === 0) return ['selects no pod template in the chart'];
    return (monitor.spec?.podMetricsEndpoints ?? [])
      .filter((e: Manifest) => e.port !== undefined && !pods.some(w => resolvePort(w, e.port) !== undefined))
      .map((e: Manifest) => `scrapes port ${e.port}, which no selected container names`);
  }
  const services = manifests.filter(m => m.kind === 'Service' && inScope(m) && labelSelectorMatches(selector, m.metadata?.labels ?? {}));
  if (services.length === 0) return ['selects no Service in the chart'];
  return (monitor.spec?.endpoints ?? [])
    .filter((e: Manifest) => e.port !== undefined && !services.some(svc => (svc.spec?.ports ?? []).some((p: Manifest) => p.name === e.port)))
    .map((e: Manifest) => `scrapes port ${e.port}, which no selected Service names`);
}

/** Whether a PDB admits no eviction when its pods run at their smallest count (the HPA's minimum, else their replicas). */
function blocksEvictions(pdb: Manifest, selected: Manifest[], manifests: Manifest[]): boolean {
  const { minAvailable, maxUnavailable } = pdb.spec ?? {};
  if (maxUnavailable === 0 || maxUnavailable === '0%') return true;
  if (minAvailable === undefined || selected.length === 0) return false;
  if (minAvailable === '100%') return true;
  const smallest = selected.reduce((sum, w) => {
    const hpa = manifests.find(m => m.kind === 'HorizontalPodAutoscaler' && m.spec?.scaleTargetRef?.kind === w.kind
      && m.spec?.scaleTargetRef?.name === w.metadata?.name && namespaceOf(m) === namespaceOf(w));
    return sum + (hpa?.spec?.minReplicas ?? w.spec?.replicas ?? 1);
  }, 0);
  return typeof minAvailable === 'number' && minAvailable >= smallest;
}
