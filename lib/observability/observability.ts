import { ApiObject, Chart, Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { GeneratedSecretSpec, IMetricsTarget, ISecretConsumer } from '../core/endpoints';
import { ModeRegistry, requireMode, resolveMode } from '../core/mode';
import { commonLabels, namespaceOf, resourceName } from '../core/names';
import { isLabelValue, isQualifiedName } from '../core/pod-options';
import { validateProps } from '../core/prop-validation';
import { propError, requireDnsLabel, requireOneOf, requireWholeDuration } from '../core/validation';
import { renderDashboards } from './dashboards';
import { ObservabilityModeObjects, ObservedTopology, StandalonePrometheus, StandaloneServer } from './mode';
import { operatorMode } from './operator-mode';
import { MonitoredEndpoint, renderAlertRules, renderGuideRecordingRules, renderRecordingRules, RuleGroup } from './rules';
import { GuideMetricsRecording, ObservabilityMode, ObservabilityProps, ObservabilitySettings, ReferenceGroups } from './settings';
import { StandaloneSettings, standaloneMode } from './standalone-mode';

export * from './settings';

/** Every mode, by name; a new mode is a module under lib/observability/ and an entry here. */
export const OBSERVABILITY_MODES: ModeRegistry<ObservabilityMode, ObservabilityProps, ObservabilitySettingsByMode, ObservabilityModeObjects, ObservedTopology> = {
  operator: operatorMode,
  standalone: standaloneMode,
};

/** The settings type of each mode: what it resolved from the props only it reads. */
interface ObservabilitySettingsByMode {
  readonly operator: void;
  readonly standalone: StandaloneSettings;
}


/** Validates and defaults the props of the Observability at `scope`; standalone-only props are its mode's to resolve. */
export function resolveObservabilitySettings(scope: Construct, props: ObservabilityProps): ObservabilitySettings {
  validateProps(scope, 'ObservabilityProps', props);
  const mode = requireMode(scope, 'mode', props.mode ?? 'operator', OBSERVABILITY_MODES);
  const name = resourceName(scope);
  const endpoints = monitoredEndpoints(scope, props.targets);
  const selector = requireLabels(scope, 'selectorLabels', props.selectorLabels ?? { release: 'kube-prometheus-stack' });
  const dashboardLabel = requireLabels(scope, 'dashboardLabel', props.dashboardLabel ?? { grafana_dashboard: '1' });
  return {
    mode,
    name,
    endpoints,
    selectorLabels: selector,
    dashboardLabel,
    dashboardFolder: props.dashboardFolder ?? 'hscale',
    referenceGroups: {
      api: referenceGroup(scope, 'referenceGroups.api', props.referenceGroups?.api ?? 'hscale-api'),
      worker: referenceGroup(scope, 'referenceGroups.worker', props.referenceGroups?.worker ?? 'hscale-worker'),
    },
    guideMetrics: props.guideMetrics && resolveGuideMetrics(scope, props.guideMetrics, props.targets, endpoints),
    thresholds: {
      latencySloSeconds: requireWholeDuration(scope, 'latencySlo', props.latencySlo ?? Duration.millis(100), 'milliseconds', 1, 60_000) / 1000,
      averageLatencySeconds: optionalMillis(scope, 'averageLatencyBound', props.averageLatencyBound),
      readQuerySeconds: optionalMillis(scope, 'readQueryLatencyBound', props.readQueryLatencyBound),
      errorRatio: requireRatio(scope, 'errorRatio', props.errorRatio ?? 0.05),
      replicationLagSeconds: requireWholeDuration(scope, 'replicationLagBound', props.replicationLagBound ?? Duration.seconds(5), 'seconds', 1, 3600),
      connectionsRatio: 0.8,
      slotRetainedBytes: requireWholeMib(scope, 'standbyWalLagBound', props.standbyWalLagBound ?? Size.gibibytes(1)) * 2 ** 20,
      volumeFreeRatio: 0.1,
      redisMemoryRatio: 0.8,
      cacheHitRatio: requireRatio(scope, 'cacheHitRatio', props.cacheHitRatio ?? 0.8),
      workerFailureRatio: requireRatio(scope, 'workerFailureRatio', props.workerFailureRatio ?? 0.1),
      runbookBaseUrl: props.runbookBaseUrl ?? 'https://github.com/hscale/hscale/blob/main/docs/runbooks/alerts.md',
    },
  };
}

/**
 * Renames or leaves out the groups that read the reference service's metrics: the API's alerts and
 * dashboard with the recording rules they read, and the workers' alerts and dashboard.
 */
export function applyReferenceGroups(ruleGroups: RuleGroup[], dashboards: Record<string, object>, names: Required<ReferenceGroups>):
{ ruleGroups: RuleGroup[]; dashboards: Record<string, object> } {
  const renames: Record<string, string | false> = { 'hscale-api': names.api, 'hscale-worker': names.worker, 'hscale-recording': names.api && 'hscale-recording' };
  const nameOf = (name: string) => renames[name] ?? name;
  return {
    ruleGroups: ruleGroups.filter(g => nameOf(g.name) !== false).map(g => ({ ...g, name: nameOf(g.name) as string })),
    dashboards: Object.fromEntries(Object.entries(dashboards).flatMap(([file, dashboard]) => {
      const name = nameOf(file.replace(/\.json$/, ''));
      return name === false ? [] : [[`${name}.json`, { ...dashboard, uid: name }]];
    })),
  };
}

/** The guide's cache must be a monitored Redis: its exporter's series are what `cache_memory_bytes` sums. */
function resolveGuideMetrics(scope: Construct, guideMetrics: GuideMetricsRecording, targets: IMetricsTarget[], endpoints: MonitoredEndpoint[]):
ObservabilitySettings['guideMetrics'] {
  const guide = requireOneOf(scope, 'guideMetrics.guide', guideMetrics.guide, ['bet-intel']);
  const cache = targets.includes(guideMetrics.cache)
    ? endpoints.find(e => e.exporter === 'redis-exporter' && guideMetrics.cache.metricsEndpoints.some(own => own.workloadName === e.workloadName))
    : undefined;
  if (!cache) throw propError(scope, 'guideMetrics.cache', guideMetrics.cache.node.path, 'must be a RedisCluster among \'targets\'');
  return { guide, cache };
}

/** The rule groups: the recording rules, the guide's when asked for, and the alerts of each concern. */
function ruleGroupsOf(settings: ObservabilitySettings): RuleGroup[] {
  const { guideMetrics, endpoints, thresholds } = settings;
  const guide = guideMetrics ? [renderGuideRecordingRules(guideMetrics.cache, endpoints.filter(e => e.exporter === 'hscale-worker'))] : [];
  return [renderRecordingRules(), ...guide, ...renderAlertRules(endpoints, thresholds)];
}

/** A group's name becomes part of object names (`<name>-<group>`), so it must be a DNS label. */
function referenceGroup(scope: Construct, prop: string, value: string | false): string | false {
  return value === false ? false : requireDnsLabel(scope, prop, value);
}

function monitoredEndpoints(scope: Construct, targets: IMetricsTarget[]): MonitoredEndpoint[] {
  if (targets.length === 0) throw propError(scope, 'targets', '[]', 'must name at least one construct to monitor');
  return targets.flatMap(target => {
    if (target.metricsEndpoints.length === 0) {
      throw propError(scope, 'targets', target.node.path, 'has no metrics endpoint: give it a metrics port or an exporter');
    }
    return target.metricsEndpoints.map(e => ({ ...e, namespace: Chart.of(target).namespace }));
  });
}

function requireLabels(scope: Construct, prop: string, labels: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(labels)) {
    if (!isQualifiedName(key)) throw propError(scope, prop, key, 'is not a valid label key');
    if (!isLabelValue(value)) throw propError(scope, `${prop}.${key}`, value, 'is not a valid label value (at most 63 alphanumerics, \'-\', \'_\' or \'.\')');
  }
  return labels;
}

