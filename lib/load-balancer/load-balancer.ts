import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { IMetricsTarget, MetricsEndpoint, PodPeer } from '../core/endpoints';
import { ModeRegistry, requireMode } from '../core/mode';
import { requireSameNamespace, resourceName, selectorLabels } from '../core/names';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { validateProps } from '../core/prop-validation';
import { GatewayModeSettings, gatewayMode } from './gateway-mode';
import { IngressModeSettings, ingressMode } from './ingress-mode';
import { LoadBalancerObjects, LoadBalancerScope } from './mode';
import { NginxModeSettings, nginxMode } from './nginx-mode';
import { LoadBalancerMode, LoadBalancerProps } from './props';

export * from './props';
export type { GatewayModeSettings, IngressModeSettings, NginxModeSettings };

/** The settings type of each mode. */
interface LoadBalancerSettingsByMode {
  readonly nginx: NginxModeSettings;
  readonly gateway: GatewayModeSettings;
  readonly ingress: IngressModeSettings;
}

/** The props of a LoadBalancer, validated and defaulted for its mode. */
export type LoadBalancerSettings = LoadBalancerSettingsByMode[LoadBalancerMode];

/** Every mode, by name; a new mode is a module in lib/load-balancer/ and one entry here. */
export const LOAD_BALANCER_MODES: ModeRegistry<LoadBalancerMode, LoadBalancerProps, LoadBalancerSettingsByMode, LoadBalancerObjects, LoadBalancerScope> = {
  nginx: nginxMode,
  gateway: gatewayMode,
  ingress: ingressMode,
};

/** Validates `props` for their mode and fills in the defaults; throws naming `scope`, the prop and the rule. */
export function resolveLoadBalancerSettings(scope: Construct, props: LoadBalancerProps): LoadBalancerSettings {
  validateProps(scope, 'LoadBalancerProps', props);
  requireSameNamespace(scope, 'backend', props.backend);
  return LOAD_BALANCER_MODES[requireMode(scope, 'mode', props.mode ?? 'nginx', LOAD_BALANCER_MODES)].resolve(scope, props);
}

function buildMode<M extends LoadBalancerMode>(mode: M, lb: LoadBalancerScope, settings: LoadBalancerSettingsByMode[M]): LoadBalancerObjects {
  return LOAD_BALANCER_MODES[mode].build(lb, settings);
}

/**
 * The load balancing tier in front of a {@link ScaledApi}. In 'nginx' mode, an nginx
 * Deployment whose upstream resolves the API's headless Service, so `least_conn`,
 * `max_fails` and keepalive act on each pod rather than on one ClusterIP; in 'gateway' mode,
 * an HTTPRoute on a Gateway the cluster already runs; in 'ingress' mode, an Ingress for the
 * cluster's Ingress controller.
 */
export class LoadBalancer extends Construct implements IMetricsTarget {
  /** How traffic reaches the backends: our nginx, the user's Gateway, or the cluster's Ingress controller. */
  public readonly mode: LoadBalancerMode;
  /** Name of its objects, `<chart>-<id>`. */
  public readonly name: string;
  /** Labels of the nginx pods (nginx mode). */
  public readonly podSelector: Record<string, string>;
  /** nginx's exporter (nginx mode); none in the other modes, whose proxies are not ours. */
  public readonly metricsEndpoints: MetricsEndpoint[];
  /** The rendered nginx.conf (nginx mode). */
  public readonly nginxConf?: string;
  /** The ConfigMap of nginx.conf (nginx mode). */
  public readonly configMap?: k8s.KubeConfigMap;
  /** The nginx Deployment (nginx mode). */
  public readonly deployment?: k8s.KubeDeployment;
  /** The Service in front of nginx (nginx mode). */
  public readonly service?: k8s.KubeService;
  /** nginx's HorizontalPodAutoscaler (nginx mode). */
  public readonly autoscaler?: k8s.KubeHorizontalPodAutoscalerV2;
  /** nginx's PodDisruptionBudget (nginx mode). */
  public readonly disruptionBudget?: k8s.KubePodDisruptionBudget;
  /** nginx's NetworkPolicy (nginx mode). */
  public readonly networkPolicy?: PodNetworkPolicy;
  /** The HTTPRoute (gateway mode). */
  public readonly httpRoute?: ApiObject;
  /** The Ingress (ingress mode). */
  public readonly ingress?: k8s.KubeIngress;
  /** The Service without pods that the Ingress sends the backends' internal paths to, so the controller answers 503 (ingress mode). */
  public readonly closedService?: k8s.KubeService;
  /** The cert-manager Certificate that issues `tls.secretName` (nginx and ingress modes, when `tls.certificate` is given). */
  public readonly certificate?: ApiObject;
  /** The nginx pods' ServiceAccount, made only when `pod.serviceAccountAnnotations` asks for one. */
  public readonly serviceAccount?: k8s.KubeServiceAccount;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    this.name = resourceName(this);
    const settings = resolveLoadBalancerSettings(this, props);
    this.mode = settings.mode;
    this.podSelector = selectorLabels(this, 'load-balancer');

    const objects = buildMode(settings.mode, this, settings);
    this.nginxConf = objects.nginxConf;
    this.configMap = objects.configMap;
    this.deployment = objects.deployment;
    this.service = objects.service;
    this.autoscaler = objects.autoscaler;
    this.disruptionBudget = objects.disruptionBudget;
    this.networkPolicy = objects.networkPolicy;
    this.httpRoute = objects.httpRoute;
    this.ingress = objects.ingress;
    this.closedService = objects.closedService;
    this.certificate = objects.certificate;
    this.metricsEndpoints = objects.metricsEndpoints ?? [];
    this.serviceAccount = objects.serviceAccount;
  }

  /** Admits pods matching `scraper` on every metrics port (nginx mode; the Gateway's pods are not ours). */
  public allowScraper(scraper: PodPeer): void {
    this.networkPolicy?.allowIngressFrom(scraper, this.metricsEndpoints.map(endpoint => endpoint.port));
  }
}
