import { ApiObject, Chart, Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { IMetricsTarget } from './endpoints';
import { renderDashboards } from './monitoring/dashboards';
import { renderPrometheusConfig } from './monitoring/prometheus-config';
import { AlertThresholds, MonitoredEndpoint, renderAlertRules, renderRecordingRules, RuleGroup } from './monitoring/rules';
import { commonLabels, imageVersion, namespaceOf, resourceName, selectorLabels } from './names';
import {
  nodeAntiAffinity, resolveResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume,
} from './pod-defaults';
import { PodNetworkPolicy } from './pod-network-policy';
import { propError, requireOneOf, requirePinnedImage, requirePositive } from './validation';

export type ObservabilityMode = 'operator' | 'standalone';
const MODES: ObservabilityMode[] = ['operator', 'standalone'];

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
  /** Replication lag that warns. @default Duration.seconds(5) */
  readonly replicationLagBound?: Duration;
  /** Ratio of 5xx responses that pages. @default 0.05 */
  readonly errorRatio?: number;
  /** Cache hit ratio below which an alert warns. @default 0.8 */
  readonly cacheHitRatio?: number;
  /** Base URL of the runbooks; `#<alert name>` is appended. @default 'https://github.com/hscale/hscale/blob/main/docs/runbooks/alerts.md' */
  readonly runbookBaseUrl?: string;
  /** Label the Grafana sidecar loads dashboard ConfigMaps by. @default { grafana_dashboard: '1' } */
  readonly dashboardLabel?: Record<string, string>;
  /** Grafana folder of the dashboards (annotation `grafana_folder`). @default 'hscale' */
  readonly dashboardFolder?: string;
  /** standalone: Prometheus image. @default 'quay.io/prometheus/prometheus:v2.53.1' */
  readonly prometheusImage?: string;
  /** standalone: Grafana image. @default 'grafana/grafana:11.1.3' */
  readonly grafanaImage?: string;
  /** standalone: Secret with the Grafana admin password (key `password`). @default '<name>-grafana-admin' */
  readonly grafanaAdminSecret?: string;
  /** standalone: how long Prometheus keeps samples. @default '15d' */
  readonly retention?: string;
}

// Kubernetes label keys: an optional DNS prefix and a name of at most 63 characters; values at most 63.
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * Monitoring for a topology: scrape configuration for every target's metrics port, alert and
 * recording rules per concern, and Grafana dashboards, for a cluster running
 * prometheus-operator (kube-prometheus-stack) or as a standalone Prometheus and Grafana.
 */
export class Observability extends Construct {
  public readonly mode: ObservabilityMode;
  public readonly endpoints: MonitoredEndpoint[];
  public readonly ruleGroups: RuleGroup[];
  public readonly dashboards: Record<string, object>;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.mode = requireOneOf(this, 'mode', props.mode ?? 'operator', MODES);
    const name = resourceName(this);
    if (props.targets.length === 0) throw propError(this, 'targets', '[]', 'must name at least one construct to monitor');
    this.endpoints = props.targets.flatMap(target => {
      if (target.metricsEndpoints.length === 0) {
        throw propError(this, 'targets', target.node.path, 'has no metrics endpoint: give it a metrics port or an exporter');
      }
      return target.metricsEndpoints.map(e => ({ ...e, namespace: Chart.of(target).namespace }));
    });
    const selector = props.selectorLabels ?? { release: 'kube-prometheus-stack' };
    const dashboardLabel = props.dashboardLabel ?? { grafana_dashboard: '1' };
    for (const [prop, labels] of [['selectorLabels', selector], ['dashboardLabel', dashboardLabel]] as const) {
      for (const [key, value] of Object.entries(labels)) {
        if (!LABEL_KEY.test(key) || key.length > 253) throw propError(this, `${prop}`, key, 'is not a valid label key');
        if (!LABEL_VALUE.test(value)) throw propError(this, `${prop}.${key}`, value, 'is not a valid label value (at most 63 alphanumerics, \'-\', \'_\' or \'.\')');
      }
    }
    const thresholds: AlertThresholds = {
      latencySloSeconds: requirePositive(this, 'latencySlo', (props.latencySlo?.toMilliseconds() ?? 100)) / 1000,
      errorRatio: this.ratio('errorRatio', props.errorRatio ?? 0.05),
      replicationLagSeconds: requirePositive(this, 'replicationLagBound', props.replicationLagBound?.toSeconds() ?? 5),
      connectionsRatio: 0.8,
      slotRetainedBytes: 2 ** 30,
      redisMemoryRatio: 0.8,
      cacheHitRatio: this.ratio('cacheHitRatio', props.cacheHitRatio ?? 0.8),
      runbookBaseUrl: props.runbookBaseUrl ?? 'https://github.com/hscale/hscale/blob/main/docs/runbooks/alerts.md',
    };
    this.ruleGroups = [renderRecordingRules(), ...renderAlertRules(this.endpoints, thresholds)];
    this.dashboards = renderDashboards(this.endpoints);
    const namespace = namespaceOf(this);
    const labels = commonLabels(this, 'observability', 'monitoring');

