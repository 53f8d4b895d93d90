import { Duration } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { commonLabels, imageVersion, namespaceOf, resourceName, selectorLabels } from '../core/names';
import {
  disruptionBudget, nodeAntiAffinity, resolveResources, restrictedContainerSecurityContext, restrictedPodSecurityContext, scratchVolume, withEphemeralStorage,
} from '../core/pod-defaults';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import {
  annotateServiceAccount, applyPodOptions, applyPodOptionsWithServiceAccount, mergePodOptions, PodOptions, resolvePodOptions,
} from '../core/pod-options';
import { requireSecretName, SecretKeyRef } from '../core/secret-refs';
import { pinnedImage, propError, requireWholeDuration } from '../core/validation';
import { ObservabilityModeModule, ObservabilityModeObjects, ObservedTopology, StandaloneServer } from './mode';
import { prometheusDuration, renderPrometheusConfig } from './prometheus-config';
import { ObservabilityProps } from './settings';

/** The props only standalone mode reads, resolved and validated. */
export interface StandaloneSettings {
  /** Namespace of the chart, which the RoleBindings name as the ServiceAccount's. */
  readonly namespace: string;
  readonly prometheusImage: string;
  readonly grafanaImage: string;
  /** `retention` as Prometheus writes a duration (`15d`). */
  readonly retention: string;
  readonly grafanaAdminSecret: SecretKeyRef;
  /** Pod options of the Prometheus and the Grafana pod: `pod` with `prometheusPod` or `grafanaPod` laid over it. */
  readonly pod: { readonly prometheus: PodOptions; readonly grafana: PodOptions };
}

/** Validates and defaults the standalone props of an Observability at `scope`. */
export function resolveStandaloneSettings(scope: Construct, props: ObservabilityProps): StandaloneSettings {
  const namespace = namespaceOf(scope);
  if (!namespace) {
    throw propError(scope, 'mode', 'standalone', 'needs a namespace on the chart: the RoleBinding must name the namespace of Prometheus\'s ServiceAccount');
  }
  return {
    namespace,
    prometheusImage: pinnedImage(scope, 'prometheusImage', props.prometheusImage ?? 'quay.io/prometheus/prometheus:v2.53.1', props.prometheusImageDigest),
    grafanaImage: pinnedImage(scope, 'grafanaImage', props.grafanaImage ?? 'grafana/grafana:11.1.3', props.grafanaImageDigest),
    retention: prometheusDuration(requireWholeDuration(scope, 'retention', props.retention ?? Duration.days(15), 'seconds', 7200, 3650 * 86_400)),
    grafanaAdminSecret: grafanaAdminSecret(scope, props),
    pod: resolveServerPodOptions(scope, props),
  };
}

function resolveServerPodOptions(scope: Construct, props: ObservabilityProps): StandaloneSettings['pod'] {
  const pod = resolvePodOptions(scope, 'pod', props.pod);
  return {
    prometheus: mergePodOptions(pod, resolvePodOptions(scope, 'prometheusPod', props.prometheusPod)),
    grafana: mergePodOptions(pod, resolvePodOptions(scope, 'grafanaPod', props.grafanaPod)),
  };
}

/** The Secret key of Grafana's admin password. */
export function grafanaAdminSecret(scope: Construct, props: ObservabilityProps): SecretKeyRef {
  const ref = props.grafanaAdminSecret ?? { secretName: `${resourceName(scope)}-grafana-admin`, key: 'password' };
  return { secretName: requireSecretName(scope, 'grafanaAdminSecret', ref), key: ref.key };
}

/** Prometheus or Grafana: one pod behind a Service of the same name. */
interface Server {
  readonly id: 'Prometheus' | 'Grafana';
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly pods: Record<string, string>;
  readonly port: number;
  readonly portName: string;
}

/** A Prometheus and a Grafana of its own, each a Deployment of one pod with its Service, budget and NetworkPolicy. */
export const standaloneMode: ObservabilityModeModule<StandaloneSettings> = {
  name: 'standalone',
  ownProps: [
    'prometheusImage', 'prometheusImageDigest', 'grafanaImage', 'grafanaImageDigest', 'grafanaAdminSecret', 'retention', 'pod', 'prometheusPod', 'grafanaPod',
  ],
  resolve: resolveStandaloneSettings,
  build: (observed, settings) => new StandaloneStack(observed.scope, observed, settings).build(),
};