/** A bound of 1 ms to 60 s in seconds, when given. */
function optionalMillis(scope: Construct, prop: string, bound: Duration | undefined): number | undefined {
  return bound === undefined ? undefined : requireWholeDuration(scope, prop, bound, 'milliseconds', 1, 60_000) / 1000;
}

/** A size in whole MiB, from 1 MiB to 1 TiB. */
function requireWholeMib(scope: Construct, prop: string, size: Size): number {
  const mib = size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  if (!Number.isInteger(mib) || mib < 1 || mib > 2 ** 20) throw propError(scope, prop, `${mib} MiB`, 'must be a whole number of MiB from 1 MiB to 1 TiB');
  return mib;
}

function requireRatio(scope: Construct, prop: string, value: number): number {
  if (!(value > 0 && value < 1)) throw propError(scope, prop, value, 'must be a ratio between 0 and 1 (exclusive)');
  return value;
}

/**
 * Monitoring for a topology: scrape configuration for every target's metrics port, alert and
 * recording rules per concern, and Grafana dashboards, for a cluster running
 * prometheus-operator (kube-prometheus-stack) or as a standalone Prometheus and Grafana.
 */
export class Observability extends Construct implements ISecretConsumer {
  /** Where the scrape configs and rules go: prometheus-operator objects, or a Prometheus of its own. */
  public readonly mode: ObservabilityMode;
  /** Every target's metrics endpoints, with their namespaces. */
  public readonly endpoints: MonitoredEndpoint[];
  /** The recording and alert rule groups. */
  public readonly ruleGroups: RuleGroup[];
  /** The Grafana dashboards, by file name. */
  public readonly dashboards: Record<string, object>;
  /** Grafana's admin password Secret (standalone); none with prometheus-operator. */
  public readonly generatableSecrets: GeneratedSecretSpec[];
  /** One ConfigMap per dashboard, which Grafana's sidecar (operator) or the standalone Grafana loads. */
  public readonly dashboardConfigMaps: k8s.KubeConfigMap[];
  /** A PodMonitor per metrics endpoint that has no monitor of its own (operator mode); none in standalone mode. */
  public readonly podMonitors: ApiObject[];
  /** A PrometheusRule per rule group (operator mode); none in standalone mode, where the rules are files of Prometheus's ConfigMap. */
  public readonly prometheusRules: ApiObject[];
  /** The Prometheus of standalone mode, with its RBAC; absent in operator mode. */
  public readonly prometheus?: StandalonePrometheus;
  /** The Grafana of standalone mode; absent in operator mode. */
  public readonly grafana?: StandaloneServer;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const settings = resolveObservabilitySettings(this, props);
    const mode = resolveMode(OBSERVABILITY_MODES, settings.mode, this, props);
    this.mode = settings.mode;
    this.endpoints = settings.endpoints;
    ({ ruleGroups: this.ruleGroups, dashboards: this.dashboards } = applyReferenceGroups(
      ruleGroupsOf(settings), renderDashboards(this.endpoints), settings.referenceGroups));
    const namespace = namespaceOf(this);
    const labels = commonLabels(this, 'observability', 'monitoring');
    this.dashboardConfigMaps = this.createDashboardMaps(settings, namespace, labels);
    ({ podMonitors: this.podMonitors, prometheusRules: this.prometheusRules, prometheus: this.prometheus, grafana: this.grafana, generatableSecrets: this.generatableSecrets } = mode.build(
      { scope: this, settings, targets: props.targets, namespace, labels, ruleGroups: this.ruleGroups, dashboardMaps: this.dashboardConfigMaps }));
  }

  /** Dashboards as ConfigMaps the Grafana sidecar (or the standalone Grafana) loads. */
  private createDashboardMaps(settings: ObservabilitySettings, namespace: string | undefined, labels: Record<string, string>): k8s.KubeConfigMap[] {
    return Object.entries(this.dashboards).map(([file, dashboard]) => new k8s.KubeConfigMap(this, `Dashboard-${file}`, {
      metadata: {
        name: `${settings.name}-${file.replace(/\.json$/, '')}`, namespace, labels: { ...labels, ...settings.dashboardLabel },
        annotations: { grafana_folder: settings.dashboardFolder },
      },
      data: { [file]: JSON.stringify(dashboard, undefined, 2) },
    }));
  }
}