    // Dashboards as ConfigMaps the Grafana sidecar (or the standalone Grafana) loads.
    const dashboardMaps = Object.entries(this.dashboards).map(([file, dashboard]) => new k8s.KubeConfigMap(this, `Dashboard-${file}`, {
      metadata: {
        name: `${name}-${file.replace(/\.json$/, '')}`, namespace, labels: { ...labels, ...dashboardLabel },
        annotations: { grafana_folder: props.dashboardFolder ?? 'hscale' },
      },
      data: { [file]: JSON.stringify(dashboard, undefined, 2) },
    }));

    if (this.mode === 'operator') {
      for (const e of this.endpoints.filter(x => !x.hasMonitor)) {
        new ApiObject(this, `PodMonitor-${e.workloadName}-${e.portName}`, {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PodMonitor',
          metadata: { name: `${e.workloadName}-${e.portName === 'metrics' ? 'metrics' : e.portName}`, namespace: e.namespace, labels: { ...labels, ...selector } },
          spec: {
            selector: { matchLabels: e.podSelector },
            podMetricsEndpoints: [{
              port: e.portName,
              path: e.path,
              // `job` names the API's Service in both modes, so rules and dashboards select the same series.
              relabelings: [{ targetLabel: 'job', replacement: e.serviceName ?? e.workloadName }],
            }],
          },
        });
      }
      for (const group of this.ruleGroups) {
        new ApiObject(this, `Rules-${group.name}`, {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PrometheusRule',
          metadata: { name: group.name.replace(/^hscale/, name), namespace, labels: { ...labels, ...selector } },
          spec: { groups: [group] },
        });
      }
      return;
    }
    this.buildStandalone(name, props, dashboardMaps, props.targets);
  }

  private ratio(prop: string, value: number): number {
    if (!(value > 0 && value < 1)) throw propError(this, prop, value, 'must be a ratio between 0 and 1 (exclusive)');
    return value;
  }

  private buildStandalone(name: string, props: ObservabilityProps, dashboardMaps: k8s.KubeConfigMap[], targets: IMetricsTarget[]): void {
    const namespace = namespaceOf(this);
    if (!namespace) {
      throw propError(this, 'mode', 'standalone', 'needs a namespace on the chart: the RoleBinding must name the namespace of Prometheus\'s ServiceAccount');
    }
    const prometheusImage = requirePinnedImage(this, 'prometheusImage', props.prometheusImage ?? 'quay.io/prometheus/prometheus:v2.53.1');
    const grafanaImage = requirePinnedImage(this, 'grafanaImage', props.grafanaImage ?? 'grafana/grafana:11.1.3');
    const promLabels = commonLabels(this, 'prometheus', 'prometheus', imageVersion(prometheusImage));
    const promPods = selectorLabels(this, 'prometheus');
    const grafanaLabels = commonLabels(this, 'grafana', 'grafana', imageVersion(grafanaImage));
    const grafanaPods = selectorLabels(this, 'grafana');
    const promName = `${name}-prometheus`;
    const grafanaName = `${name}-grafana`;
    const ruleFiles = Object.fromEntries(this.ruleGroups.map(g => [`${g.name}.rules.yml`, stringify({ groups: [g] })]));
    const prometheusYml = stringify(renderPrometheusConfig({
      endpoints: this.endpoints,
      ruleFiles: Object.keys(ruleFiles).map(f => `/etc/prometheus/${f}`),
      scrapeInterval: '30s',
    }));
    const config = new k8s.KubeConfigMap(this, 'PrometheusConfig', {
      metadata: { name: promName, namespace, labels: promLabels },
      data: { 'prometheus.yml': prometheusYml, ...ruleFiles },
    });

    const serviceAccount = new k8s.KubeServiceAccount(this, 'PrometheusServiceAccount', { metadata: { name: promName, namespace, labels: promLabels } });
    // Read-only, and only in the namespaces of the targets: what kubernetes_sd_configs needs.
    for (const ns of new Set(this.endpoints.map(e => e.namespace))) {
      new k8s.KubeRole(this, `Role-${ns}`, {
        metadata: { name: promName, namespace: ns, labels: promLabels },
        rules: [{ apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] }],
      });
      new k8s.KubeRoleBinding(this, `RoleBinding-${ns}`, {
        metadata: { name: promName, namespace: ns, labels: promLabels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: promName },
        subjects: [{ kind: 'ServiceAccount', name: serviceAccount.name, namespace }],
      });
    }

    const deployment = (id: string, deploymentName: string, labels: Record<string, string>, pods: Record<string, string>, uid: number,
      spec: Partial<k8s.PodSpec>, container: k8s.Container) => new k8s.KubeDeployment(this, id, {
      metadata: { name: deploymentName, namespace, labels },
      spec: {
        replicas: 1,
        // One Prometheus with an emptyDir: a second one would scrape everything twice.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: pods },
        template: {
          metadata: { labels, annotations: spec.automountServiceAccountToken ? { 'hscale.io/needs-service-account-token': 'kubernetes_sd_configs lists pods through the API server' } : {} },
          spec: {
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(uid, uid),
            affinity: nodeAntiAffinity(pods, false),
            ...spec,
            containers: [{ ...container, securityContext: restrictedContainerSecurityContext(), imagePullPolicy: 'IfNotPresent' }],
          },
        },
      },
    });
    const promTmp = scratchVolume('data', '/prometheus', '20Gi');
    deployment('Prometheus', promName, promLabels, promPods, 65534, {
      serviceAccountName: serviceAccount.name,
      automountServiceAccountToken: true,
      volumes: [{ name: 'config', configMap: { name: config.name } }, promTmp.volume],
    }, {
      name: 'prometheus',
      image: prometheusImage,
      args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', `--storage.tsdb.retention.time=${props.retention ?? '15d'}`],
      ports: [{ name: 'web', containerPort: 9090, protocol: 'TCP' }],
      resources: resolveResources(this, 'prometheusResources', undefined, { cpuRequest: '250m', memoryRequest: '1Gi', cpuLimit: '2', memoryLimit: '4Gi' }),
      volumeMounts: [{ name: 'config', mountPath: '/etc/prometheus', readOnly: true }, promTmp.mount],
      readinessProbe: { httpGet: { path: '/-/ready', port: k8s.IntOrString.fromString('web') }, periodSeconds: 10 },
      livenessProbe: { httpGet: { path: '/-/healthy', port: k8s.IntOrString.fromString('web') }, periodSeconds: 30 },
    });

    const grafanaConfig = new k8s.KubeConfigMap(this, 'GrafanaProvisioning', {
      metadata: { name: `${grafanaName}-provisioning`, namespace, labels: grafanaLabels },
      data: {
        'datasources.yaml': stringify({
          apiVersion: 1,
          datasources: [{ name: 'Prometheus', type: 'prometheus', uid: 'prometheus', access: 'proxy', url: `http://${promName}:9090`, isDefault: true }],
        }),
        'dashboards.yaml': stringify({
          apiVersion: 1,
          providers: [{ name: 'hscale', folder: props.dashboardFolder ?? 'hscale', type: 'file', options: { path: '/var/lib/grafana/dashboards' } }],
        }),
      },
    });
    const grafanaData = scratchVolume('data', '/var/lib/grafana', '1Gi');
    const grafanaTmp = scratchVolume('tmp', '/tmp');
    deployment('Grafana', grafanaName, grafanaLabels, grafanaPods, 472, {
      volumes: [
        grafanaData.volume, grafanaTmp.volume,
        { name: 'provisioning', configMap: { name: grafanaConfig.name } },
        { name: 'dashboards', projected: { sources: dashboardMaps.map(m => ({ configMap: { name: m.name } })) } },
      ],
    }, {
      name: 'grafana',
      image: grafanaImage,
      env: [
        { name: 'GF_SECURITY_ADMIN_PASSWORD', valueFrom: { secretKeyRef: { name: props.grafanaAdminSecret ?? `${grafanaName}-admin`, key: 'password' } } },
        { name: 'GF_PATHS_PROVISIONING', value: '/etc/grafana/provisioning' },
        { name: 'GF_ANALYTICS_REPORTING_ENABLED', value: 'false' },
      ],
      ports: [{ name: 'http', containerPort: 3000, protocol: 'TCP' }],
      resources: resolveResources(this, 'grafanaResources', undefined, { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' }),
      volumeMounts: [
        grafanaData.mount, grafanaTmp.mount,
        { name: 'provisioning', mountPath: '/etc/grafana/provisioning/datasources/datasources.yaml', subPath: 'datasources.yaml', readOnly: true },
        { name: 'provisioning', mountPath: '/etc/grafana/provisioning/dashboards/dashboards.yaml', subPath: 'dashboards.yaml', readOnly: true },
        { name: 'dashboards', mountPath: '/var/lib/grafana/dashboards', readOnly: true },
      ],
      readinessProbe: { httpGet: { path: '/api/health', port: k8s.IntOrString.fromString('http') }, periodSeconds: 10 },
      livenessProbe: { httpGet: { path: '/api/health', port: k8s.IntOrString.fromString('http') }, periodSeconds: 30 },
    });

    for (const [id, serviceName, labels, pods, port, portName] of [
      ['PrometheusService', promName, promLabels, promPods, 9090, 'web'],
      ['GrafanaService', grafanaName, grafanaLabels, grafanaPods, 3000, 'http'],
    ] as const) {
      new k8s.KubeService(this, id, {
        metadata: { name: serviceName, namespace, labels },
        spec: { selector: pods, ports: [{ name: portName, port, targetPort: k8s.IntOrString.fromString(portName), protocol: 'TCP' }] },
      });
      // One pod each, so the budget allows its eviction rather than stalling node drains.
      new k8s.KubePodDisruptionBudget(this, `${id}Budget`, {
        metadata: { name: serviceName, namespace, labels },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: pods } },
      });
    }

    const promPolicy = new PodNetworkPolicy(this, 'PrometheusNetworkPolicy', { podSelector: promPods, labels: promLabels, role: 'prometheus' });
    promPolicy.allowIngressFrom({ podSelector: grafanaPods }, [9090]);
    // The API server has no pod selector; 443 and 6443 are its usual ports.
    promPolicy.allowEgressToAnywhere([443, 6443]);
    for (const e of this.endpoints) {
      promPolicy.allowEgressTo({ peer: { podSelector: e.podSelector, ...(e.namespace ? { namespaceSelector: { 'kubernetes.io/metadata.name': e.namespace } } : {}) }, ports: [e.port] });
    }
    const grafanaPolicy = new PodNetworkPolicy(this, 'GrafanaNetworkPolicy', { podSelector: grafanaPods, labels: grafanaLabels, role: 'grafana' });
    grafanaPolicy.allowIngressFrom({ podSelector: {} }, [3000]);
    grafanaPolicy.allowEgressTo({ peer: { podSelector: promPods }, ports: [9090] });
    for (const target of targets) target.allowScraper({ podSelector: promPods, namespaceSelector: { 'kubernetes.io/metadata.name': namespace } });
  }
}
