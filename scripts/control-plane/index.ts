/**
 * A real Kubernetes control plane on loopback, with no cluster and no container engine: etcd,
 * kube-apiserver (default admission plugins, PodSecurity included; RBAC), kube-controller-manager
 * (with its test-only hostPath provisioner behind a default StorageClass), kube-scheduler, and
 * kwok, which plays the kubelets of 6 fake nodes over 3 zones: pods are scheduled and become
 * Ready, but no container runs. Every binary is built from the pins in
 * tools/control-plane/go.mod by tools/control-plane/build.sh; nothing is downloaded at run time
 * (the operators' CRDs come from Go's module cache, see crds.ts).
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'fs';
import { join, resolve } from 'path';
import { freePort, stopChild, waitFor } from '../../local/processes';
import { kubeconfigYaml, makeCerts } from './certs';
import { crdFiles, moduleDir } from './crds';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const DEFAULT_BIN_DIR = join(REPO_ROOT, '.control-plane', 'bin');
export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;
/** The kwok release of tools/control-plane/go.mod, whose stage files drive the fake kubelets. */
export const KWOK_VERSION = 'v0.8.0';
export const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const SERVICE_CIDR = '10.96.0.0/16';
const SERVICE_IP = '10.96.0.1';

export interface ControlPlaneOptions {
  /** Holds the kubeconfig, certificates, etcd's data and the logs; emptied at start. */
  readonly dir: string;
  readonly binDir?: string;
  /** Fake nodes, spread round-robin over `ZONES`. @default 6 */
  readonly nodes?: number;
  /** Install the operators' CRDs. @default true */
  readonly crds?: boolean;
  readonly log?: (line: string) => void;
}

export interface KubectlResult { readonly code: number; readonly stdout: string; readonly stderr: string }

