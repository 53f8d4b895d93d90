import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { ILoadBalancerBackend, PodPeer } from '../core/endpoints';
import { commonLabels, namespaceOf } from '../core/names';
import { propError, requireDnsLabel, requirePinnedPeer } from '../core/validation';
import { LoadBalancerModeModule, LoadBalancerScope } from './mode';
import { LoadBalancerProps, LoadBalancerTls } from './props';
import { otherBackends, ResolvedRoute, resolveInternalPaths, resolveRoutes } from './routes';
import { createCertificate, resolveTls } from './tls';

/** The resolved props of 'ingress' mode: a networking.k8s.io/v1 Ingress for the cluster's Ingress controller. */
export interface IngressModeSettings {
  readonly mode: 'ingress';
  readonly backend: ILoadBalancerBackend;
  /** Path prefixes sent to other backends, or taking over `/`. */
  readonly routes: ResolvedRoute[];
  /** Path prefixes sent to a Service without endpoints, so the controller forwards none of them. */
  readonly internalPaths: string[];
  readonly ingressClassName: string;
  /** Host names the rules match and the certificate serves; every host when absent (no TLS then). */
  readonly hostnames?: string[];
  readonly tls?: LoadBalancerTls;
  /** The controller's pods, which every backend admits. */
  readonly controllerPods: PodPeer;
}

/** The annotation that says a Service has no endpoints on purpose, and why (the manifest checks accept it). */
export const NO_ENDPOINTS_ANNOTATION = 'hscale.io/no-endpoints';

function resolveIngressSettings(scope: Construct, props: LoadBalancerProps): IngressModeSettings {
  if (!props.ingressClassName) {
    throw propError(scope, 'ingressClassName', props.ingressClassName ?? '', 'must name the IngressClass of the cluster\'s Ingress controller in \'ingress\' mode');
  }
  if (!props.ingressControllerPods) {
    throw propError(scope, 'ingressControllerPods', '', 'must select the Ingress controller\'s pods in \'ingress\' mode, which the backends admit, '
      + 'e.g. { podSelector: {}, namespaceSelector: { \'kubernetes.io/metadata.name\': \'traefik\' } }');
  }
  const tls = resolveTls(scope, props.tls);
  const hostnames = props.hostnames ?? tls?.certificate?.dnsNames;
  if (tls && !hostnames?.length) {
    throw propError(scope, 'hostnames', JSON.stringify(props.hostnames ?? []), 'must name the host names the certificate of \'tls\' serves in \'ingress\' mode');
  }
  return {
    mode: 'ingress',
    backend: props.backend,
    routes: resolveRoutes(scope, props.routes),
    internalPaths: resolveInternalPaths(scope, props.internalPaths),
    ingressClassName: requireDnsLabel(scope, 'ingressClassName', props.ingressClassName),
    hostnames,
    tls,
    controllerPods: requirePinnedPeer(scope, 'ingressControllerPods', props.ingressControllerPods),
  };
}

/**
 * The routes, then the backend's own `/` unless a route took it over, then each internal path to
 * `closed`: the longest matching prefix wins, so the controller forwards no internal path.
 */
function ingressPaths(s: IngressModeSettings, closed: k8s.KubeService): k8s.HttpIngressPath[] {
  const routes = s.routes.some(route => route.pathPrefix === '/') ? s.routes : [...s.routes, { pathPrefix: '/', backend: s.backend }];
  const path = (prefix: string, service: string, port: number): k8s.HttpIngressPath => ({
    path: prefix, pathType: 'Prefix', backend: { service: { name: service, port: { number: port } } },
  });
  return [
    ...routes.map(route => path(route.pathPrefix, route.backend.serviceName, route.backend.port)),
    ...s.internalPaths.map(prefix => path(prefix, closed.name, CLOSED_PORT)),
  ];
}

const CLOSED_PORT = 80;

/** A Service that selects no pod: controllers answer 503 for its paths. */
function createClosedService(lb: LoadBalancerScope, labels: Record<string, string>): k8s.KubeService {
  return new k8s.KubeService(lb, 'ClosedService', {
    metadata: {
      name: `${lb.name}-closed`, namespace: namespaceOf(lb), labels,
      annotations: { [NO_ENDPOINTS_ANNOTATION]: 'the Ingress sends the backends\' internal paths here, so the controller answers 503 and forwards none' },
    },
    spec: { ports: [{ name: 'http', port: CLOSED_PORT, protocol: 'TCP' }] },
  });
}

function createIngress(lb: LoadBalancerScope, s: IngressModeSettings, labels: Record<string, string>, closed: k8s.KubeService): k8s.KubeIngress {
  const http = { paths: ingressPaths(s, closed) };
  return new k8s.KubeIngress(lb, 'Ingress', {
    metadata: { name: lb.name, namespace: namespaceOf(lb), labels },
    spec: {
      ingressClassName: s.ingressClassName,
      ...(s.tls ? { tls: [{ hosts: s.hostnames, secretName: s.tls.secretName }] } : {}),
      rules: s.hostnames ? s.hostnames.map(host => ({ host, http })) : [{ http }],
    },
  });
}

/** 'ingress' mode: an Ingress for the cluster's controller (TLS from a Secret or cert-manager), and the backends admitting the controller's pods. */
export const ingressMode: LoadBalancerModeModule<IngressModeSettings> = {
  name: 'ingress',
  ownProps: ['tls', 'hostnames', 'ingressClassName', 'ingressControllerPods'],
  resolve: resolveIngressSettings,
  build(lb, settings) {
    const labels = commonLabels(lb, 'ingress', 'load-balancer');
    const closedService = createClosedService(lb, labels);
    const ingress = createIngress(lb, settings, labels, closedService);
    const certificate = settings.tls?.certificate && createCertificate(lb, settings.tls, { name: lb.name, labels, namespace: namespaceOf(lb) });
    for (const backend of [settings.backend, ...otherBackends(settings.backend, settings.routes)]) {
      backend.allowClient(settings.controllerPods);
    }
    return { ingress, closedService, certificate };
  },
};
