import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ILoadBalancerBackend, PodPeer } from '../core/endpoints';
import { commonLabels, namespaceOf } from '../core/names';
import { propError, requireDnsLabel, requirePinnedPeer } from '../core/validation';
import { LoadBalancerModeModule, LoadBalancerScope } from './mode';
import { GatewayReference, LoadBalancerProps } from './props';
import { otherBackends, ResolvedRoute, resolveInternalPaths, resolveRoutes } from './routes';

/** The resolved props of 'gateway' mode: an HTTPRoute on a Gateway the cluster already runs. */
export interface GatewayModeSettings {
  readonly mode: 'gateway';
  readonly backend: ILoadBalancerBackend;
  /** Path prefixes sent to other backends, or taking over `/`: one rule each. */
  readonly routes: ResolvedRoute[];
  /** Path prefixes with a rule of their own and no backend, so the Gateway forwards none of them. */
  readonly internalPaths: string[];
  readonly gateway: GatewayReference;
  /** Host names the route matches; every host name of the listener when absent. */
  readonly hostnames?: string[];
  /** The Gateway's data-plane pods, which the backend admits. */
  readonly gatewayPods: PodPeer;
}

function resolveGatewaySettings(scope: Construct, props: LoadBalancerProps): GatewayModeSettings {
  if (!props.gateway?.name) {
    throw propError(scope, 'gateway', props.gateway?.name ?? '', 'must name the Gateway to attach to in \'gateway\' mode');
  }
  requireDnsLabel(scope, 'gateway.name', props.gateway.name);
  const gatewayNamespace = props.gateway.namespace ?? namespaceOf(scope);
  return {
    mode: 'gateway',
    backend: props.backend,
    routes: resolveRoutes(scope, props.routes),
    internalPaths: resolveInternalPaths(scope, props.internalPaths),
    gateway: props.gateway,
    hostnames: props.hostnames,
    gatewayPods: requirePinnedPeer(scope, 'gatewayPods', props.gatewayPods ?? {
      podSelector: {},
      ...(gatewayNamespace ? { namespaceSelector: { 'kubernetes.io/metadata.name': gatewayNamespace } } : {}),
    }),
  };
}

function createHttpRoute(lb: LoadBalancerScope, s: GatewayModeSettings): ApiObject {
  return new ApiObject(lb, 'HTTPRoute', {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: lb.name, namespace: namespaceOf(lb), labels: commonLabels(lb, 'http-route', 'load-balancer') },
    spec: {
      parentRefs: [{
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: s.gateway.name,
        ...(s.gateway.namespace ? { namespace: s.gateway.namespace } : {}),
        ...(s.gateway.sectionName ? { sectionName: s.gateway.sectionName } : {}),
      }],
      ...(s.hostnames ? { hostnames: s.hostnames } : {}),
      rules: routeRules(s),
    },
  });
}

/**
 * One rule per route, then the backend's own on `/` unless a route took it over, then one rule
 * without a backend per internal path: the longest matching prefix wins, and a rule with no
 * backend is answered by the Gateway itself (an error status), never forwarded.
 */
function routeRules(s: GatewayModeSettings): object[] {
  const routes = s.routes.some(route => route.pathPrefix === '/')
    ? s.routes
    : [...s.routes, { pathPrefix: '/', backend: s.backend }];
  return [
    ...routes.map(route => ({
      matches: [{ path: { type: 'PathPrefix', value: route.pathPrefix } }],
      backendRefs: [{ name: route.backend.serviceName, port: route.backend.port }],
    })),
    ...s.internalPaths.map(path => ({ matches: [{ path: { type: 'PathPrefix', value: path } }] })),
  ];
}

/** 'gateway' mode: an HTTPRoute attached to the user's Gateway, and the backend admitting the Gateway's pods. */
export const gatewayMode: LoadBalancerModeModule<GatewayModeSettings> = {
  name: 'gateway',
  ownProps: ['gateway', 'hostnames', 'gatewayPods'],
  resolve: resolveGatewaySettings,
  build(lb, settings) {
    const httpRoute = createHttpRoute(lb, settings);
    for (const backend of [settings.backend, ...otherBackends(settings.backend, settings.routes)]) {
      backend.allowClient(settings.gatewayPods);
    }
    return { httpRoute };
  },
};
