import { createHash } from 'crypto';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { SECRET_LOOKING_NAME } from '../core/container-env';
import { GENERATED_SECRETS_ANNOTATION, GeneratedSecretSpec, ISecretConsumer } from '../core/endpoints';
import { commonLabels, imageVersion, namespaceOf, resourceName, selectorLabels } from '../core/names';
import { fixedResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume, withEphemeralStorage } from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { annotateServiceAccount, applyPodOptions, isEmptyPodOptions, PodOptions, resolvePodOptions } from '../core/pod-options';
import { validateProps } from '../core/prop-validation';
import { pinnedImage, propError } from '../core/validation';

/** Props of a {@link GeneratedSecrets}. */
export interface GeneratedSecretsProps {
  /** Secrets to create, beyond those of `from`. @default [] */
  readonly secrets?: GeneratedSecretSpec[];
  /** Constructs whose Secrets to create (PgReplicaSet, RedisCluster, Observability). @default [] */
  readonly from?: ISecretConsumer[];
  /** Image with `sh`, `od` and `kubectl`, pinned. @default 'alpine/k8s:1.31.4' */
  readonly image?: string;
  /**
   * Digest of `image` (`sha256:` and 64 hex digits), so the Job runs exactly the bytes you reviewed:
   * `docker buildx imagetools inspect alpine/k8s:1.31.4` prints it. @default - the tag alone pins the image
   */
  readonly imageDigest?: string;
  /**
   * The API server's addresses as CIDRs (`kubectl get endpoints kubernetes -o jsonpath='{.subsets[*].addresses[*].ip}'`),
   * so the Job may reach nothing else on 443 and 6443. @default - any address on 443 and 6443 (a NetworkPolicy cannot name the API server)
   */
  readonly apiServerCidrs?: string[];
  /** Pod options of the Job's pod: node pools, tolerations, priority, pull Secrets, labels, annotations, ServiceAccount annotations. @default - none */
  readonly pod?: PodOptions;
}

/** Where the script is mounted in the Job's pod. */
const SCRIPT_DIR = '/etc/hscale';
const UID = 65534;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const IPV4_CIDR = /^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)\/(3[0-2]|[12]?\d)$/;

/** Validates the Secrets asked for and merges those named twice with the same keys; `scope` names errors. */
export function resolveGeneratedSecrets(scope: Construct, props: GeneratedSecretsProps = {}): GeneratedSecretSpec[] {
  validateProps(scope, 'GeneratedSecretsProps', props);
  const byName = new Map<string, GeneratedSecretSpec>();
  for (const spec of [...(props.secrets ?? []), ...(props.from ?? []).flatMap(consumer => consumer.generatableSecrets)]) {
    if (spec.name.length > 253 || !SECRET_NAME.test(spec.name)) throw propError(scope, 'secrets', spec.name, 'is not a valid Secret name (a DNS-1123 subdomain)');
    const keys = [...spec.randomKeys, ...Object.keys(spec.plainKeys ?? {})];
    if (keys.length === 0) throw propError(scope, `secrets.${spec.name}`, '[]', 'must have at least one key');
    for (const key of keys) {
      if (!SECRET_KEY.test(key)) throw propError(scope, `secrets.${spec.name}`, key, 'is not a valid Secret key (letters, digits, \'-\', \'_\' and \'.\')');
      if (keys.indexOf(key) !== keys.lastIndexOf(key)) throw propError(scope, `secrets.${spec.name}`, key, 'is given twice');
    }
    for (const key of Object.keys(spec.plainKeys ?? {})) {
      if (SECRET_LOOKING_NAME.test(key)) throw propError(scope, `secrets.${spec.name}.plainKeys`, key, 'looks like a credential; list it in \'randomKeys\'');
    }
    const known = byName.get(spec.name);
    if (known && JSON.stringify(normalized(known)) !== JSON.stringify(normalized(spec))) {
      throw propError(scope, 'secrets', spec.name, 'is asked for twice with different keys or values');
    }
    byName.set(spec.name, spec);
  }
  return [...byName.values()];
}

function normalized(spec: GeneratedSecretSpec): unknown {
  return { random: [...spec.randomKeys].sort(), plain: Object.entries(spec.plainKeys ?? {}).sort() };
}

/** Quotes a word for sh: single quotes, with each inner quote closed, escaped and reopened. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, '\'\\\'\'')}'`;
}

/**
 * The script of the Job: for each Secret, write its keys to files on a memory-backed emptyDir and
 * `kubectl create` it from them, so no value is ever on a command line. It never reads a Secret:
 * `AlreadyExists` (from an earlier run, the user or a concurrent creator) means the Secret is left
 * as it is, so an existing one is never replaced or edited (a database initialised with a password
 * keeps it), and the Job's Role needs `create` alone.
 */
