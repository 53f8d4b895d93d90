import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { IMetricsTarget } from '../core/endpoints';
import { RuleGroup } from './rules';
import { ObservabilityProps, ObservabilitySettings } from './settings';

/** What every mode builds on: the resolved settings and what the Observability already rendered. */
export interface ObservedTopology {
  readonly settings: ObservabilitySettings;
  /** The targets as given, so a mode can admit its scraper into their NetworkPolicies. */
  readonly targets: IMetricsTarget[];
  readonly namespace?: string;
  readonly labels: Record<string, string>;
  readonly ruleGroups: RuleGroup[];
  /** The ConfigMaps holding one dashboard each. */
  readonly dashboardMaps: k8s.KubeConfigMap[];
}

/**
 * How the scrape configuration and the rules reach a Prometheus. A mode validates the props only
 * it reads, then creates its objects in `scope`.
 */
export interface ObservabilityModeBuilder {
  build(scope: Construct, observed: ObservedTopology, props: ObservabilityProps): void;
}
