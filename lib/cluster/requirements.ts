/* eslint-disable @typescript-eslint/no-explicit-any */
import { Chart } from 'cdk8s';
import { GENERATED_SECRETS_ANNOTATION } from '../core/endpoints';

/** A synthesized object, as `chart.toJson()` or a parsed `dist/*.k8s.yaml` document holds it. */
export type KubeObject = Record<string, any>;

/** An operator whose custom resources a chart emits. */
export interface OperatorRequirement {
  /** The operator, e.g. 'KEDA'. */
  readonly operator: string;
  /** The API group of its CRDs. */
  readonly group: string;
  /** The `apiVersion/kind` of every custom resource of this group in the chart. */
  readonly kinds: string[];
  /** The release whose CRD schemas the tests validate these objects against. */
  readonly testedWith: string;
  /** How to install it. */
  readonly install: string;
}

/** A Secret the chart reads and does not create. */
export interface SecretRequirement {
  readonly namespace: string;
  readonly name: string;
  /** The keys read one by one; empty when the Secret is only mounted whole. */
  readonly keys: string[];
  /** Names of the pod volumes that mount it whole. */
  readonly volumes: string[];
  /** Set when pods pull their images with it (`imagePullSecrets`): a `kubernetes.io/dockerconfigjson` Secret. */
  readonly imagePull?: true;
}

/** A Secret the chart creates itself (a GeneratedSecrets Job, or an operator for its custom resource). */
export interface CreatedSecret {
  readonly namespace: string;
  readonly name: string;
  /** Who creates it, e.g. 'Job/hscale-secrets'. */
  readonly by: string;
}

/** A cluster component that a fresh cluster may lack and that some object of the chart relies on. */
export interface AddonRequirement {
  /** The component, e.g. 'metrics-server'. */
  readonly addon: string;
  /** Why the chart needs it, naming the objects that rely on it. */
  readonly reason: string;
  /** How to install it (or check for it). */
  readonly install: string;
}

/** What must exist in the cluster before a chart is applied. */
export interface ChartRequirements {
  /** Namespaces its objects live in that it does not create. */
  readonly namespaces: string[];
  readonly operators: OperatorRequirement[];
  readonly secrets: SecretRequirement[];
  /** Secrets it reads that it creates itself, for the record. */
  readonly createdSecrets: CreatedSecret[];
  /** Every image its pods (and operator-run pods) pull. */
  readonly images: string[];
  /** StorageClasses its volume claims ask for; `(default)` is the cluster's default class. */
  readonly storageClasses: string[];
  /** Cluster components without an API group of their own: the metrics APIs, a LoadBalancer provider, a NetworkPolicy-enforcing CNI. */
  readonly addons: AddonRequirement[];
}

/** The operators of the custom resources the constructs emit, by API group, and the CRD release the tests use. */
export const KNOWN_OPERATORS: Record<string, Omit<OperatorRequirement, 'group' | 'kinds'>> = {
  'monitoring.coreos.com': {
    operator: 'prometheus-operator (kube-prometheus-stack)',
    testedWith: 'prometheus-operator v0.65.1 CRDs',
    install: 'helm repo add prometheus-community https://prometheus-community.github.io/helm-charts && helm install kube-prometheus-stack prometheus-community/kube-prometheus-stack -n monitoring --create-namespace',
  },
  'keda.sh': {
    operator: 'KEDA',
    testedWith: 'KEDA v2.10.1 CRDs',
    install: 'helm repo add kedacore https://kedacore.github.io/charts && helm install keda kedacore/keda -n keda --create-namespace',
  },
  'postgresql.cnpg.io': {
    operator: 'CloudNativePG',
    testedWith: 'the CloudNativePG CRDs vendored in crds/cloudnative-pg.yaml (controller-gen v0.21.0)',
    install: 'helm repo add cnpg https://cloudnative-pg.github.io/charts && helm install cnpg cnpg/cloudnative-pg -n cnpg-system --create-namespace',
  },
  'cert-manager.io': {
    operator: 'cert-manager',
    testedWith: '@kubernetes-models/cert-manager 6.0 CRD schemas',
    install: 'helm repo add jetstack https://charts.jetstack.io && helm install cert-manager jetstack/cert-manager -n cert-manager --create-namespace --set crds.enabled=true',
  },
  'gateway.networking.k8s.io': {
    operator: 'Gateway API (and a Gateway controller)',
    testedWith: 'Gateway API v1.0.0 CRDs',
    install: 'kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.0.0/standard-install.yaml',
  },
};

