import { copyFileSync, mkdirSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { parse, stringify } from 'yaml';
import { PATRONI_COMMAND } from '../lib/postgres/patroni-engine';
import { ControlPlane, DEFAULT_BIN_DIR, missingBinaries, startControlPlane } from '../scripts/control-plane/index';
import { ChartObjects, K8sObject, runtimeLabelsOf, Workload } from './chart';
import { LocalCluster, LocalPod } from './cluster';
import { sleep, waitFor } from './processes';

type RoleBinding = K8sObject & { readonly subjects?: Array<{ name: string; namespace?: string }>; readonly roleRef: { name: string } };

/** Whether a workload's pods run Patroni: its first container's command is the patroni engine's. */
export function runsPatroni(workload: Workload): boolean {
  return JSON.stringify(workload.containers[0].command) === JSON.stringify(PATRONI_COMMAND);
}

/** Why the chart's Patroni members cannot have their store here, or undefined when they can (or the chart runs none). */
export function patroniStoreMissing(chart: ChartObjects, binDir = DEFAULT_BIN_DIR): string | undefined {
  const missing = chart.workloads().some(runsPatroni) ? missingBinaries(binDir) : [];
  if (missing.length === 0) return undefined;
  return 'the chart\'s PgReplicaSet runs Patroni, whose store on this machine is the Kubernetes API of the test control plane; '
    + `its binaries are missing (${missing.join(', ')} in ${binDir}): build them with\n  bash tools/control-plane/build.sh`;
}

/** The context of the kubeconfigs written here; Patroni takes it from PATRONI_KUBERNETES_CONTEXT (its default is `kind-kind`). */
export const KUBECONFIG_CONTEXT = 'pod';

/**
 * Writes `file` (and `file`.ca.crt), a kubeconfig for the control plane with a token of the
 * ServiceAccount, so Patroni has exactly the Role the chart binds to it. `server` is the API
 * server's address as Patroni reaches it (the tests' members, in network namespaces, go through a
 * forwarder), by default the control plane's own.
 */
export async function writeServiceAccountKubeconfig(plane: ControlPlane, namespace: string, serviceAccount: string, file: string, server?: string): Promise<void> {
  const token = (await plane.kubectlOk(['create', 'token', serviceAccount, '-n', namespace, '--duration=24h'])).trim();
  const admin = parse(await plane.kubectlOk(['config', 'view', '--raw']));
  mkdirSync(dirname(file), { recursive: true });
  const ca = `${file}.ca.crt`;
  copyFileSync(admin.clusters[0].cluster['certificate-authority'], ca);
  writeFileSync(file, stringify({
    'apiVersion': 'v1', 'kind': 'Config', 'current-context': KUBECONFIG_CONTEXT,
    'clusters': [{ name: 'store', cluster: { 'server': server ?? admin.clusters[0].cluster.server, 'certificate-authority': ca } }],
    'users': [{ name: serviceAccount, user: { token } }],
    'contexts': [{ name: KUBECONFIG_CONTEXT, context: { cluster: 'store', user: serviceAccount, namespace } }],
  }), { mode: 0o644 });
}

/** The kubeconfig a Patroni pod reads, where its pod's ServiceAccount token would be mounted. */
export function podKubeconfig(pod: LocalPod): string {
  return join(pod.dir, 'kubeconfig');
}

/**
 * Patroni's store on loopback: the Kubernetes API of the test control plane (scripts/control-plane),
 * as on a cluster, so its leader lock, its ConfigMaps and its role labels go through the chart's own
 * ServiceAccount, Role and RoleBinding. The chart's Namespaces, those three and the members'
 * StatefulSet are applied; the fake kubelets make the member pods exist, which Patroni labels.
 */
export class PatroniStore {
  private constructor(public readonly plane: ControlPlane) {}

  /** Starts the control plane in `dir`, applies what Patroni needs and writes each Patroni pod's kubeconfig. */
  public static async start(chart: ChartObjects, pods: LocalPod[], dir: string, log: (line: string) => void): Promise<PatroniStore> {
    const plane = await startControlPlane({ dir: join(dir, 'plane'), crds: false, nodes: 3 });
    const store = new PatroniStore(plane);
    try {
      await store.apply(chart);
      for (const pod of pods) await store.writeKubeconfig(pod);
      log(`Patroni's store: the Kubernetes API at ${plane.server}`);
      return store;
    } catch (error) {
      await plane.stop();
      throw error;
    }
  }

  private async apply(chart: ChartObjects): Promise<void> {
    const workloads = chart.workloads().filter(runsPatroni);
    const accounts = new Set(workloads.map(w => `${w.namespace}/${w.object.spec.template.spec.serviceAccountName}`));
    const boundTo = (binding: RoleBinding) => (binding.subjects ?? []).some(s => accounts.has(`${s.namespace ?? binding.metadata.namespace}/${s.name}`));
    const bindings = (chart.ofKind('RoleBinding') as RoleBinding[]).filter(boundTo);
    const roles = chart.ofKind('Role').filter(r => bindings.some(b => b.roleRef.name === r.metadata.name && b.metadata.namespace === r.metadata.namespace));
    const serviceAccounts = chart.ofKind('ServiceAccount').filter(s => accounts.has(`${s.metadata.namespace ?? 'default'}/${s.metadata.name}`));
    const namespaces = [...new Set(workloads.map(w => w.namespace))].map(name =>
      chart.ofKind('Namespace').find(n => n.metadata.name === name) ?? { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    const objects = [...namespaces, ...serviceAccounts, ...roles, ...bindings, ...workloads.map(w => w.object)];
    await this.plane.kubectlOk(['apply', '--server-side', '-f', '-'], { input: objects.map(o => stringify(o)).join('---\n') });
    const expected = workloads.reduce((sum, w) => sum + (w.object.spec.replicas as number), 0);
    await waitFor(`the ${expected} Patroni member pods in the store`, async () => {
      const pods = JSON.parse(await this.plane.kubectlOk(['get', 'pods', '-A', '-l', 'app.kubernetes.io/name=postgresql', '-o', 'json'])).items as K8sObject[];
      return pods.length >= expected;
    }, 60_000, 500);
  }

  private async writeKubeconfig(pod: LocalPod): Promise<void> {
    const serviceAccount = pod.workload.object.spec.template.spec.serviceAccountName as string;
    await writeServiceAccountKubeconfig(this.plane, pod.workload.namespace, serviceAccount, podKubeconfig(pod));
  }

  public async stop(): Promise<void> {
    await this.plane.stop();
  }
}

/** Polls a member may leave unanswered and keep its role: the readiness probe's failureThreshold (2) and one more for the poll's own 1 s timeout. */
const UNANSWERED_POLLS = 3;

/** The REST check of Patroni's that answers 200 on a member with that value of its role label (Patroni 3.0 labels its leader `master`). */
const ROLE_CHECKS: Record<string, string> = { master: '/primary', replica: '/replica' };

/**
 * Patroni's role label on each member, followed as kube-proxy follows a Service's Endpoints: every
 * `intervalMs`, each member's REST API is asked `GET /primary`, then `GET /replica` (the health
 * checks of HAProxy setups), and the pod gets the role whose check answered 200, or none. The
 * `-rw` forwarder then sends new connections to the leader, `-ro` to the replicas. A member that
 * does not answer keeps its role for {@link UNANSWERED_POLLS} polls, as a pod stays in the
 * Endpoints until its readiness probe failed that often (a slow answer on a loaded machine is no
 * change of role), unless another member answers as the leader meanwhile.
 */
export class PatroniRoles {
  private running = false;
  private loop?: Promise<void>;
  private readonly current = new Map<string, string>();
  private readonly unanswered = new Map<string, number>();
  /** Every change of a member's role label, in order: when (ms since the epoch), which pod, the new role ('' for none). */
  public readonly changes: Array<{ readonly at: number; readonly pod: string; readonly role: string }> = [];

  /** `log` gets each poll that changed or missed a role, with every member's answer and how long it took. */
  constructor(private readonly cluster: LocalCluster, private readonly pods: LocalPod[], private readonly intervalMs = 500, private readonly log?: (line: string) => void) {}

  public start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await Promise.all(this.pods.map(pod => this.update(pod)));
        await sleep(this.intervalMs);
      }
    })();
  }

  /** The role label of a member now (`master`, `replica`), or undefined when neither check answers 200. */
  public role(pod: LocalPod): string | undefined {
    return this.current.get(pod.name) || undefined;
  }

  private async update(pod: LocalPod): Promise<void> {
    const started = Date.now();
    const role = await this.answeredRole(pod);
    if (this.log && (role === undefined || role !== (this.current.get(pod.name) ?? ''))) {
      this.log(`${pod.name} answered ${role === undefined ? 'nothing' : `'${role}'`} in ${Date.now() - started} ms (had '${this.current.get(pod.name) ?? ''}')`);
    }
    if (role === undefined) {
      this.setRole(pod, this.keptRole(pod));
      return;
    }
    this.unanswered.delete(pod.name);
    if (role === 'master') {
      for (const other of this.pods.filter(p => p !== pod && this.current.get(p.name) === 'master')) this.setRole(other, '');
    }
    this.setRole(pod, role);
  }

  /** The role whose check answered 200, '' when the checks answered otherwise, undefined when neither answered at all. */
  private async answeredRole(pod: LocalPod): Promise<string | undefined> {
    let answered = false;
    for (const [value, path] of Object.entries(ROLE_CHECKS)) {
      const status = await restStatus(pod, path);
      if (status === 200) return value;
      answered ||= status !== 0;
    }
    return answered ? '' : undefined;
  }

  /** The role of a member that did not answer: the one it had, until it has not answered {@link UNANSWERED_POLLS} times in a row. */
  private keptRole(pod: LocalPod): string {
    const misses = (this.unanswered.get(pod.name) ?? 0) + 1;
    this.unanswered.set(pod.name, misses);
    return misses < UNANSWERED_POLLS ? this.current.get(pod.name) ?? '' : '';
  }

  private setRole(pod: LocalPod, role: string): void {
    if (this.current.get(pod.name) === role) return;
    this.log?.(`${pod.name} role '${this.current.get(pod.name) ?? ''}' -> '${role}'`);
    this.changes.push({ at: Date.now(), pod: pod.name, role });
    const [label] = Object.keys(runtimeLabelsOf(pod.workload));
    this.current.set(pod.name, role);
    this.cluster.setRuntimeLabels(pod.name, role && label ? { [label]: role } : {});
  }

  public async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** GET on a member's Patroni REST API: the status, 0 when it does not answer within 1 s. */
export async function restStatus(pod: LocalPod, path: string): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${pod.namedPort('patroni')}${path}`, { signal: AbortSignal.timeout(1_000), headers: { connection: 'close' } });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}
