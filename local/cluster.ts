import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ChartObjects, Container, EnvVar, K8sObject, matches, runtimeLabelsOf, Workload } from './chart';
import { Forwarder, ForwarderTarget } from './forwarder';
import { CLUSTER_HOST, loopbackNginxConf, loopbackPatroniConf, loopbackPgHba, loopbackPostgresConf, loopbackRedisConf } from './loopback';
import { PG_BIN } from './postgres-server';
import { freePort, run } from './processes';

/** Whether this machine's nginx knows `http2 on;` (1.25.1 and later), from `nginx -v`. */
const nginxKnowsHttp2Directive = (() => {
  let known: boolean | undefined;
  return () => {
    if (known === undefined) {
      const printed = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr ?? '';
      const [major, minor, patch] = (/nginx\/(\d+)\.(\d+)\.(\d+)/.exec(printed) ?? []).slice(1).map(Number);
      known = major > 1 || (major === 1 && (minor > 25 || (minor === 25 && patch >= 1)));
    }
    return known;
  };
})();

/** Free loopback ports taken ahead, so rewriting a config can hand one out synchronously. */
export class PortPool {
  private constructor(private readonly ports: number[]) {}

  public static async create(size: number): Promise<PortPool> {
    const ports: number[] = [];
    for (let i = 0; i < size; i++) ports.push(await freePort());
    return new PortPool(ports);
  }

  public take(): number {
    const port = this.ports.shift();
    if (port === undefined) throw new Error('the local stack ran out of the loopback ports it reserved');
    return port;
  }
}

/**
 * Values for the Secrets the chart names (never in its YAML): made up once per run, user names
 * readable, passwords random.
 */
export class LocalSecrets {
  private readonly values = new Map<string, string>();

  public value(secretName: string, key: string): string {
    const id = `${secretName}/${key}`;
    if (!this.values.has(id)) {
      const readable = /(^|-)user(name)?$/.test(key) ? key.replace(/-?username$/, '') || 'app' : key === 'database' ? 'app' : undefined;
      this.values.set(id, readable === 'replication' ? 'replicator' : readable ?? randomBytes(18).toString('hex'));
    }
    return this.values.get(id)!;
  }
}

/** A self-signed certificate for localhost in `dir`/tls.crt and tls.key (the keys of a kubernetes.io/tls Secret). */
export async function selfSignedCertificate(dir: string): Promise<void> {
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')]);
}

const REDIS_BUS_OFFSET = 10_000;
/** The port libpq connects to when none is named: a pod's PostgreSQL listens on it. */
const LIBPQ_DEFAULT_PORT = 5432;

/** One pod of the chart run as local processes: its ports, its volumes as directories, its env. */
export class LocalPod {
  public readonly name: string;
  public readonly dir: string;
  private readonly ports = new Map<number, number>();
  private readonly mounts: Array<[string, string]>;

  constructor(private readonly cluster: LocalCluster, public readonly workload: Workload, public readonly index: number) {
    this.name = `${workload.name}-${index}`;
    this.dir = join(cluster.root, this.name);
    this.mounts = workload.containers.flatMap(c => c.volumeMounts ?? [])
      .map(m => [m.mountPath, join(this.dir, m.name, m.subPath ?? '')] as [string, string])
      .sort(([a], [b]) => b.length - a.length);
  }

  public get labels(): Record<string, string> {
    return this.workload.labels;
  }

  /** Its DNS name through the headless Service: `<pod>.<service>.<namespace>`. */
  public get host(): string {
    return `${this.name}.${this.workload.serviceName}.${this.workload.namespace}`;
  }

  /** Whether a config of the pod admits clients by their address (a pg_hba.conf, or Patroni's pg_hba lines), so peers must come from the pod network. */
  public get admitsBySourceAddress(): boolean {
    return this.workload.volumes.some(v => {
      const files = v.configMap ? this.cluster.chart.get('ConfigMap', v.configMap.name).data ?? {} : {};
      return 'pg_hba.conf' in files || 'patroni.yml' in files;
    });
  }