export interface ControlPlane {
  readonly dir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly binDir: string;
  readonly nodes: string[];
  /** Runs the built kubectl against this control plane; never throws on a non-zero exit. */
  kubectl(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Like `kubectl`, but throws with stderr on a non-zero exit. */
  kubectlOk(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** The processes that have exited since the start (none while it is healthy). */
  exited(): Array<{ name: string; code: number | null; signal: string | null }>;
  /** Stops every process it started (SIGTERM, then SIGKILL); safe to call twice. */
  stop(): Promise<void>;
}

export function missingBinaries(binDir = DEFAULT_BIN_DIR): string[] {
  return BINARIES.filter(b => !existsSync(join(binDir, b)));
}

function runKubectl(binDir: string, kubeconfig: string) {
  return (args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> => new Promise(done => {
    const child = execFile(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
      timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, KUBECONFIG: kubeconfig },
    }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      done({ code, stdout, stderr: error && !stderr ? error.message : stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The Node objects of the fake nodes; kwok manages those with its annotation. */
export function nodeManifests(count: number): string {
  return Array.from({ length: count }, (_, i) => {
    const name = `kwok-node-${i + 1}`;
    return `apiVersion: v1
kind: Node
metadata:
  name: ${name}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: ${name}
    kubernetes.io/os: linux
    node.kubernetes.io/instance-type: kwok
    topology.kubernetes.io/region: local
    topology.kubernetes.io/zone: ${ZONES[i % ZONES.length]}
    type: kwok
status:
  allocatable: { cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi }
  capacity: { cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi }
  nodeInfo: { architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake }
`;
  }).join('---\n');
}

/** The default StorageClass: the controller-manager's test-only hostPath provisioner makes a PV per claim. */
export const STORAGE_CLASS = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
`;

class Processes {
  private readonly children: ChildProcess[] = [];
  private stopped = false;
  public readonly exited: Array<{ name: string; code: number | null; signal: string | null }> = [];

  constructor(private readonly logDir: string, private readonly log: (line: string) => void) {}

  public start(name: string, file: string, args: string[]): ChildProcess {
    const out = createWriteStream(join(this.logDir, `${name}.log`));
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    child.on('exit', (code, signal) => {
      this.exited.push({ name, code, signal });
      if (!this.stopped) this.log(`${name} exited (${code ?? signal}); see ${join(this.logDir, `${name}.log`)}`);
    });
    this.children.push(child);
    return child;
  }

  public alive(name: string): void {
    const dead = this.exited.find(e => e.name === name);
    if (dead) throw new Error(`${name} exited (${dead.code ?? dead.signal}); see ${join(this.logDir, `${name}.log`)}`);
  }

  /** Stops in reverse start order: kwok and the controllers first, etcd last. */
  public async stop(): Promise<void> {
    this.stopped = true;
    for (const child of this.children.splice(0).reverse()) await stopChild(child, 5_000);
  }
}

/** Starts etcd, the API server, the controllers, the scheduler and kwok; resolves once the nodes are Ready. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const binDir = options.binDir ?? DEFAULT_BIN_DIR;
  const missing = missingBinaries(binDir);
  if (missing.length) throw new Error(`missing ${missing.join(', ')} in ${binDir}: run bash tools/control-plane/build.sh`);
  const log = options.log ?? (() => undefined);
  const dir = resolve(options.dir);
  for (const sub of ['pki', 'etcd', 'logs']) rmSync(join(dir, sub), { recursive: true, force: true });
  for (const sub of ['pki', 'etcd', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
  const processes = new Processes(join(dir, 'logs'), log);
  try {
    return await boot(dir, binDir, processes, options, log);
  } catch (error) {
    await processes.stop();
    throw error;
  }
}

async function boot(dir: string, binDir: string, processes: Processes, options: ControlPlaneOptions, log: (line: string) => void): Promise<ControlPlane> {
  const bin = (name: string) => join(binDir, name);
  const certs = await makeCerts(join(dir, 'pki'), SERVICE_IP);
  const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedulerPort, kwokPort] = await freePorts(6);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server, certs), { mode: 0o600 });
  const kubectl = runKubectl(binDir, kubeconfig);
  const kubectlOk = async (args: string[], opts?: { input?: string; timeoutMs?: number }) => {
    const result = await kubectl(args, opts);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  };

  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  processes.start('etcd', bin('etcd'), [
    '--name=control-plane', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=control-plane=http://127.0.0.1:${etcdPeerPort}`,
    '--unsafe-no-fsync', '--log-level=warn', '--quota-backend-bytes=2147483648',
  ]);
  await waitFor('etcd', async () => { processes.alive('etcd'); return (await fetch(`${etcdUrl}/health`)).ok; }, 30_000, 200);
  log(`etcd on ${etcdUrl}`);

  processes.start('kube-apiserver', bin('kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', `--secure-port=${apiPort}`,
    '--advertise-address=127.0.0.1', '--endpoint-reconciler-type=none',
    `--cert-dir=${join(dir, 'pki')}`, `--tls-cert-file=${certs.apiserverCert}`, `--tls-private-key-file=${certs.apiserverKey}`,
    `--client-ca-file=${certs.caCert}`, '--authorization-mode=Node,RBAC',
    `--service-account-key-file=${certs.serviceAccountPub}`, `--service-account-signing-key-file=${certs.serviceAccountKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local', `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allow-privileged=false', '--profiling=false', '--v=1',
  ]);
  await waitFor('kube-apiserver /readyz', async () => {
    processes.alive('kube-apiserver');
    return (await kubectl(['get', '--raw=/readyz'], { timeoutMs: 5_000 })).stdout.trim() === 'ok';
  }, 90_000, 500);
  log(`kube-apiserver on ${server}`);

  processes.start('kube-controller-manager', bin('kube-controller-manager'), [
    `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, `--cert-dir=${join(dir, 'pki')}`, '--leader-elect=false',
    '--use-service-account-credentials=true', `--service-account-private-key-file=${certs.serviceAccountKey}`,
    `--root-ca-file=${certs.caCert}`, `--cluster-signing-cert-file=${certs.caCert}`, `--cluster-signing-key-file=${certs.caKey}`,
    '--enable-hostpath-provisioner=true', '--controllers=*', '--profiling=false', '--v=1',
  ]);
  processes.start('kube-scheduler', bin('kube-scheduler'), [
    `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1', `--secure-port=${schedulerPort}`, `--cert-dir=${join(dir, 'pki')}`, '--leader-elect=false', '--profiling=false', '--v=1',
  ]);

  const nodeCount = options.nodes ?? 6;
  await kubectlOk(['apply', '--server-side', '--field-manager=hscale-control-plane', '-f', '-'], { input: `${nodeManifests(nodeCount)}---\n${STORAGE_CLASS}` });
  const stages = await kwokStageFiles();
  processes.start('kwok', bin('kwok'), [
    `--kubeconfig=${kubeconfig}`, '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    `--server-address=127.0.0.1:${kwokPort}`, '--node-lease-duration-seconds=40', '--cidr=10.244.0.0/16', '--node-ip=10.240.0.1',
    ...stages.map(file => `--config=${file}`),
  ]);
  const nodes = Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i + 1}`);
  await waitFor(`${nodeCount} Ready nodes`, async () => {
    for (const name of ['kube-controller-manager', 'kube-scheduler', 'kwok']) processes.alive(name);
    const out = await kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
    return out.stdout.split('\n').filter(s => s === 'True').length === nodeCount;
  }, 90_000, 500);
  log(`${nodeCount} kwok nodes Ready over ${ZONES.join(', ')}`);
  // The namespace controller and the service account token controller are up once `default` has its ServiceAccount.
  await waitFor('the default ServiceAccount', async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0, 60_000, 500);

  if (options.crds ?? true) await installCrds(kubectlOk, log);
  return {
    dir, kubeconfig, server, binDir, nodes, kubectl, kubectlOk,
    exited: () => [...processes.exited],
    stop: () => processes.stop(),
  };
}

async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) ports.push(await freePort());
  return ports;
}

/** kwok's own stage files from its module: nodes become Ready and keep a lease; pods become Ready, Jobs' pods complete. */
export async function kwokStageFiles(): Promise<string[]> {
  const root = join(await moduleDir('sigs.k8s.io/kwok', KWOK_VERSION), 'kustomize', 'stage');
  return [
    'node/fast/node-initialize.yaml', 'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
    'pod/fast/pod-ready.yaml', 'pod/fast/pod-complete.yaml', 'pod/fast/pod-delete.yaml',
  ].map(file => join(root, file));
}

async function installCrds(kubectlOk: (args: string[]) => Promise<string>, log: (line: string) => void): Promise<void> {
  const files = await crdFiles();
  await kubectlOk(['apply', '--server-side', '--field-manager=hscale-control-plane', ...files.flatMap(f => ['-f', f.file])]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  const groups = [...new Set(files.map(f => f.group))];
  log(`CRDs installed: ${groups.join(', ')} (${files.length} files)`);
}
