import { Lazy } from 'cdk8s';
import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { IClientAccessible, NetworkLink, PodPeer } from './endpoints';
import { resourceName } from './names';
import { validateProps } from './prop-validation';
import { NAMESPACE_NAME_LABEL, requirePinnedPeer } from './validation';

/** Props of a {@link PodNetworkPolicy}. */
export interface PodNetworkPolicyProps {
  /** Labels of the pods the policy isolates. */
  readonly podSelector: Record<string, string>;
  /** Labels of the policy object itself. */
  readonly labels: Record<string, string>;
  /** Role suffix of the policy's name. */
  readonly role?: string;
}

/**
 * A NetworkPolicy that isolates some pods for both ingress and egress and allows only the
 * links added to it, plus DNS. Rules may be added until synthesis, so constructs linked
 * later (a load balancer, a scraper) can open their port.
 */
export class PodNetworkPolicy extends Construct {
  /** The NetworkPolicy object this construct builds up. */
  public readonly policy: k8s.KubeNetworkPolicy;
  private readonly ingress: k8s.NetworkPolicyIngressRule[] = [];
  private readonly egress: k8s.NetworkPolicyEgressRule[] = [];
  private readonly podSelector: Record<string, string>;

  constructor(scope: Construct, id: string, props: PodNetworkPolicyProps) {
    super(scope, id);
    validateProps(this, 'PodNetworkPolicyProps', props);
    this.podSelector = props.podSelector;
    // DNS: kube-dns / CoreDNS answer on UDP and TCP 53, in kube-system only: elsewhere the label is anyone's to claim.
    this.egress.push({
      to: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [{ protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) }, { protocol: 'TCP', port: k8s.IntOrString.fromNumber(53) }],
    });
    // The arrays are read when the chart synthesizes, so rules added later take effect. No rule is
    // written as no `ingress` at all: the API server drops an empty list, so `ingress: []` would
    // differ from what it stores and every apply would change the object again.
    this.policy = new k8s.KubeNetworkPolicy(this, 'Resource', {
      metadata: { name: resourceName(scope, props.role), labels: props.labels },
      spec: {
        podSelector: selector(props.podSelector),
        policyTypes: ['Ingress', 'Egress'],
        ingress: Lazy.any({ produce: () => (this.ingress.length > 0 ? this.ingress : undefined) }),
        egress: this.egress,
      },
    });
  }

  /** Admits traffic from `peer` to the given ports of the isolated pods (TCP). */
  public allowIngressFrom(peer: PodPeer, ports: number[]): void {
    this.ingress.push({ from: [toPeer(this, peer)], ports: this.tcpPorts(ports) });
  }

  /** Admits traffic from any address, inside or outside the cluster, to the given ports (TCP). */
  public allowIngressFromAnywhere(ports: number[]): void {
    this.ingress.push({ ports: this.tcpPorts(ports) });
  }

  /** Allows egress to any address on the given TCP ports (the Kubernetes API server, which no pod selector names). */
  public allowEgressToAnywhere(ports: number[]): void {
    this.egress.push({ ports: this.tcpPorts(ports) });
  }

  /** Allows egress to the given address ranges on the given TCP ports (the API server's endpoints, which no pod selector names). */
  public allowEgressToCidrs(cidrs: string[], ports: number[]): void {
    this.egress.push({ to: cidrs.map(cidr => ({ ipBlock: { cidr } })), ports: this.tcpPorts(ports) });
  }

  /** Allows the isolated pods to open connections to the link's pods and ports (TCP). */
  public allowEgressTo(link: NetworkLink): void {
    this.egress.push({ to: [toPeer(this, link.peer)], ports: this.tcpPorts(link.ports) });
  }

  /** Links the isolated pods to a backend on both sides: egress here, and the backend's policy admits them. */
  public connectTo(backend: IClientAccessible): void {
    backend.clientLinks.forEach(link => this.allowEgressTo(link));
    backend.allowClient({ podSelector: this.podSelector });
  }

  private tcpPorts(ports: number[]): k8s.NetworkPolicyPort[] {
    // Kubernetes reads a rule without ports as "every port": never emit one by accident.
    if (ports.length === 0) throw new Error(`${this.node.path}: 'ports' is empty; a NetworkPolicy rule with no ports opens every port`);
    return ports.map(port => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }));
  }
}

function toPeer(scope: Construct, peer: PodPeer): k8s.NetworkPolicyPeer {
  requirePinnedPeer(scope, 'peer', peer);
  return {
    podSelector: selector(peer.podSelector),
    ...(peer.namespaceSelector ? { namespaceSelector: selector(peer.namespaceSelector) } : {}),
  };
}

/** A label selector; no labels is `{}` (every pod), as the API server stores it, never `matchLabels: {}`. */
function selector(labels: Record<string, string>): k8s.LabelSelector {
  return Object.keys(labels).length > 0 ? { matchLabels: labels } : {};
}
