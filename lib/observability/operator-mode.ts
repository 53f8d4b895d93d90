import { ApiObject } from 'cdk8s';
import { ObservabilityModeModule, ObservabilityModeObjects, ObservedTopology } from './mode';

/** prometheus-operator (kube-prometheus-stack): a PodMonitor per endpoint and a PrometheusRule per rule group. */
export const operatorMode: ObservabilityModeModule<void> = {
  name: 'operator',
  // Every prop operator mode reads, the others read too.
  ownProps: [],
  resolve() {},
  build(observed): ObservabilityModeObjects {
    return { podMonitors: createPodMonitors(observed), prometheusRules: createPrometheusRules(observed), generatableSecrets: [] };
  },
};

function createPodMonitors({ scope, settings, labels }: ObservedTopology): ApiObject[] {
  // Endpoints that bring their own monitor (CloudNativePG) would otherwise be scraped twice.
  return settings.endpoints.filter(x => !x.hasMonitor).map(e =>
    new ApiObject(scope, `PodMonitor-${e.workloadName}-${e.portName}`, {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: {
        name: `${e.workloadName}-${e.portName}`,
        namespace: e.namespace,
        labels: { ...labels, ...settings.selectorLabels },
      },
      spec: {
        selector: { matchLabels: e.podSelector },
        podMetricsEndpoints: [{
          port: e.portName,
          path: e.path,
          // `job` names the API's Service in both modes, so rules and dashboards select the same series.
          relabelings: [{ targetLabel: 'job', replacement: e.serviceName ?? e.workloadName }],
        }],
      },
    }));
}

function createPrometheusRules({ scope, settings, namespace, labels, ruleGroups }: ObservedTopology): ApiObject[] {
  return ruleGroups.map(group => new ApiObject(scope, `Rules-${group.name}`, {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: `${settings.name}-${group.name.replace(/^hscale-/, '')}`, namespace, labels: { ...labels, ...settings.selectorLabels } },
    spec: { groups: [group] },
  }));
}
