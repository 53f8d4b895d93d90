import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { RUNTIME_LABELS_ANNOTATION } from '../lib/core/names';

/** The labels a process sets on a workload's pods at run time, with their values (the pod template's `hscale.io/runtime-labels`). */
export function runtimeLabelsOf(workload: Workload): Record<string, string[]> {
  const annotation: string | undefined = workload.object.spec.template.metadata?.annotations?.[RUNTIME_LABELS_ANNOTATION];
  return annotation ? JSON.parse(annotation) as Record<string, string[]> : {};
}

/** The parts of a Kubernetes object the local stack reads. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the manifests are read, not typed
  readonly data?: Record<string, string>;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
    readonly fieldRef?: { readonly fieldPath: string };
  };
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly env?: EnvVar[];
  readonly ports?: Array<{ readonly name?: string; readonly containerPort: number }>;
  readonly volumeMounts?: Array<{ readonly name: string; readonly mountPath: string; readonly subPath?: string }>;
  readonly readinessProbe?: Probe;
  readonly startupProbe?: Probe;
}

export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: number | string };
  readonly tcpSocket?: { readonly port: number | string };
  readonly exec?: { readonly command: string[] };
}

export interface Volume {
  readonly name: string;
  readonly configMap?: { readonly name: string };
  readonly secret?: { readonly secretName: string };
  readonly emptyDir?: object;
}

/** A Deployment or StatefulSet as the local stack runs it: its pods' template and how many to start. */
export interface Workload {
  readonly object: K8sObject;
  /** Deployment, StatefulSet, or Job (run to completion). */
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly containers: Container[];
  readonly volumes: Volume[];
  /** The headless Service naming each pod (StatefulSets): `<pod>.<serviceName>.<namespace>.svc.cluster.local`. */
  readonly serviceName?: string;
  /** Pods the chart starts with: spec.replicas, or the minimum of the HPA / KEDA ScaledObject that scales it (1 for a Job). */
  readonly minReplicas: number;
}

/** The directory of synthesized charts. */
export const DIST_DIR = join(__dirname, '..', 'dist');

/** The names of the charts in dist/ (`<name>.k8s.yaml`). */
export function chartNames(dir = DIST_DIR): string[] {
  return existsSync(dir) ? readdirSync(dir).filter(f => f.endsWith('.k8s.yaml')).map(f => f.replace(/\.k8s\.yaml$/, '')).sort() : [];
}

/** True when every label of `selector` is on `labels`. */
export function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

/** The objects of one synthesized chart, read back from dist/<name>.k8s.yaml. */
export class ChartObjects {
  /** Reads dist/<name>.k8s.yaml; throws listing the charts there when it does not exist. */
  public static load(name: string, dir = DIST_DIR): ChartObjects {
    const file = join(dir, `${name}.k8s.yaml`);
    if (!existsSync(file)) {
      throw new Error(`no chart '${name}' in ${dir}: the charts there are ${chartNames(dir).join(', ') || 'none'} (run npm run synth)`);
    }
    const objects = parseAllDocuments(readFileSync(file, 'utf8')).map(doc => doc.toJS() as K8sObject).filter(Boolean);
    return new ChartObjects(name, objects);
  }

  constructor(public readonly name: string, public readonly objects: K8sObject[]) {}

  public ofKind(kind: string): K8sObject[] {
    return this.objects.filter(o => o.kind === kind);
  }

  /** The object of that kind and name; throws naming both when the chart has none. */
  public get(kind: string, name: string): K8sObject {
    const found = this.objects.find(o => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`chart '${this.name}' has no ${kind} '${name}'`);
    return found;
  }

  /**
   * Every Deployment, StatefulSet and Job, with the number of pods the chart starts with; not the
   * GeneratedSecrets Job, whose work (Secrets with random values) the local stack does itself.
   */
  public workloads(): Workload[] {
    const runsHere = (o: K8sObject) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind)
      && o.metadata.labels?.['app.kubernetes.io/name'] !== 'generated-secrets';
    return this.objects.filter(runsHere).map(object => ({
      object,
      kind: object.kind,
      name: object.metadata.name,
      namespace: object.metadata.namespace ?? 'default',
      labels: object.spec.template.metadata?.labels ?? {},
      containers: object.spec.template.spec.containers,
      volumes: object.spec.template.spec.volumes ?? [],
      serviceName: object.spec.serviceName,
      minReplicas: this.minReplicas(object),
    }));
  }

  /** The workload whose pod labels carry all of `labels`; throws naming them when there is none. */
  public workload(labels: Record<string, string>): Workload {
    const found = this.findWorkload(labels);
    if (!found) throw new Error(`chart '${this.name}' has no Deployment or StatefulSet labelled ${JSON.stringify(labels)}`);
    return found;
  }

  public findWorkload(labels: Record<string, string>): Workload | undefined {
    return this.workloads().find(w => matches(labels, w.labels));
  }

  private minReplicas(object: K8sObject): number {
    const targets = (o: K8sObject) => o.spec?.scaleTargetRef?.name === object.metadata.name;
    const hpa = this.ofKind('HorizontalPodAutoscaler').find(targets);
    const scaledObject = this.ofKind('ScaledObject').find(targets);
    return hpa?.spec.minReplicas ?? scaledObject?.spec.minReplicaCount ?? object.spec.replicas ?? 1;
  }
}