// API groups every conformant cluster serves; any other group is a CRD someone must install.
const BUILT_IN_GROUPS = new Set([
  '', 'apps', 'batch', 'autoscaling', 'policy', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'storage.k8s.io',
  'scheduling.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io', 'node.k8s.io', 'events.k8s.io', 'certificates.k8s.io',
  'admissionregistration.k8s.io', 'apiextensions.k8s.io', 'flowcontrol.apiserver.k8s.io',
]);
const CLUSTER_SCOPED_KINDS = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'StorageClass', 'PriorityClass', 'PersistentVolume']);
const WORKLOAD_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);
const DEFAULT_STORAGE_CLASS = '(default)';

const groupOf = (o: KubeObject): string => (String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/')[0] : '');
const namespaceOf = (o: KubeObject): string => o.metadata?.namespace ?? 'default';
const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

/** The pod spec of a workload (or of a CloudNativePG Pooler's pod template). */
function podSpecOf(o: KubeObject): KubeObject | undefined {
  if (o.kind === 'Pod') return o.spec;
  if (groupOf(o) === 'postgresql.cnpg.io' && o.kind === 'Pooler') return o.spec?.template?.spec;
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template?.spec;
  return o.spec?.template?.spec;
}

/**
 * What a chart needs from outside it: the namespaces it does not create, the operators of its
 * custom resources (with the CRD release tested), the Secrets and keys it reads but does not
 * create, the images it pulls and the StorageClasses its claims ask for.
 */
export function externalRequirements(source: Chart | KubeObject[]): ChartRequirements {
  const objects: KubeObject[] = Array.isArray(source) ? source : source.toJson();
  const createdSecrets = secretsCreatedIn(objects);
  const created = new Set(createdSecrets.map(s => `${s.namespace}/${s.name}`));
  return {
    namespaces: sorted(objects.filter(o => !CLUSTER_SCOPED_KINDS.has(o.kind) && o.metadata?.namespace).map(namespaceOf))
      .filter(ns => !objects.some(o => o.kind === 'Namespace' && o.metadata?.name === ns)),
    operators: operatorsOf(objects),
    secrets: secretReferences(objects).filter(s => !created.has(`${s.namespace}/${s.name}`)),
    createdSecrets,
    images: sorted(objects.flatMap(imagesOf)),
    storageClasses: sorted(objects.flatMap(storageClassesOf)),
    addons: addonsOf(objects),
  };
}

/**
 * The add-ons a fresh cluster lacks that the chart relies on: the resource metrics API
 * (metrics-server) for CPU and memory targets, the custom metrics API (prometheus-adapter) for
 * pod metrics, a provider for Services of type LoadBalancer, and a CNI that enforces
 * NetworkPolicies (without one they are accepted and ignored: every pod reaches every pod).
 */
function addonsOf(objects: KubeObject[]): AddonRequirement[] {
  const names = (match: (o: KubeObject) => boolean) => objects.filter(match).map(o => `${o.kind}/${o.metadata.name}`);
  const metricTypes = (o: KubeObject): string[] => (o.kind === 'HorizontalPodAutoscaler' ? (o.spec?.metrics ?? []).map((m: KubeObject) => m.type) : []);
  const kedaCpu = (o: KubeObject) => o.kind === 'ScaledObject' && (o.spec?.triggers ?? []).some((t: KubeObject) => t.type === 'cpu' || t.type === 'memory');
  const candidates: Array<Omit<AddonRequirement, 'reason'> & { users: string[]; why: string }> = [
    {
      addon: 'metrics-server', users: names(o => metricTypes(o).includes('Resource') || kedaCpu(o)), why: 'CPU and memory targets read the resource metrics API, which most managed clusters but not kind or kubeadm serve',
      install: 'helm repo add metrics-server https://kubernetes-sigs.github.io/metrics-server/ && helm install metrics-server metrics-server/metrics-server -n kube-system',
    },
    {
      addon: 'prometheus-adapter', users: names(o => metricTypes(o).some(t => t === 'Pods' || t === 'Object')), why: 'pod metric targets read the custom metrics API (the rules are in the chart\'s adapter ConfigMap)',
      install: 'helm repo add prometheus-community https://prometheus-community.github.io/helm-charts && helm install prometheus-adapter prometheus-community/prometheus-adapter -n monitoring',
    },
    {
      addon: 'a LoadBalancer provider', users: names(o => o.kind === 'Service' && o.spec?.type === 'LoadBalancer'), why: 'Services of type LoadBalancer get an external address from it',
      install: '# your cloud\'s controller manager; on bare metal or kind, MetalLB: kubectl apply -f https://raw.githubusercontent.com/metallb/metallb/v0.14.8/config/manifests/metallb-native.yaml',
    },
    {
      addon: 'an Ingress controller', users: names(o => o.kind === 'Ingress'),
      why: `an Ingress is served only by a controller of its IngressClass (${sorted(objects.filter(o => o.kind === 'Ingress').map(o => o.spec?.ingressClassName ?? '(default)')).join(', ')})`,
      install: '# a controller whose IngressClass the Ingress names (Traefik, HAProxy, Contour, NGINX Inc.\'s, your cloud\'s); check: kubectl get ingressclass',
    },
    {
      addon: 'a CNI that enforces NetworkPolicy', users: names(o => o.kind === 'NetworkPolicy'), why: 'without one the policies are accepted and ignored',
      install: '# Calico, Cilium or your cloud\'s network policy option: check that your CNI enforces NetworkPolicy',
    },
  ];
  return candidates.filter(c => c.users.length > 0).map(({ addon, users, why, install }) => ({
    addon, install, reason: `${why}: ${users.length > 3 ? `${users.slice(0, 3).join(', ')} and ${users.length - 3} more` : users.join(', ')}`,
  }));
}

function operatorsOf(objects: KubeObject[]): OperatorRequirement[] {
  const groups = sorted(objects.map(groupOf).filter(g => !BUILT_IN_GROUPS.has(g)));
  const unknown = (group: string) => ({ operator: `the operator serving ${group}`, testedWith: 'no release', install: '# see the operator\'s documentation' });
  return groups.map(group => ({
    ...(KNOWN_OPERATORS[group] ?? unknown(group)),
    group,
    kinds: sorted(objects.filter(o => groupOf(o) === group).map(o => `${o.apiVersion}/${o.kind}`)),
  }));
}

/** Secrets made by the chart: Secret objects, the Secrets a GeneratedSecrets Job names, a cert-manager Certificate's, and CloudNativePG's `<cluster>-app`. */
function secretsCreatedIn(objects: KubeObject[]): CreatedSecret[] {
  return objects.flatMap((o): CreatedSecret[] => {
    const namespace = namespaceOf(o);
    if (o.kind === 'Secret') return [{ namespace, name: o.metadata.name, by: `Secret/${o.metadata.name}` }];
    if (groupOf(o) === 'cert-manager.io' && o.kind === 'Certificate') return [{ namespace, name: o.spec.secretName, by: `Certificate/${o.metadata.name}` }];
    const generated = o.metadata?.annotations?.[GENERATED_SECRETS_ANNOTATION];
    if (o.kind === 'Job' && generated) {
      return Object.keys(JSON.parse(generated)).map(name => ({ namespace, name, by: `Job/${o.metadata.name}` }));
    }
    if (groupOf(o) === 'postgresql.cnpg.io' && o.kind === 'Cluster') {
      return [{ namespace, name: `${o.metadata.name}-app`, by: `the CloudNativePG operator (Cluster/${o.metadata.name})` }];
    }
    return [];
  });
}

/** The registry credentials a pod spec, a ServiceAccount or a CloudNativePG Cluster pulls images with. */
function pullSecretsOf(o: KubeObject): string[] {
  const names = (refs: KubeObject[] | undefined) => (refs ?? []).map(ref => ref.name as string);
  if (o.kind === 'ServiceAccount') return names(o.imagePullSecrets);
  if (groupOf(o) === 'postgresql.cnpg.io' && o.kind === 'Cluster') return names(o.spec?.imagePullSecrets);
  return names(podSpecOf(o)?.imagePullSecrets);
}

/** Every Secret the objects read: env secretKeyRefs, envFrom, secret and projected volumes, pull Secrets, KEDA TriggerAuthentications, an Ingress's TLS. */
function secretReferences(objects: KubeObject[]): SecretRequirement[] {
  const found = new Map<string, { namespace: string; name: string; keys: Set<string>; volumes: Set<string>; imagePull?: true }>();
  const note = (namespace: string, name: string, key?: string, volume?: string) => {
    const entry = found.get(`${namespace}/${name}`) ?? { namespace, name, keys: new Set<string>(), volumes: new Set<string>() };
    if (key !== undefined) entry.keys.add(key);
    if (volume !== undefined) entry.volumes.add(volume);
    found.set(`${namespace}/${name}`, entry);
    return entry;
  };
  for (const o of objects) {
    const ns = namespaceOf(o);
    for (const ref of o.kind === 'TriggerAuthentication' ? o.spec?.secretTargetRef ?? [] : []) note(ns, ref.name, ref.key);
    // The Ingress controller reads a kubernetes.io/tls Secret whole, as our nginx's volume 'tls' does.
    for (const tls of o.kind === 'Ingress' ? o.spec?.tls ?? [] : []) if (tls.secretName) note(ns, tls.secretName, undefined, 'tls');
    for (const name of WORKLOAD_KINDS.has(o.kind) || o.kind === 'ServiceAccount' || groupOf(o) === 'postgresql.cnpg.io' ? pullSecretsOf(o) : []) {
      note(ns, name).imagePull = true;
    }
    const pod = WORKLOAD_KINDS.has(o.kind) ? podSpecOf(o) : undefined;
    if (!pod) continue;
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !ref.optional) note(ns, ref.name, ref.key);
      }
      for (const from of c.envFrom ?? []) if (from.secretRef && !from.secretRef.optional) note(ns, from.secretRef.name, undefined, `envFrom of ${c.name}`);
    }
    for (const v of pod.volumes ?? []) {
      if (v.secret && !v.secret.optional) {
        (v.secret.items ?? []).forEach((item: KubeObject) => note(ns, v.secret.secretName, item.key));
        if (!v.secret.items) note(ns, v.secret.secretName, undefined, v.name);
      }
      for (const s of v.projected?.sources ?? []) if (s.secret && !s.secret.optional) note(ns, s.secret.name, undefined, v.name);
    }
  }
  return [...found.values()].map(e => ({ namespace: e.namespace, name: e.name, keys: sorted(e.keys), volumes: sorted(e.volumes), ...(e.imagePull ? { imagePull: e.imagePull } : {}) }))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