  /** The `127.0.0.1:<port>` another pod reaches the named port at (a forwarder when the server admits by address). */
  public peerAddress(portName: string): string {
    const port = this.workload.containers.flatMap(c => c.ports ?? []).find(p => p.name === portName)?.containerPort;
    if (port === undefined) throw new Error(`pod '${this.name}' has no port named '${portName}'`);
    return this.cluster.resolve(this.host, port);
  }

  /** The loopback port standing for `inPod` (a container port, or one a config listens on inside the pod). */
  public port(inPod: number): number {
    if (!this.ports.has(inPod)) {
      // Redis Cluster listens on its bus at port + 10000: keep that offset (the pool keeps +10000 free).
      const busOf = inPod - REDIS_BUS_OFFSET;
      const isBus = this.workload.containers.some(c => (c.ports ?? []).some(p => p.containerPort === busOf));
      this.ports.set(inPod, isBus ? this.port(busOf) + REDIS_BUS_OFFSET : this.cluster.portPool.take());
    }
    return this.ports.get(inPod)!;
  }

  /** The container port of a named port (`http`, `metrics`) of any container of the pod. */
  public namedPort(name: string): number | undefined {
    const found = this.workload.containers.flatMap(c => c.ports ?? []).find(p => p.name === name);
    return found && this.port(found.containerPort);
  }

  /** The local path of a path inside the pod (its mounts become directories under the pod's dir). */
  public localPath(path: string): string {
    const mount = this.mounts.find(([mountPath]) => path === mountPath || path.startsWith(`${mountPath}/`));
    return mount ? mount[1] + path.slice(mount[0].length) : path;
  }

