import { ApiObject, Chart } from 'cdk8s';
import { IConstruct } from 'constructs';
import { LoadBalancer, Observability, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';

/** A box of the picture: one tier of the topology and the pod labels that identify its pods. */
export interface TopologyNode {
  readonly id: string;
  /** Lines of the box: what it is, its name, its pod counts. */
  readonly lines: string[];
  readonly shape: 'box' | 'cylinder' | 'component' | 'ellipse' | 'box3d';
  readonly podLabels: Array<Record<string, string>>;
}

/** An arrow: who connects to whom, on which ports (from the NetworkPolicies the constructs wrote). */
export interface TopologyEdge {
  readonly from: string;
  readonly to: string;
  readonly ports: string[];
}

export interface Topology {
  readonly chart: string;
  readonly nodes: TopologyNode[];
  readonly edges: TopologyEdge[];
}

const CLIENTS: TopologyNode = { id: 'clients', lines: ['clients'], shape: 'ellipse', podLabels: [] };

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are read through toJson() */
const json = (o: ApiObject | undefined): any => o?.toJson();
const templateLabels = (o: ApiObject | undefined): Record<string, string> => json(o)?.spec?.template?.metadata?.labels ?? {};
const hpaRange = (o: ApiObject | undefined): string => (o ? `${json(o).spec.minReplicas}-${json(o).spec.maxReplicas} pods (HPA)` : '');
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The boxes of one construct; constructs the diagram does not draw give none. */
function nodesOf(c: IConstruct): TopologyNode[] {
  if (c instanceof LoadBalancer) {
    return c.deployment ? [{ id: c.name, lines: ['LoadBalancer (nginx, least_conn)', c.name, hpaRange(c.autoscaler)], shape: 'box', podLabels: [c.podSelector] }] : [];
  }
  if (c instanceof ScaledApi) {
    return [{ id: c.name, lines: ['ScaledApi', c.name, `${c.minReplicas}-${c.maxReplicas} pods (HPA)`], shape: 'box3d', podLabels: [c.podSelector] }];
  }
  if (c instanceof PgReplicaSet) {
    if (!c.primary) return [{ id: c.name, lines: ['PostgreSQL (CloudNativePG)', c.name, `1 primary + ${c.replicas} replicas`], shape: 'cylinder', podLabels: [] }];
    if (c.engine === 'patroni') {
      const lines = ['PostgreSQL (Patroni)', `${c.replicas + 1} members, any may lead`, `${c.primaryHost.split('.')[0]}: the leader`];
      return [{ id: c.name, lines, shape: 'cylinder', podLabels: [templateLabels(c.primary)] }];
    }
    return [
      { id: `${c.name}-primary`, lines: ['PostgreSQL primary', c.primaryHost.split('.')[0]], shape: 'cylinder', podLabels: [templateLabels(c.primary)] },
      { id: `${c.name}-replica`, lines: [`PostgreSQL replicas x${c.replicas}`, 'streaming, one slot each'], shape: 'cylinder', podLabels: [templateLabels(c.replicaSet)] },
    ];
  }
  if (c instanceof RedisCluster) {
    const lines = c.mode === 'cluster' ? ['Redis Cluster', `${c.nodeCount} nodes`, ...chunk(c.nodes.map(n => n.split('.')[0]), 3)]
      : ['Redis + Sentinel', `master${c.masterName ? ` '${c.masterName}'` : ''} + replicas`, `${c.sentinelHosts.length} sentinels`];
    return [{ id: c.name, lines, shape: 'cylinder', podLabels: [templateLabels(c.statefulSet), templateLabels(c.sentinelStatefulSet)] }];
  }
  if (c instanceof WorkerPool) {
    return [{ id: c.name, lines: ['WorkerPool', `${c.queues.length === 1 ? 'queue' : 'queues'} ${c.queues.join(', ')}`, `${c.minReplicas}-${c.maxReplicas} pods (${c.autoscalerKind})`], shape: 'component', podLabels: [c.podSelector] }];
  }
  if (c instanceof Observability) {
    return [{
      id: 'monitoring', lines: ['Prometheus + Grafana', `${c.ruleGroups.length} rule groups, ${Object.keys(c.dashboards).length} dashboards`],
      shape: 'ellipse', podLabels: [{ 'app.kubernetes.io/name': 'prometheus' }],
    }];
  }
  return [];
}

function chunk(names: string[], size: number): string[] {
  return Array.from({ length: Math.ceil(names.length / size) }, (_, i) => names.slice(i * size, (i + 1) * size).join(' '));
}

const within = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The node whose pods a selector picks (a selector naming the node's labels, or a subset of them). */
function nodeFor(nodes: TopologyNode[], selector: Record<string, string>): TopologyNode | undefined {
  return nodes.find(n => n.podLabels.some(labels => within(selector, labels)));
}

/* eslint-disable @typescript-eslint/no-explicit-any -- NetworkPolicy manifests read through toJson() */
/** One edge per NetworkPolicy ingress rule: its `from` pods (or any client when it has none) to the policy's pods, on its ports. */
function edgesOf(nodes: TopologyNode[], policies: any[]): TopologyEdge[] {
  const edges: TopologyEdge[] = [];
  for (const policy of policies) {
    const to = nodeFor(nodes, policy.spec.podSelector.matchLabels ?? {});
    for (const rule of policy.spec.ingress ?? []) {
      const ports = (rule.ports ?? []).map((p: any) => String(p.port));
      const sources = rule.from ? rule.from.map((f: any) => nodeFor(nodes, f.podSelector?.matchLabels ?? {})) : [CLIENTS];
      for (const from of sources) {
        if (!from || !to) continue;
        const existing = edges.find(e => e.from === from.id && e.to === to.id);
        if (existing) existing.ports.push(...ports.filter((p: string) => !existing.ports.includes(p)));
        else edges.push({ from: from.id, to: to.id, ports });
      }
    }
  }
  return edges;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The topology of a chart, read from its construct tree: the tiers as nodes, the NetworkPolicy links as edges. */
export function topologyOf(chart: Chart): Topology {
  const constructs = chart.node.findAll();
  const nodes = [CLIENTS, ...constructs.flatMap(nodesOf)];
  const policies = constructs.filter((c): c is ApiObject => c instanceof ApiObject && c.kind === 'NetworkPolicy').map(p => p.toJson());
  return { chart: chart.node.id, nodes, edges: edgesOf(nodes, policies) };
}

const quote = (text: string) => `"${text.replace(/["\\]/g, '\\$&')}"`;
/** A multi-line DOT label: each line quoted, joined by DOT's `\n`. */
const lines = (texts: string[]) => `"${texts.filter(Boolean).map(t => t.replace(/["\\]/g, '\\$&')).join('\\n')}"`;

/** Graphviz DOT of a topology: top to bottom from the clients, edges labelled with their ports. */
export function renderDot(topology: Topology): string {
  const nodes = topology.nodes.map(n => `  ${quote(n.id)} [shape=${n.shape}, label=${lines(n.lines)}];`);
  const edges = topology.edges.map(e => `  ${quote(e.from)} -> ${quote(e.to)} [label=${quote(e.ports.join(', '))}${e.from === 'monitoring' ? ', style=dashed' : ''}];`);
  return [
    `digraph ${quote(topology.chart)} {`,
    '  rankdir=TB;',
    '  node [fontname="Helvetica", fontsize=11, style=filled, fillcolor="#f4f6fb"];',
    '  edge [fontname="Helvetica", fontsize=10];',
    `  labelloc=t; label=${quote(`${topology.chart}: topology drawn from the construct tree (edges: NetworkPolicy ports)`)};`,
    ...nodes,
    ...edges,
    '}',
    '',
  ].join('\n');
}