class StandaloneStack {
  private readonly prometheus: Server;
  private readonly grafana: Server;

  constructor(private readonly scope: Construct, private readonly observed: ObservedTopology, private readonly settings: StandaloneSettings) {
    this.prometheus = {
      id: 'Prometheus', name: `${observed.settings.name}-prometheus`, port: 9090, portName: 'web',
      labels: commonLabels(scope, 'prometheus', 'prometheus', imageVersion(settings.prometheusImage)),
      pods: selectorLabels(scope, 'prometheus'),
    };
    this.grafana = {
      id: 'Grafana', name: `${observed.settings.name}-grafana`, port: 3000, portName: 'http',
      labels: commonLabels(scope, 'grafana', 'grafana', imageVersion(settings.grafanaImage)),
      pods: selectorLabels(scope, 'grafana'),
    };
  }

  public build(): ObservabilityModeObjects {
    const prometheusConfig = this.createPrometheusConfig();
    const rbac = this.createPrometheusRbac();
    const prometheusDeployment = this.createPrometheusDeployment(prometheusConfig, rbac.serviceAccount);
    const grafanaProvisioning = this.createGrafanaProvisioning();
    const grafanaDeployment = this.createGrafanaDeployment(grafanaProvisioning);
    const grafanaServiceAccount = this.applyPodOptions(rbac.serviceAccount, prometheusDeployment, grafanaDeployment);
    const prometheusService = this.createServiceAndBudget(this.prometheus);
    const grafanaService = this.createServiceAndBudget(this.grafana);
    const policies = this.createNetworkPolicies();
    const scraper = { podSelector: this.prometheus.pods, namespaceSelector: { 'kubernetes.io/metadata.name': this.settings.namespace } };
    for (const target of this.observed.targets) target.allowScraper(scraper);
    return {
      podMonitors: [],
      prometheusRules: [],
      generatableSecrets: [{ name: this.settings.grafanaAdminSecret.secretName, randomKeys: [this.settings.grafanaAdminSecret.key] }],
      prometheus: { ...rbac, ...prometheusService, deployment: prometheusDeployment, configMap: prometheusConfig, networkPolicy: policies.prometheus },
      grafana: {
        ...grafanaService, deployment: grafanaDeployment, configMap: grafanaProvisioning, networkPolicy: policies.grafana, serviceAccount: grafanaServiceAccount,
      },
    };
  }

  private createPrometheusConfig(): k8s.KubeConfigMap {
    const ruleFiles = Object.fromEntries(this.observed.ruleGroups.map(g => [`${g.name}.rules.yml`, stringify({ groups: [g] })]));
    const prometheusYml = stringify(renderPrometheusConfig({
      endpoints: this.observed.settings.endpoints,
      ruleFiles: Object.keys(ruleFiles).map(f => `/etc/prometheus/${f}`),
      scrapeInterval: '30s',
    }));
    return new k8s.KubeConfigMap(this.scope, 'PrometheusConfig', {
      metadata: { name: this.prometheus.name, namespace: this.settings.namespace, labels: this.prometheus.labels },
      data: { 'prometheus.yml': prometheusYml, ...ruleFiles },
    });
  }