  /** In-pod addresses (127.0.0.1:<port>, and 0.0.0.0:<port> to listen on), cluster host names and mount paths of `text`, made local. */
  public rewrite(text: string): string {
    const paths = this.mounts.map(([mountPath]) => mountPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    const inPod = /\b(?:127\.0\.0\.1|localhost|0\.0\.0\.0):(\d+)\b/g;
    let result = text.replace(inPod, (_, port: string) => `127.0.0.1:${this.port(Number(port))}`);
    result = result.replace(new RegExp(`${CLUSTER_HOST.source}(?!(?::\\d+)? resolve)`, 'g'), (_, host: string, ...groups: string[]) =>
      this.cluster.resolve(host, groups[4] ? Number(groups[4]) : undefined));
    return paths ? result.replace(new RegExp(`(?<![\\w/.-])(${paths})(?=[/'"\\s;:]|$)`, 'gm'), path => this.localPath(path)) : result;
  }

  /** A config file of a ConfigMap volume, rewritten for loopback by its kind (file name), then generally. */
  public rewriteFile(file: string, content: string): string {
    const text = this.rewrite(content);
    const inPodPort = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
    if (file === 'postgresql.conf') return loopbackPostgresConf(text, this.port(inPodPort(/^port\s*=\s*(\d+)/m)));
    if (file === 'pg_hba.conf') return loopbackPgHba(text);
    if (/^(redis|sentinel)\.conf$/.test(file)) return loopbackRedisConf(text, this.port(inPodPort(/^port (\d+)/m)));
    if (file === 'nginx.conf') {
      return loopbackNginxConf(text, {
        port: p => this.port(p), endpoints: (h, p) => this.cluster.endpoints(h, p), logFile: join(this.dir, 'access.log'),
        http2Directive: nginxKnowsHttp2Directive(),
      });
    }
    if (file === 'patroni.yml') return loopbackPatroniConf(text, PG_BIN);
    return text;
  }

  /**
   * The container's env as the kubelet would set it, with secrets from LocalSecrets and addresses
   * made local; PGPORT names the local port of a pod's PostgreSQL on 5432, libpq's default there.
   */
  public env(container: Container): Record<string, string> {
    const raw: Record<string, string> = {};
    const env: Record<string, string> = {};
    const podPorts = new Set(this.workload.containers.flatMap(c => c.ports ?? []).map(p => p.containerPort));
    for (const v of container.env ?? []) {
      raw[v.name] = this.rawEnvValue(v, raw);
      const hostVar = (container.env ?? []).find(h => h.name === v.name.replace(/_PORT$/, '_HOST'));
      const peer = v.name.endsWith('_PORT') && hostVar?.value ? new RegExp(CLUSTER_HOST.source).exec(hostVar.value)?.[1] : undefined;
      const value = raw[v.name];
      env[v.name] = /^\d+$/.test(value) && peer ? this.cluster.resolvePort(peer, Number(value))
        : /^\d+$/.test(value) && podPorts.has(Number(value)) && v.name.endsWith('PORT') ? String(this.port(Number(value)))
          : this.rewrite(value);
    }
    if (podPorts.has(LIBPQ_DEFAULT_PORT) && env.PGPORT === undefined) env.PGPORT = String(this.port(LIBPQ_DEFAULT_PORT));
    return env;
  }

  /**
   * An env value as the kubelet sets it, before the local rewrites: a Secret's value, a field of the
   * pod, or the value with `$(VAR)` expanded. The pod's IP is its name under its headless Service,
   * which the rewrite turns into the address peers reach each port at.
   */
  private rawEnvValue(v: EnvVar, earlier: Record<string, string>): string {
    const secret = v.valueFrom?.secretKeyRef;
    if (secret) return this.cluster.secrets.value(secret.name, secret.key);
    const field = v.valueFrom?.fieldRef?.fieldPath;
    if (field !== undefined) {
      const fields: Record<string, string> = { 'metadata.name': this.name, 'metadata.namespace': this.workload.namespace, 'status.podIP': `${this.host}.svc.cluster.local` };
      if (!(field in fields)) throw new Error(`pod '${this.name}': the local stack sets no env from the field '${field}' (it knows ${Object.keys(fields).join(', ')})`);
      return fields[field];
    }
    return (v.value ?? '').replace(/\$\((\w+)\)/g, (whole, name: string) => earlier[name] ?? whole);
  }

  /** Writes the pod's volumes as directories: ConfigMaps as rewritten files, a TLS Secret as a self-signed pair, the rest empty. */
  public async materialize(): Promise<void> {
    for (const volume of this.volumeNames()) mkdirSync(join(this.dir, volume), { recursive: true, mode: 0o777 });
    for (const volume of this.workload.volumes.filter(v => /tls/.test(v.secret?.secretName ?? ''))) {
      await selfSignedCertificate(join(this.dir, volume.name));
    }
    for (const volume of this.workload.volumes.filter(v => v.configMap)) {
      const data = this.cluster.chart.get('ConfigMap', volume.configMap!.name).data ?? {};
      for (const [file, content] of Object.entries(data)) {
        writeFileSync(join(this.dir, volume.name, file), this.rewriteFile(file, content), { mode: 0o755 });
      }
    }
  }

  private volumeNames(): string[] {
    const claims = (this.workload.object.spec.volumeClaimTemplates ?? []) as K8sObject[];
    return [...this.workload.volumes.map(v => v.name), ...claims.map(c => c.metadata.name)];
  }
}

/** The pods of a chart on loopback and the name service between them: pod and Service host names to local ports. */
export class LocalCluster {
  public readonly pods: LocalPod[] = [];
  public readonly forwarders = new Map<string, Forwarder>();
  private readonly runtimeLabels = new Map<string, Record<string, string>>();

  constructor(public readonly chart: ChartObjects, public readonly root: string, public readonly portPool: PortPool, public readonly secrets = new LocalSecrets()) {}

  public addPods(workload: Workload, count: number): LocalPod[] {
    const pods = Array.from({ length: count }, (_, i) => new LocalPod(this, workload, i));
    this.pods.push(...pods);
    return pods;
  }

  public podsOf(workload: Workload): LocalPod[] {
    return this.pods.filter(p => p.workload === workload);
  }

  /** `127.0.0.1` (and the local port) of a cluster host name: a pod's own name, or a Service's forwarder. */
  public resolve(host: string, port?: number): string {
    return port === undefined ? '127.0.0.1' : `127.0.0.1:${this.resolvePort(host, port)}`;
  }