function imagesOf(o: KubeObject): string[] {
  if (groupOf(o) === 'postgresql.cnpg.io' && o.kind === 'Cluster' && o.spec?.imageName) return [o.spec.imageName];
  const pod = WORKLOAD_KINDS.has(o.kind) ? podSpecOf(o) : undefined;
  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].map((c: KubeObject) => c.image);
}

function storageClassesOf(o: KubeObject): string[] {
  const claims: KubeObject[] = o.kind === 'PersistentVolumeClaim' ? [o] : o.kind === 'StatefulSet' ? o.spec?.volumeClaimTemplates ?? [] : [];
  const classes = claims.map(c => c.spec?.storageClassName ?? DEFAULT_STORAGE_CLASS);
  if (groupOf(o) === 'postgresql.cnpg.io' && o.kind === 'Cluster' && o.spec?.storage) classes.push(o.spec.storage.storageClass ?? DEFAULT_STORAGE_CLASS);
  return classes;
}

/** How a Secret the chart reads but does not create can be made: a TLS pair, or each key it reads. */
function createSecretCommand(s: SecretRequirement): string {
  if (s.imagePull && s.keys.length === 0 && s.volumes.length === 0) {
    return `kubectl -n ${s.namespace} create secret docker-registry ${s.name} --docker-server=<registry> --docker-username=<user> --docker-password=<password>`;
  }
  // Our LoadBalancer mounts its kubernetes.io/tls Secret whole as the volume 'tls'.
  if (s.keys.length === 0 && s.volumes.includes('tls')) {
    return `kubectl -n ${s.namespace} create secret tls ${s.name} --cert=<certificate.pem> --key=<private-key.pem>`;
  }
  const keys = s.keys.length > 0 ? s.keys.map(k => `--from-literal=${k}=<${k}>`).join(' ') : '--from-file=<file>';
  return `kubectl -n ${s.namespace} create secret generic ${s.name} ${keys}`;
}

