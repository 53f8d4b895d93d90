import { stringify } from 'yaml';

/** A per-pod metric served to the autoscaler by prometheus-adapter as the rate of a counter. */
export interface AdapterRateMetric {
  /** Name of the metric as the custom metrics API serves it, e.g. 'requests_per_second'. */
  readonly name: string;
  /** The counter whose per-pod rate the metric is, e.g. 'http_requests_total'. */
  readonly counter: string;
}

/** One rule of prometheus-adapter's config (`rules:` list), in the adapter's own field names. */
export interface AdapterRule {
  readonly seriesQuery: string;
  readonly resources: { readonly overrides: Record<string, { readonly resource: string }> };
  readonly name: { readonly matches: string; readonly as: string };
  readonly metricsQuery: string;
}

/**
 * The query the adapter runs for a pods metric: the counter's per-second rate over one minute,
 * summed per pod. The adapter fills `<<.Series>>`, `<<.LabelMatchers>>` (namespace and the HPA's
 * pods) and `<<.GroupBy>>` (pod).
 */
export const RATE_METRICS_QUERY = 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)';

/** The prometheus-adapter rule that serves `metric` per pod from the series Prometheus scraped. */
export function adapterRateRule(metric: AdapterRateMetric): AdapterRule {
  return {
    // Only series Prometheus attached to a pod can be mapped to one.
    seriesQuery: `${metric.counter}{namespace!="",pod!=""}`,
    resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
    name: { matches: `^${metric.counter}$`, as: metric.name },
    metricsQuery: RATE_METRICS_QUERY,
  };
}

/** The adapter's config file (`rules:`) serving each metric; merge its rules into the adapter's config. */
export function renderAdapterRules(metrics: AdapterRateMetric[]): string {
  return stringify({ rules: metrics.map(adapterRateRule) });
}
