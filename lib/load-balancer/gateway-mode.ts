import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ILoadBalancerBackend, PodPeer } from '../endpoints';
import { commonLabels, namespaceOf } from '../names';
import { propError, requireDnsLabel } from '../validation';
import { LoadBalancerModeDefinition, LoadBalancerScope } from './mode';
import { GatewayReference, LoadBalancerProps } from './props';

/** The resolved props of 'gateway' mode: an HTTPRoute on a Gateway the cluster already runs. */
export interface GatewayModeSettings {
  readonly mode: 'gateway';
  readonly backend: ILoadBalancerBackend;
  readonly gateway: GatewayReference;
  /** Host names the route matches; every host name of the listener when absent. */
  readonly hostnames?: string[];
  /** The Gateway's data-plane pods, which the backend admits. */
  readonly gatewayPods: PodPeer;
}

/** Props that only the nginx tier can honour. */
const NGINX_ONLY_PROPS = ['apiRateLimit', 'loginRateLimit', 'tls'] as const;

function resolveGatewaySettings(scope: Construct, props: LoadBalancerProps): GatewayModeSettings {
  if (!props.gateway?.name) {
    throw propError(scope, 'gateway', props.gateway?.name ?? '', 'must name the Gateway to attach to in \'gateway\' mode');
  }
  // A Gateway API route has no portable rate limiting; dropping the limits silently would remove a protection.
  for (const prop of NGINX_ONLY_PROPS) {
    if (props[prop] !== undefined) {
      throw propError(scope, prop, JSON.stringify(props[prop]),
        'cannot be expressed by a portable HTTPRoute; configure it on your Gateway implementation, or use mode \'nginx\'');
    }
  }
  requireDnsLabel(scope, 'gateway.name', props.gateway.name);
  const gatewayNamespace = props.gateway.namespace ?? namespaceOf(scope);
  return {
    mode: 'gateway',
    backend: props.backend,
    gateway: props.gateway,
    hostnames: props.hostnames,
    gatewayPods: props.gatewayPods ?? {
      podSelector: {},
      ...(gatewayNamespace ? { namespaceSelector: { 'kubernetes.io/metadata.name': gatewayNamespace } } : {}),
    },
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
      rules: [{
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        backendRefs: [{ name: s.backend.serviceName, port: s.backend.port }],
      }],
    },
  });
}

/** 'gateway' mode: an HTTPRoute attached to the user's Gateway, and the backend admitting the Gateway's pods. */
export const gatewayMode: LoadBalancerModeDefinition<GatewayModeSettings> = {
  resolve: resolveGatewaySettings,
  build(lb, settings) {
    const httpRoute = createHttpRoute(lb, settings);
    settings.backend.allowClient(settings.gatewayPods);
    return { httpRoute };
  },
};
