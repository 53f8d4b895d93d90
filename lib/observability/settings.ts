import { Duration, Size } from 'cdk8s';
import { IMetricsTarget } from '../core/endpoints';
import { PodOptions } from '../core/pod-options';
import { SecretKeyRef } from '../core/secret-refs';
import { AlertThresholds, MonitoredEndpoint } from './rules';

// The props and settings of an Observability, apart from the construct, so its modes can read
// them without importing what imports the modes.

export type ObservabilityMode = 'operator' | 'standalone';

/** Props of an {@link Observability}. */
export interface ObservabilityProps {
  /** The constructs to monitor (ScaledApi, PgReplicaSet, RedisCluster, LoadBalancer). */
  readonly targets: IMetricsTarget[];
  /** 'operator' emits prometheus-operator objects; 'standalone' runs Prometheus and Grafana itself. @default 'operator' */
  readonly mode?: ObservabilityMode;
  /** Labels the user's Prometheus selects monitors and rules by. @default { release: 'kube-prometheus-stack' } */
  readonly selectorLabels?: Record<string, string>;
  /** p95 latency objective of the API. @default Duration.millis(100) */
  readonly latencySlo?: Duration;
  /** Mean request duration of the API above which an alert warns. @default - no alert on the mean */
  readonly averageLatencyBound?: Duration;
  /** Mean duration of the API's read queries (`db_query_duration_seconds`) above which an alert warns. @default - no alert on read queries */
  readonly readQueryLatencyBound?: Duration;
  /** Replication lag that warns. @default Duration.seconds(5) */
  readonly replicationLagBound?: Duration;
  /** WAL a standby may be behind its primary (replay, as `pg_wal_lsn_diff`) before an alert warns, in whole MiB. @default Size.gibibytes(1) */
  readonly standbyWalLagBound?: Size;
  /** Ratio of 5xx responses that pages. @default 0.05 */
  readonly errorRatio?: number;
  /** Cache hit ratio below which an alert warns. @default 0.8 */
  readonly cacheHitRatio?: number;
  /** Share of a worker pool's finished jobs that fail for good (attempts spent), above which an alert warns. @default 0.1 */
  readonly workerFailureRatio?: number;
  /** Base URL of the runbooks; `#<alert name>` is appended. @default 'https://github.com/hscale/hscale/blob/main/docs/runbooks/alerts.md' */
  readonly runbookBaseUrl?: string;
  /** Label the Grafana sidecar loads dashboard ConfigMaps by. @default { grafana_dashboard: '1' } */
  readonly dashboardLabel?: Record<string, string>;
  /**
   * The rule and dashboard groups that read the reference service's metrics (`api`: http_*, db_*,
   * cache_*; `worker`: worker_*, with the recording rules going with `api`): a name renames the
   * PrometheusRule, rules file and dashboard of that group, `false` leaves them out, for an image
   * that serves other metrics (its `imageContract.metrics.names`).
   * @default { api: 'hscale-api', worker: 'hscale-worker' }
   */
  readonly referenceGroups?: ReferenceGroups;
  /** A guide's metric names recorded from what our exporters serve under theirs, for the guide's queries and dashboards. @default - none */
  readonly guideMetrics?: GuideMetricsRecording;
  /** Grafana folder of the dashboards (annotation `grafana_folder`). @default 'hscale' */
  readonly dashboardFolder?: string;
  /** standalone: Prometheus image. @default 'quay.io/prometheus/prometheus:v2.53.1' @onlyWhen mode=standalone */
  readonly prometheusImage?: string;
  /** standalone: Digest of `prometheusImage` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image @onlyWhen mode=standalone */
  readonly prometheusImageDigest?: string;
  /** standalone: Grafana image. @default 'grafana/grafana:11.1.3' @onlyWhen mode=standalone */
  readonly grafanaImage?: string;
  /** standalone: Digest of `grafanaImage` (`sha256:` and 64 hex digits), rendered as `<image>@<digest>` so the pods run exactly the bytes you reviewed. @default - the tag alone pins the image @onlyWhen mode=standalone */
  readonly grafanaImageDigest?: string;
  /** standalone: Secret key of the Grafana admin password. @default - `{ secretName: '<name>-grafana-admin', key: 'password' }` @onlyWhen mode=standalone */
  readonly grafanaAdminSecret?: SecretKeyRef;
  /** standalone: how long Prometheus keeps samples, whole seconds from 2 h (one TSDB block) to 3650 days. @default Duration.days(15) @onlyWhen mode=standalone */
  readonly retention?: Duration;
  /** standalone: pod options of the Prometheus and Grafana pods (node pools, tolerations, priority, pull Secrets, labels, annotations, ServiceAccount annotations). @default - none @onlyWhen mode=standalone */
  readonly pod?: PodOptions;
  /** standalone: pod options of the Prometheus pod only, laid over `pod`. @default - `pod` @onlyWhen mode=standalone */
  readonly prometheusPod?: PodOptions;
  /** standalone: pod options of the Grafana pod only, laid over `pod`. @default - `pod` @onlyWhen mode=standalone */
  readonly grafanaPod?: PodOptions;
}

/**
 * Recording rules under a guide's names, for figures that no one process serves as the guide
 * means them (one per queue or per cache, not per pod).
 */
export interface GuideMetricsRecording {
  /**
   * 'bet-intel' (its l.407-422) records `cache_memory_bytes`, the memory `cache`'s Redis servers use
   * (redis_exporter's `redis_memory_used_bytes`, summed), and `celery_queue_length{queue_name}`, the
   * waiting jobs of each queue of the worker pools among `targets` (`worker_queue_jobs`, the largest
   * of the workers' reports).
   */
  readonly guide: 'bet-intel';
  /** The RedisCluster among `targets` that the guide calls its cache. */
  readonly cache: IMetricsTarget;
}

/** The name of each group of rules and dashboards that assumes the reference service's metrics, or `false` to leave it out. */
export interface ReferenceGroups {
  /** The API's group. @default 'hscale-api' */
  readonly api?: string | false;
  /** The workers' group. @default 'hscale-worker' */
  readonly worker?: string | false;
}

/** The props every mode reads, validated and defaulted. */
export interface ObservabilitySettings {
  readonly mode: ObservabilityMode;
  /** Resource name of the Observability; every object it makes derives its name from it. */
  readonly name: string;
  /** Every metrics endpoint of the targets, with the namespace of its chart. */
  readonly endpoints: MonitoredEndpoint[];
  readonly selectorLabels: Record<string, string>;
  readonly dashboardLabel: Record<string, string>;
  readonly dashboardFolder: string;
  readonly thresholds: AlertThresholds;
  /** The reference groups' names, `false` for a group left out. */
  readonly referenceGroups: Required<ReferenceGroups>;
  /** `guideMetrics` with its cache's Redis endpoint; absent without it. */
  readonly guideMetrics?: { readonly guide: 'bet-intel'; readonly cache: MonitoredEndpoint };
}
