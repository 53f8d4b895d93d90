import { ApiObject } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { MetricsEndpoint } from '../core/endpoints';
import { ModeModule } from '../core/mode';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { LoadBalancerMode, LoadBalancerProps } from './props';

/** The LoadBalancer construct as a mode sees it: the scope of what it creates, and the names every mode shares. */
export interface LoadBalancerScope extends Construct {
  readonly name: string;
  readonly podSelector: Record<string, string>;
}

/** What a mode created; the LoadBalancer exposes each as its public member of the same name. */
export interface LoadBalancerObjects {
  readonly nginxConf?: string;
  readonly configMap?: k8s.KubeConfigMap;
  readonly deployment?: k8s.KubeDeployment;
  readonly service?: k8s.KubeService;
  readonly autoscaler?: k8s.KubeHorizontalPodAutoscalerV2;
  readonly disruptionBudget?: k8s.KubePodDisruptionBudget;
  readonly networkPolicy?: PodNetworkPolicy;
  readonly httpRoute?: ApiObject;
  readonly ingress?: k8s.KubeIngress;
  /** The Service without pods that the Ingress sends the backends' internal paths to (ingress mode). */
  readonly closedService?: k8s.KubeService;
  /** The cert-manager Certificate of `tls.certificate` (nginx and ingress modes). */
  readonly certificate?: ApiObject;
  readonly metricsEndpoints?: MetricsEndpoint[];
  /** The nginx pods' ServiceAccount, made only when `pod.serviceAccountAnnotations` asks for one. */
  readonly serviceAccount?: k8s.KubeServiceAccount;
}

/**
 * One way of running the load balancer: `resolve` validates every prop the mode reads (the shared
 * ones through `routes.ts`) and returns them defaulted; `build` creates the mode's objects from those
 * settings alone.
 */
export type LoadBalancerModeModule<S extends { readonly mode: LoadBalancerMode }> = ModeModule<LoadBalancerProps, S, LoadBalancerObjects, LoadBalancerScope>;