  /**
   * The local port of a cluster host name's port: a pod's own port, or a forwarder from the pod
   * network (a Service's, or a pod's whose server admits clients by source address).
   */
  public resolvePort(host: string, port: number): string {
    const pod = this.pods.find(p => host === p.host);
    if (pod && !pod.admitsBySourceAddress) return String(pod.port(port));
    return String(this.forwarder(host, port, pod).port);
  }

  /** Every local pod behind a (headless) Service, as `127.0.0.1:<port>` for its target port. */
  public endpoints(host: string, port: number): string[] {
    const { service, targetPort } = this.serviceTarget(host, port);
    return this.pods.filter(p => matches(service.spec.selector, p.labels)).map(p => `127.0.0.1:${this.podPort(p, targetPort)}`);
  }

  /** The forwarder of a Service's port, or of `ownPod`'s port when `host` names that pod. */
  private forwarder(host: string, port: number, ownPod?: LocalPod): Forwarder {
    const id = `${host}:${port}`;
    if (!this.forwarders.has(id)) {
      const targets = ownPod ? [{ pod: ownPod.name, port: ownPod.port(port) }] : this.serviceEndpoints(host, port);
      this.forwarders.set(id, new Forwarder(host, port, this.portPool.take(), targets));
    }
    return this.forwarders.get(id)!;
  }

  /**
   * The pods a Service selects now, with their target port: by the pods' labels and their runtime
   * labels (a Patroni member's role). Throws when a Service that selects by the chart's labels alone
   * selects no pod; one that selects by a runtime label may select none for a while, as on Kubernetes.
   */
  private serviceEndpoints(host: string, port: number): ForwarderTarget[] {
    const { service, targetPort } = this.serviceTarget(host, port);
    const selector = service.spec.selector as Record<string, string>;
    const selected = this.pods.filter(p => matches(selector, this.labelsNow(p)));
    const byRuntimeLabel = this.pods.some(p => Object.keys(selector).some(key => key in runtimeLabelsOf(p.workload)));
    if (selected.length === 0 && !byRuntimeLabel) throw new Error(`Service '${host}' selects no pod of the local stack`);
    return selected.map(pod => ({ pod: pod.name, port: this.podPort(pod, targetPort) }));
  }

  /** A pod's labels with the runtime labels its server keeps on it (Patroni's `role`). */
  public labelsNow(pod: LocalPod): Record<string, string> {
    return { ...pod.labels, ...this.runtimeLabels.get(pod.name) };
  }

  /**
   * Sets the runtime labels of a pod (what Patroni patches onto its pod on Kubernetes) and moves every
   * Service forwarder to the pods it selects now, as the Endpoints controller and kube-proxy do.
   */
  public setRuntimeLabels(podName: string, labels: Record<string, string>): void {
    this.runtimeLabels.set(podName, labels);
    for (const forwarder of this.forwarders.values()) {
      if (this.pods.some(p => forwarder.service === p.host)) continue;
      forwarder.retarget(this.serviceEndpoints(forwarder.service, forwarder.servicePort));
    }
  }

  /** Where new connections to the Service `host` go: the runbook's `kubectl patch service` selector change. */
  public repoint(host: string, podName: string): void {
    const pod = this.pods.find(p => p.name === podName);
    if (!pod) throw new Error(`no pod '${podName}' in the local stack`);
    for (const forwarder of [...this.forwarders.values()].filter(f => f.service === host)) {
      forwarder.repoint(podName, this.podPort(pod, this.serviceTarget(host, forwarder.servicePort).targetPort));
    }
  }

  private serviceTarget(host: string, port: number): { service: K8sObject; targetPort: number | string } {
    const [name, namespace] = host.split('.');
    const service = this.chart.ofKind('Service').find(s => s.metadata.name === name && (s.metadata.namespace ?? 'default') === namespace);
    if (!service) throw new Error(`the chart has no Service behind the host '${host}'`);
    const servicePort = (service.spec.ports as Array<{ port: number; targetPort?: number | string }>).find(p => p.port === port);
    return { service, targetPort: servicePort?.targetPort ?? port };
  }

  private podPort(pod: LocalPod, targetPort: number | string): number {
    return typeof targetPort === 'number' ? pod.port(targetPort) : pod.namedPort(targetPort) ?? pod.port(Number(targetPort));
  }
}
