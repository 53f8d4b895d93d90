import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { GeneratedSecretSpec, IMetricsTarget } from '../core/endpoints';
import { ModeModule } from '../core/mode';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { RuleGroup } from './rules';
import { ObservabilityProps, ObservabilitySettings } from './settings';

/** What every mode builds on: the Observability, its resolved settings and what it already rendered. */
export interface ObservedTopology {
  /** The Observability, scope of the mode's objects. */
  readonly scope: Construct;
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
 * How the scrape configuration and the rules reach a Prometheus: `resolve` validates the props only
 * the mode reads, `build` creates its objects in the Observability from those settings and returns them.
 */
export type ObservabilityModeModule<S> = ModeModule<ObservabilityProps, S, ObservabilityModeObjects, ObservedTopology>;

/** What a mode of Observability made: the monitors and rules of prometheus-operator, or a Prometheus and a Grafana of its own. */
export interface ObservabilityModeObjects {
  /** A PodMonitor per metrics endpoint that has no monitor of its own (operator mode); none in standalone mode. */
  readonly podMonitors: ApiObject[];
  /** A PrometheusRule per rule group (operator mode); none in standalone mode, where the rules are files of Prometheus's ConfigMap. */
  readonly prometheusRules: ApiObject[];
  /** The Prometheus of standalone mode. */
  readonly prometheus?: StandalonePrometheus;
  /** The Grafana of standalone mode. */
  readonly grafana?: StandaloneServer;
  /** Grafana's admin password Secret (standalone); none with prometheus-operator. */
  readonly generatableSecrets: GeneratedSecretSpec[];
}

/** A server of standalone mode: one pod with its Deployment, Service, PDB, NetworkPolicy and ConfigMap. */
export interface StandaloneServer {
  /** Its Deployment of one pod. */
  readonly deployment: k8s.KubeDeployment;
  /** Its Service, of the Deployment's name. */
  readonly service: k8s.KubeService;
  /** Its PodDisruptionBudget, which lets its one pod be evicted. */
  readonly disruptionBudget: k8s.KubePodDisruptionBudget;
  /** Its NetworkPolicy. */
  readonly networkPolicy: PodNetworkPolicy;
  /** Prometheus's configuration and rule files, or Grafana's provisioning. */
  readonly configMap: k8s.KubeConfigMap;
  /** Its ServiceAccount: always Prometheus's; Grafana's only when its pod options annotate one. */
  readonly serviceAccount?: k8s.KubeServiceAccount;
}

/** The Prometheus of standalone mode, and the read-only Role and RoleBinding it gets in each namespace it scrapes. */
export interface StandalonePrometheus extends StandaloneServer {
  /** Prometheus's ServiceAccount, whose token lists the targets' pods. */
  readonly serviceAccount: k8s.KubeServiceAccount;
  /** A read-only Role on pods, Services and Endpoints in each namespace it scrapes. */
  readonly roles: k8s.KubeRole[];
  /** The RoleBinding of each Role to its ServiceAccount. */
  readonly roleBindings: k8s.KubeRoleBinding[];
}