/**
 * The steps that apply `file` on a fresh cluster, as Markdown, in order: namespaces, operators,
 * Secrets, images and storage to check, then `kubectl apply -f <file>`. `file` is the path as
 * the reader will type it (e.g. 'dist/hscale.k8s.yaml', relative to where kubectl runs); the
 * heading names the file alone.
 */
export function renderApplySteps(file: string, r: ChartRequirements): string {
  const lines: string[] = [`#### \`${file.split('/').pop()}\``, ''];
  let step = 0;
  const heading = (title: string) => lines.push(`${++step}. ${title}`);
  const code = (commands: string[]) => lines.push('', '   ```sh', ...commands.map(c => `   ${c}`), '   ```', '');
  if (r.namespaces.length > 0) {
    heading('Namespace (the chart does not create it):');
    code(r.namespaces.map(ns => `kubectl create namespace ${ns}`));
  }
  for (const o of r.operators) {
    heading(`${o.operator}, for ${o.kinds.map(k => `\`${k}\``).join(', ')} (tested with ${o.testedWith}):`);
    code([o.install]);
  }
  if (r.secrets.length > 0) {
    // A namespace the chart creates itself must exist before its Secrets can; applying the chart then adds its labels.
    const ownNamespaces = [...new Set(r.secrets.map(s => s.namespace))].filter(ns => !r.namespaces.includes(ns));
    heading(ownNamespaces.length > 0
      ? 'Secrets the chart reads and does not create, in its namespace (created here first; applying the chart labels it):'
      : 'Secrets the chart reads and does not create:');
    code([...ownNamespaces.map(ns => `kubectl create namespace ${ns}`), ...r.secrets.map(createSecretCommand)]);
  }
  if (r.createdSecrets.length > 0) {
    const creators = [...new Set(r.createdSecrets.map(s => s.by))];
    const list = creators.map(by => `${r.createdSecrets.filter(s => s.by === by).map(s => `\`${s.name}\``).join(', ')} (${by})`).join('; ');
    heading(`Nothing to do for ${list}: created in the cluster with random values unless they exist, so create them first only to choose the values.`);
  }
  for (const a of r.addons) {
    heading(`${a.addon} (${a.reason}):`);
    code([a.install]);
  }
  heading(`Images the nodes must be able to pull: ${r.images.map(i => `\`${i}\``).join(', ')}.`);
  if (r.storageClasses.length > 0) {
    const classes = r.storageClasses.map(c => (c === DEFAULT_STORAGE_CLASS ? 'a default StorageClass (`kubectl get storageclass` marks one `(default)`)' : `the StorageClass \`${c}\``));
    heading(`Storage: ${classes.join(', ')}.`);
  }
  heading('Apply the chart:');
  code([`kubectl apply -f ${file}`]);
  return `${lines.join('\n').trimEnd()}\n`;
}