export function renderGenerateSecretsScript(secrets: GeneratedSecretSpec[]): string {
  const calls = secrets.map(s => [
    `create_secret ${shellQuote(s.name)}`,
    ...Object.entries(s.plainKeys ?? {}).map(([key, value]) => `--plain ${shellQuote(key)} ${shellQuote(value)}`),
    ...s.randomKeys.map(key => `--random ${shellQuote(key)}`),
  ].join(' \\\n  '));
  return `#!/bin/sh
# Creates each Secret below unless it exists; never replaces or edits one.
set -eu
: "\${NAMESPACE:?NAMESPACE must name the namespace of the Secrets}"
umask 077
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# 24 bytes from the kernel's CSPRNG as 48 hex characters.
random_value() {
  od -An -N24 -tx1 /dev/urandom | tr -d ' \\n'
}

# create_secret NAME [--plain KEY VALUE | --random KEY]...
create_secret() {
  name=$1
  shift
  dir="$WORK/$name"
  mkdir "$dir"
  while [ $# -gt 0 ]; do
    case $1 in
      --plain) printf '%s' "$3" > "$dir/$2"; shift 3 ;;
      --random) random_value > "$dir/$2"; shift 2 ;;
      *) echo "create_secret got an unknown option $1" >&2; return 2 ;;
    esac
  done
  if output=$(kubectl create secret generic "$name" --from-file="$dir" -n "$NAMESPACE" 2>&1); then
    echo "$output"
  elif printf '%s' "$output" | grep -qi 'already exists'; then
    echo "secret/$name exists: left unchanged"
  else
    printf '%s\\n' "$output" >&2
    return 1
  fi
  rm -rf "$dir"
}

${calls.join('\n')}
`;
}

/**
 * Creates the Secrets a chart reads, with random values generated in a pod, so the chart applies
 * on a fresh cluster without a credential ever written into a manifest: a one-shot Job (its own
 * ServiceAccount, whose Role may create Secrets in this namespace and read none), and a
 * NetworkPolicy letting it reach DNS and the API server only. A Secret that exists is left as it
 * is, so the Job may run again on every apply.
 */
export class GeneratedSecrets extends Construct {
  /** The Secrets the Job creates when they are missing. */
  public readonly secrets: GeneratedSecretSpec[];
  /** Name of its objects, `<chart>-<id>`. */
  public readonly name: string;
  /** The ConfigMap of the Job's script. */
  public readonly configMap: k8s.KubeConfigMap;
  /** The Job's ServiceAccount. */
  public readonly serviceAccount: k8s.KubeServiceAccount;
  /** The Role that lets the Job create the named Secrets only. */
  public readonly role: k8s.KubeRole;
  /** The RoleBinding of that Role to the Job's ServiceAccount. */
  public readonly roleBinding: k8s.KubeRoleBinding;
  /** The Job that creates the missing Secrets. */
  public readonly job: k8s.KubeJob;
  /** The Job's NetworkPolicy: DNS and the API server only. */
  public readonly networkPolicy: PodNetworkPolicy;
  private readonly image: string;
  private readonly labels: Record<string, string>;
  private readonly podSelector: Record<string, string>;

  constructor(scope: Construct, id: string, props: GeneratedSecretsProps = {}) {
    super(scope, id);
    this.secrets = resolveGeneratedSecrets(this, props);
    if (this.secrets.length === 0) throw propError(this, 'secrets', '[]', 'must name at least one Secret (directly or through \'from\')');
    this.image = pinnedImage(this, 'image', props.image ?? 'alpine/k8s:1.31.4', props.imageDigest);
    this.name = resourceName(this);
    this.labels = commonLabels(this, 'generated-secrets', 'generated-secrets', imageVersion(this.image));
    this.podSelector = selectorLabels(this, 'generated-secrets');
    this.configMap = new k8s.KubeConfigMap(this, 'Script', {
      metadata: this.metadata(), data: { 'generate-secrets.sh': renderGenerateSecretsScript(this.secrets) },
    });
    this.serviceAccount = this.createServiceAccount();
    this.role = this.createRole();
    this.roleBinding = this.createRoleBinding();
    const pod = resolvePodOptions(this, 'pod', props.pod);
    this.job = this.createJob(pod);
    annotateServiceAccount(this.serviceAccount, pod.serviceAccountAnnotations);
    applyPodOptions(this, 'pod', this.job, pod);
    this.networkPolicy = this.createNetworkPolicy(props.apiServerCidrs);
  }

