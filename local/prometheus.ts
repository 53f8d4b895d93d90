import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { stringify } from 'yaml';
import { ChartObjects, matches } from './chart';
import { LocalPod } from './cluster';

interface PodMetricsEndpoint {
  readonly port: string;
  readonly path?: string;
  readonly relabelings?: Array<{ readonly targetLabel: string; readonly replacement?: string }>;
}

/**
 * Prometheus scrape jobs equivalent to the chart's PodMonitors: each monitor's selector picks local
 * pods by their labels, its named port becomes the pod's loopback port, its `replacement`
 * relabelings set the same labels; `namespace`, `pod` and `container` are added as the operator does.
 */
export function scrapeConfigs(chart: ChartObjects, pods: LocalPod[], interval: string): object[] {
  return chart.ofKind('PodMonitor').flatMap(monitor => (monitor.spec.podMetricsEndpoints as PodMetricsEndpoint[]).map((endpoint, i) => {
    const selected = pods.filter(p => matches(monitor.spec.selector.matchLabels, p.labels) && p.namedPort(endpoint.port) !== undefined);
    const fixedLabels = Object.fromEntries((endpoint.relabelings ?? []).filter(r => r.replacement !== undefined).map(r => [r.targetLabel, r.replacement]));
    return {
      job_name: `podMonitor/${monitor.metadata.namespace}/${monitor.metadata.name}/${i}`,
      scrape_interval: interval,
      metrics_path: endpoint.path ?? '/metrics',
      static_configs: selected.map(pod => ({
        targets: [`127.0.0.1:${pod.namedPort(endpoint.port)}`],
        labels: { namespace: pod.workload.namespace, pod: pod.name, container: containerOf(pod, endpoint.port), ...fixedLabels },
      })),
    };
  }));
}

function containerOf(pod: LocalPod, portName: string): string {
  return pod.workload.containers.find(c => (c.ports ?? []).some(p => p.name === portName))!.name;
}

/** Writes prometheus.yml and one rules file per PrometheusRule of the chart into `dir`; returns the config path. */
export function writePrometheusConfig(chart: ChartObjects, pods: LocalPod[], dir: string, interval = '5s'): string {
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  for (const rule of chart.ofKind('PrometheusRule')) {
    writeFileSync(join(rulesDir, `${rule.metadata.name}.yml`), stringify({ groups: rule.spec.groups }));
  }
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [join(rulesDir, '*.yml')],
    scrape_configs: scrapeConfigs(chart, pods, interval),
  };
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, stringify(config));
  return file;
}