  /** Read-only, and only in the namespaces of the targets: what kubernetes_sd_configs needs. */
  private createPrometheusRbac(): { serviceAccount: k8s.KubeServiceAccount; roles: k8s.KubeRole[]; roleBindings: k8s.KubeRoleBinding[] } {
    const { name, labels } = this.prometheus;
    const serviceAccount = new k8s.KubeServiceAccount(this.scope, 'PrometheusServiceAccount', {
      metadata: { name, namespace: this.settings.namespace, labels },
    });
    const namespaces = [...new Set(this.observed.settings.endpoints.map(e => e.namespace))];
    const roles = namespaces.map(ns => new k8s.KubeRole(this.scope, `Role-${ns}`, {
      metadata: { name, namespace: ns, labels },
      rules: [{ apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] }],
    }));
    const roleBindings = namespaces.map(ns => new k8s.KubeRoleBinding(this.scope, `RoleBinding-${ns}`, {
      metadata: { name, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount.name, namespace: this.settings.namespace }],
    }));
    return { serviceAccount, roles, roleBindings };
  }

  /** The pod options of each server: Prometheus's own ServiceAccount takes the annotations; Grafana gets one only for them. */
  private applyPodOptions(
    serviceAccount: k8s.KubeServiceAccount, prometheus: k8s.KubeDeployment, grafana: k8s.KubeDeployment,
  ): k8s.KubeServiceAccount | undefined {
    const { pod, namespace } = this.settings;
    annotateServiceAccount(serviceAccount, pod.prometheus.serviceAccountAnnotations);
    applyPodOptions(this.scope, 'prometheusPod', prometheus, pod.prometheus);
    return applyPodOptionsWithServiceAccount(this.scope, 'grafanaPod', [grafana], pod.grafana, {
      id: 'GrafanaServiceAccount', metadata: { name: this.grafana.name, namespace, labels: this.grafana.labels },
    });
  }

  private createPrometheusDeployment(config: k8s.KubeConfigMap, serviceAccount: k8s.KubeServiceAccount): k8s.KubeDeployment {
    const data = scratchVolume('data', '/prometheus', '20Gi');
    return this.createDeployment(this.prometheus, 65534, {
      serviceAccountName: serviceAccount.name,
      automountServiceAccountToken: true,
      volumes: [{ name: 'config', configMap: { name: config.name } }, data.volume],
    }, {
      name: 'prometheus',
      image: this.settings.prometheusImage,
      args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', `--storage.tsdb.retention.time=${this.settings.retention}`],
      ports: [{ name: this.prometheus.portName, containerPort: this.prometheus.port, protocol: 'TCP' }],
      resources: resolveResources(this.scope, 'prometheusResources', undefined, { cpuRequest: '250m', memoryRequest: '1Gi', cpuLimit: '2', memoryLimit: '4Gi' }),
      volumeMounts: [{ name: 'config', mountPath: '/etc/prometheus', readOnly: true }, data.mount],
      readinessProbe: { httpGet: { path: '/-/ready', port: k8s.IntOrString.fromString('web') }, periodSeconds: 10 },
      livenessProbe: { httpGet: { path: '/-/healthy', port: k8s.IntOrString.fromString('web') }, periodSeconds: 30 },
    });
  }

  private createGrafanaProvisioning(): k8s.KubeConfigMap {
    return new k8s.KubeConfigMap(this.scope, 'GrafanaProvisioning', {
      metadata: { name: `${this.grafana.name}-provisioning`, namespace: this.settings.namespace, labels: this.grafana.labels },
      data: {
        'datasources.yaml': stringify({
          apiVersion: 1,
          datasources: [{ name: 'Prometheus', type: 'prometheus', uid: 'prometheus', access: 'proxy', url: `http://${this.prometheus.name}:${this.prometheus.port}`, isDefault: true }],
        }),
        'dashboards.yaml': stringify({
          apiVersion: 1,
          providers: [{ name: 'hscale', folder: this.observed.settings.dashboardFolder, type: 'file', options: { path: '/var/lib/grafana/dashboards' } }],
        }),
      },
    });
  }

  private createGrafanaDeployment(provisioning: k8s.KubeConfigMap): k8s.KubeDeployment {
    const data = scratchVolume('data', '/var/lib/grafana', '1Gi');
    const tmp = scratchVolume('tmp', '/tmp');
    return this.createDeployment(this.grafana, 472, {
      volumes: [
        data.volume, tmp.volume,
        { name: 'provisioning', configMap: { name: provisioning.name } },
        { name: 'dashboards', projected: { sources: this.observed.dashboardMaps.map(m => ({ configMap: { name: m.name } })) } },
      ],
    }, {
      name: 'grafana',
      image: this.settings.grafanaImage,
      env: [
        { name: 'GF_SECURITY_ADMIN_PASSWORD', valueFrom: { secretKeyRef: { name: this.settings.grafanaAdminSecret.secretName, key: this.settings.grafanaAdminSecret.key } } },
        { name: 'GF_PATHS_PROVISIONING', value: '/etc/grafana/provisioning' },
        { name: 'GF_ANALYTICS_REPORTING_ENABLED', value: 'false' },
      ],
      ports: [{ name: this.grafana.portName, containerPort: this.grafana.port, protocol: 'TCP' }],
      resources: resolveResources(this.scope, 'grafanaResources', undefined, { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' }),
      volumeMounts: [
        data.mount, tmp.mount,
        { name: 'provisioning', mountPath: '/etc/grafana/provisioning/datasources/datasources.yaml', subPath: 'datasources.yaml', readOnly: true },
        { name: 'provisioning', mountPath: '/etc/grafana/provisioning/dashboards/dashboards.yaml', subPath: 'dashboards.yaml', readOnly: true },
        { name: 'dashboards', mountPath: '/var/lib/grafana/dashboards', readOnly: true },
      ],
      readinessProbe: { httpGet: { path: '/api/health', port: k8s.IntOrString.fromString('http') }, periodSeconds: 10 },
      livenessProbe: { httpGet: { path: '/api/health', port: k8s.IntOrString.fromString('http') }, periodSeconds: 30 },
    });
  }

  private createDeployment(server: Server, uid: number, spec: Partial<k8s.PodSpec>, container: k8s.Container): k8s.KubeDeployment {
    const { id, name, labels, pods } = server;
    return new k8s.KubeDeployment(this.scope, id, {
      metadata: { name, namespace: this.settings.namespace, labels },
      spec: {
        replicas: 1,
        // One Prometheus with an emptyDir: a second one would scrape everything twice.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: pods },
        template: {
          metadata: { labels, annotations: spec.automountServiceAccountToken ? { 'hscale.io/needs-service-account-token': 'kubernetes_sd_configs lists pods through the API server' } : undefined },
          spec: withEphemeralStorage({
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(uid, uid),
            affinity: nodeAntiAffinity(pods, 'preferred'),
            ...spec,
            containers: [{ ...container, securityContext: restrictedContainerSecurityContext(), imagePullPolicy: 'IfNotPresent' }],
          }),
        },
      },
    });
  }

  private createServiceAndBudget({ id, name, labels, pods, port, portName }: Server): Pick<StandaloneServer, 'service' | 'disruptionBudget'> {
    const metadata = { name, namespace: this.settings.namespace, labels };
    const service = new k8s.KubeService(this.scope, `${id}Service`, {
      metadata,
      spec: { selector: pods, ports: [{ name: portName, port, targetPort: k8s.IntOrString.fromString(portName), protocol: 'TCP' }] },
    });
    // One pod each, so the budget allows its eviction rather than stalling node drains.
    return { service, disruptionBudget: disruptionBudget(this.scope, `${id}ServiceBudget`, metadata, pods) };
  }

  private createNetworkPolicies(): { prometheus: PodNetworkPolicy; grafana: PodNetworkPolicy } {
    const { prometheus, grafana } = this;
    const promPolicy = new PodNetworkPolicy(this.scope, 'PrometheusNetworkPolicy', { podSelector: prometheus.pods, labels: prometheus.labels, role: 'prometheus' });
    promPolicy.allowIngressFrom({ podSelector: grafana.pods }, [prometheus.port]);
    // The API server has no pod selector; 443 and 6443 are its usual ports.
    promPolicy.allowEgressToAnywhere([443, 6443]);
    for (const e of this.observed.settings.endpoints) {
      promPolicy.allowEgressTo({ peer: { podSelector: e.podSelector, ...(e.namespace ? { namespaceSelector: { 'kubernetes.io/metadata.name': e.namespace } } : {}) }, ports: [e.port] });
    }
    const grafanaPolicy = new PodNetworkPolicy(this.scope, 'GrafanaNetworkPolicy', { podSelector: grafana.pods, labels: grafana.labels, role: 'grafana' });
    grafanaPolicy.allowIngressFrom({ podSelector: {} }, [grafana.port]);
    grafanaPolicy.allowEgressTo({ peer: { podSelector: prometheus.pods }, ports: [prometheus.port] });
    return { prometheus: promPolicy, grafana: grafanaPolicy };
  }
}