  private metadata(): k8s.ObjectMeta {
    return { name: this.name, namespace: namespaceOf(this), labels: this.labels };
  }

  /** The one pod of the chart that talks to the API server, so the one that mounts a token. */
  private createServiceAccount(): k8s.KubeServiceAccount {
    return new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: this.metadata(), automountServiceAccountToken: true });
  }

  /**
   * `create` alone: it cannot be narrowed by resourceNames (the name is not known before the
   * object exists), so the Role may create any Secret in this namespace, and read none, the
   * database superuser's included. No update, patch or delete: the Job cannot overwrite a Secret.
   */
  private createRole(): k8s.KubeRole {
    return new k8s.KubeRole(this, 'Role', {
      metadata: this.metadata(),
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }],
    });
  }

  private createRoleBinding(): k8s.KubeRoleBinding {
    return new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: this.metadata(),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: this.role.name },
      subjects: [{ kind: 'ServiceAccount', name: this.serviceAccount.name, namespace: namespaceOf(this) }],
    });
  }

  private createJob(pod: PodOptions): k8s.KubeJob {
    // Memory-backed: the generated values exist on no disk, only until the pod ends.
    const work = { ...scratchVolume('tmp', '/tmp'), volume: { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('8Mi') } } };
    const annotation = Object.fromEntries(this.secrets.map(s => [s.name, [...Object.keys(s.plainKeys ?? {}), ...s.randomKeys]]));
    // A Job's pod template is immutable: a name that changes with what it does lets a changed chart apply.
    const hash = createHash('sha256').update(JSON.stringify([this.secrets, this.image, ...(isEmptyPodOptions(pod) ? [] : [pod])])).digest('hex').slice(0, 8);
    return new k8s.KubeJob(this, 'Job', {
      metadata: { ...this.metadata(), name: `${this.name}-${hash}`, annotations: { [GENERATED_SECRETS_ANNOTATION]: JSON.stringify(annotation) } },
      spec: {
        backoffLimit: 6,
        activeDeadlineSeconds: 600,
        // Deleted an hour after it ends; the next apply runs it again, which changes nothing that exists.
        ttlSecondsAfterFinished: 3600,
        template: {
          metadata: { labels: this.labels, annotations: { 'hscale.io/needs-service-account-token': 'creates the chart\'s Secrets through the Kubernetes API' } },
          spec: withEphemeralStorage({
            serviceAccountName: this.serviceAccount.name,
            automountServiceAccountToken: true,
            restartPolicy: 'OnFailure',
            securityContext: restrictedPodSecurityContext(UID),
            volumes: [work.volume, { name: 'script', configMap: { name: this.configMap.name, defaultMode: 0o555 } }],
            containers: [{
              name: 'generate',
              image: this.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['sh', `${SCRIPT_DIR}/generate-secrets.sh`],
              env: [
                // The pod's own namespace, which the Role covers.
                { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                // kubectl keeps its cache under $HOME; the root filesystem is read-only.
                { name: 'HOME', value: '/tmp' },
              ],
              resources: fixedResources('10m', '32Mi', '200m', '128Mi'),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [work.mount, { name: 'script', mountPath: SCRIPT_DIR, readOnly: true }],
            }],
          }),
        },
      },
    });
  }

  /**
   * DNS and the API server only. A NetworkPolicy cannot select the API server (it is no pod of
   * the cluster, and its address differs per cluster): `apiServerCidrs` names its addresses, the
   * tightest a NetworkPolicy allows; without them egress is open to 443 and 6443 on any address.
   */
  private createNetworkPolicy(apiServerCidrs: string[] | undefined): PodNetworkPolicy {
    const policy = new PodNetworkPolicy(this, 'NetworkPolicy', { podSelector: this.podSelector, labels: this.labels });
    if (apiServerCidrs === undefined) {
      policy.allowEgressToAnywhere([443, 6443]);
    } else {
      apiServerCidrs.forEach((cidr, i) => {
        if (!IPV4_CIDR.test(cidr)) throw propError(this, `apiServerCidrs[${i}]`, cidr, 'must be an IPv4 CIDR such as \'10.0.0.1/32\'');
      });
      if (apiServerCidrs.length === 0) throw propError(this, 'apiServerCidrs', '[]', 'must name at least one address of the API server');
      policy.allowEgressToCidrs(apiServerCidrs, [443, 6443]);
    }
    return policy;
  }
}
