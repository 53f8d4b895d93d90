import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { ProductionChart } from '../charts/production-chart';
import { buildCharts, DIAGRAM_DIR, renderSvg } from '../diagram/main';
import { renderDot, topologyOf } from '../diagram/topology';
import { LoadBalancer, ScaledApi } from '../lib';

function productionTopology() {
  return topologyOf(new ProductionChart(Testing.app(), 'hscale', { namespace: 'hscale' }));
}

test('the production topology has a box per tier, with the pod counts of its constructs', () => {
  const nodes = Object.fromEntries(productionTopology().nodes.map(n => [n.id, n.lines.join(' / ')]));
  expect(nodes).toEqual({
    'clients': 'clients',
    'hscale-lb': 'LoadBalancer (nginx, least_conn) / hscale-lb / 2-10 pods (HPA)',
    'hscale-api': 'ScaledApi / hscale-api / 3-20 pods (HPA)',
    'hscale-db': 'PostgreSQL (Patroni) / 3 members, any may lead / hscale-db-rw: the leader',
    'hscale-cache': 'Redis Cluster / 6 nodes / hscale-cache-0 hscale-cache-1 hscale-cache-2 / hscale-cache-3 hscale-cache-4 hscale-cache-5',
    'hscale-jobs': 'WorkerPool / queue items / 1-10 pods (keda)',
    'hscale-queue': 'Redis + Sentinel / master \'hscale\' + replicas / 3 sentinels',
    'monitoring': 'Prometheus + Grafana / 6 rule groups, 5 dashboards',
  });
});

test('the edges are the NetworkPolicy links, labelled with their ports', () => {
  const edges = productionTopology().edges.map(e => `${e.from} -> ${e.to}: ${e.ports.join(',')}`).sort();
  expect(edges).toEqual([
    'clients -> hscale-lb: 8080,8443',
    'hscale-api -> hscale-cache: 6379',
    'hscale-api -> hscale-db: 5432',
    'hscale-api -> hscale-queue: 6379,26379',
    'hscale-cache -> hscale-cache: 6379,16379',
    'hscale-db -> hscale-db: 5432,8008',
    'hscale-jobs -> hscale-cache: 6379',
    'hscale-jobs -> hscale-db: 5432',
    'hscale-jobs -> hscale-queue: 6379,26379',
    'hscale-lb -> hscale-api: 8000',
    'hscale-queue -> hscale-queue: 6379,26379',
    'monitoring -> hscale-api: 8000',
    'monitoring -> hscale-cache: 9121',
    'monitoring -> hscale-db: 9187,8008',
    'monitoring -> hscale-jobs: 9100',
    'monitoring -> hscale-lb: 9113',
    'monitoring -> hscale-queue: 9121',
  ]);
});

test('a chart changed by its props draws the change: a smaller API range and no load balancer', () => {
  // GIVEN
  const chart = Testing.chart();
  new ScaledApi(chart, 'api', { image: 'example/api:1.0.0', minReplicas: 3, maxReplicas: 4 });
  // WHEN
  const topology = topologyOf(chart);
  // THEN
  expect(topology.nodes.find(n => n.lines[0] === 'ScaledApi')?.lines).toEqual(['ScaledApi', 'test-api', '3-4 pods (HPA)']);
  expect(chart.node.findAll().some(c => c instanceof LoadBalancer)).toBe(false);
  expect(topology.nodes.map(n => n.id)).toEqual(['clients', 'test-api']);
});

test('the DOT output names every node and labelled edge, and Graphviz renders it to SVG', async () => {
  const dot = renderDot(productionTopology());
  expect(dot).toContain('"hscale-lb" -> "hscale-api" [label="8000"];');
  expect(dot).toContain('"monitoring" -> "hscale-db" [label="9187, 8008", style=dashed];');
  expect(dot).toContain('"hscale-api" [shape=box3d, label="ScaledApi\\nhscale-api\\n3-20 pods (HPA)"];');
  const dir = mkdtempSync(join(tmpdir(), 'hscale-diagram-'));
  try {
    await renderSvg(dot, join(dir, 'hscale.svg'));
    const svg = readFileSync(join(dir, 'hscale.svg'), 'utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('>ScaledApi</text>');
    expect((svg.match(/class="edge"/g) ?? []).length).toBe(17);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the committed diagram of every chart is what npm run diagram draws now', () => {
  for (const chart of buildCharts()) {
    const committed = readFileSync(join(DIAGRAM_DIR, `${chart.node.id}.dot`), 'utf8');
    expect(committed).toBe(renderDot(topologyOf(chart)));
  }
});
