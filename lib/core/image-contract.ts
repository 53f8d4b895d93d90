import { ApiObject } from 'cdk8s';

// A container image meets a construct halfway: the construct gives it env, ports and writable
// paths, and expects it to answer probes, serve metrics and (for workers) run an enqueue
// command. This is that contract, read from the object the construct actually synthesizes, so
// it cannot disagree with the YAML; props such as `probes`, `metricsPort`, `metricsPath` and
// `enqueueCommand` adapt each part to an existing image.

/** An HTTP probe the kubelet sends to the container. */
export interface ProbeExpectation {
  /** The path requested; a 2xx or 3xx answer passes. */
  readonly path: string;
  /** The container port, by name or number, the request goes to. */
  readonly port: string | number;
}

/** Metrics the scraper reads from the container, and the names alerts and dashboards assume. */
export interface MetricsExpectation {
  /** The container port the scraper reads. */
  readonly port: number;
  /** The HTTP path of the Prometheus text format. */
  readonly path: string;
  /** Metric names the rules and dashboards of Observability read; an image that serves others leaves those panels empty. */
  readonly names: string[];
}

/** What a construct gives its image and what it expects of it. */
export interface ImageContract {
  /** The image the container runs. */
  readonly image: string;
  /** Environment variables the container receives, by name (a Secret's are `secretKeyRef`s, never values). */
  readonly env: string[];
  /** Container ports by name. */
  readonly ports: Record<string, number>;
  /** Paths the container may write: the root filesystem is read-only, these are emptyDir or volume mounts. */
  readonly writablePaths: string[];
  /** The HTTP probes by kind (`startup`, `liveness`, `readiness`) the image must answer. */
  readonly probes: Record<string, ProbeExpectation>;
  /** The metrics the image must serve, if the construct is scraped. */
  readonly metrics?: MetricsExpectation;
  /** The command a scheduled job runs in the image to enqueue (WorkerPool `schedules`), if any schedule is given. */
  readonly enqueueCommand?: string[];
}

/** The contract of the first container of `workload`'s pod template, with the expectations that its manifest does not say. */
export function containerContract(workload: ApiObject, expects: Pick<ImageContract, 'metrics' | 'enqueueCommand'>): ImageContract {
  const container = workload.toJson().spec.template.spec.containers[0];
  const probes: Record<string, ProbeExpectation> = {};
  for (const kind of ['startup', 'liveness', 'readiness']) {
    const get = container[`${kind}Probe`]?.httpGet;
    if (get) probes[kind] = { path: get.path, port: get.port };
  }
  return {
    image: container.image,
    env: (container.env ?? []).map((e: { name: string }) => e.name),
    ports: Object.fromEntries((container.ports ?? []).map((p: { name: string; containerPort: number }) => [p.name, p.containerPort])),
    writablePaths: (container.volumeMounts ?? []).filter((m: { readOnly?: boolean }) => !m.readOnly).map((m: { mountPath: string }) => m.mountPath),
    probes,
    ...(expects.metrics ? { metrics: expects.metrics } : {}),
    ...(expects.enqueueCommand ? { enqueueCommand: expects.enqueueCommand } : {}),
  };
}
