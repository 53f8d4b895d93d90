import { MonitoredEndpoint } from './rules';

/** Everything `renderPrometheusConfig` needs. */
export interface PrometheusConfigOptions {
  readonly endpoints: MonitoredEndpoint[];
  /** Paths of the rules files. */
  readonly ruleFiles: string[];
  readonly scrapeInterval: string;
}

const PROMETHEUS_UNITS: [string, number][] = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]];

/** Whole `seconds` as a Prometheus duration in the largest unit that holds it exactly: 1296000 is `15d`, 5400 `90m`. */
export function prometheusDuration(seconds: number): string {
  const [unit, size] = PROMETHEUS_UNITS.find(([, s]) => seconds % s === 0)!;
  return `${seconds / size}${unit}`;
}

/**
 * Renders `prometheus.yml` for the standalone mode: one job per metrics endpoint, discovering
 * pods with `kubernetes_sd_configs` (role pod) in the endpoint's namespace, keeping the pods that
 * match the endpoint's labels and the container port named like its metrics port, and labelling
 * series with `namespace`, `pod` and `job` as the operator's monitors would, so the same rules
 * and dashboards work in both modes.
 */
export function renderPrometheusConfig(o: PrometheusConfigOptions): object {
  return {
    global: { scrape_interval: o.scrapeInterval, evaluation_interval: o.scrapeInterval },
    rule_files: o.ruleFiles,
    scrape_configs: o.endpoints.map(e => ({
      job_name: `${e.namespace ?? 'own-namespace'}/${e.workloadName}/${e.portName}`,
      metrics_path: e.path,
      kubernetes_sd_configs: [{ role: 'pod', namespaces: e.namespace ? { names: [e.namespace] } : { own_namespace: true } }],
      relabel_configs: [
        ...Object.entries(e.podSelector).map(([key, value]) => ({
          source_labels: [`__meta_kubernetes_pod_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`],
          regex: escapeRegex(value),
          action: 'keep',
        })),
        { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: escapeRegex(e.portName), action: 'keep' },
        { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Running', action: 'keep' },
        { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        { target_label: 'job', replacement: e.serviceName ?? e.workloadName },
      ],
    })),
  };
}

function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
