import { Chart, Testing } from 'cdk8s';
import { HorizontalScalingTopology, LoadBalancer, Observability, PgReplicaSet, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { Manifest } from './support/manifest-checks';

const digest = (n: number) => `sha256:${n.toString(16).repeat(64)}`;

/** Every container image of every pod template (Deployments, StatefulSets, Jobs, CronJobs), init containers too. */
function containerImages(manifests: Manifest[]): string[] {
  const pods = manifests.flatMap(m => m.kind === 'CronJob' ? [m.spec.jobTemplate.spec.template.spec] : m.spec?.template?.spec ? [m.spec.template.spec] : []);
  return pods.flatMap((pod: Manifest) => [...pod.initContainers ?? [], ...pod.containers].map((c: Manifest) => c.image as string));
}

test('every image of a topology is rendered as image@digest when its digest prop is given', () => {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'shop' });
  new HorizontalScalingTopology(chart, 'app', {
    image: 'example/api:1.0.0', imageDigest: digest(1),
    database: { imageDigest: digest(2), exporterImageDigest: digest(3) },
    cache: { imageDigest: digest(4), exporterImageDigest: digest(5) },
    queue: { imageDigest: digest(4), exporterImageDigest: digest(5) },
    loadBalancer: { imageDigest: digest(6), exporterImageDigest: digest(7) },
    workers: { emails: { image: 'example/worker:1.0.0', imageDigest: digest(8), queues: ['emails'] } },
    observability: { mode: 'standalone', prometheusImageDigest: digest(9), grafanaImageDigest: 'sha256:' + 'a'.repeat(64) },
    generateSecrets: false,
  });
  const images = [...new Set(containerImages(Testing.synth(chart)))].sort();
  expect(images).toEqual([
    `example/api:1.0.0@${digest(1)}`,
    `example/worker:1.0.0@${digest(8)}`,
    `ghcr.io/hscale/patroni:15.15-3.0.2@${digest(2)}`,
    `grafana/grafana:11.1.3@sha256:${'a'.repeat(64)}`,
    `nginx/nginx-prometheus-exporter:1.4.2@${digest(7)}`,
    `nginxinc/nginx-unprivileged:1.27.4-alpine@${digest(6)}`,
    `oliver006/redis_exporter:v1.62.0@${digest(5)}`,
    `quay.io/prometheus/prometheus:v2.53.1@${digest(9)}`,
    `quay.io/prometheuscommunity/postgres-exporter:v0.15.0@${digest(3)}`,
    `redis:7.2.11@${digest(4)}`,
  ]);
});

test('the patroni and cloudnative-pg engines run the digest too', () => {
  const chart = Testing.chart();
  new PgReplicaSet(chart, 'patroni', { engine: 'patroni', image: 'example/patroni:15.15', imageDigest: digest(2) });
  new PgReplicaSet(chart, 'cnpg', { engine: 'cloudnative-pg', imageDigest: digest(3) });
  const manifests = Testing.synth(chart);
  expect(containerImages(manifests)).toContain(`example/patroni:15.15@${digest(2)}`);
  expect(manifests.find(m => m.kind === 'Cluster')!.spec.imageName).toBe(`ghcr.io/cloudnative-pg/postgresql:15.15@${digest(3)}`);
});

const BAD = 'sha256:abc';
const RULE = 'must be \'sha256:\' followed by 64 lower-case hex digits';
test.each<[string, (chart: Chart) => unknown, string]>([
  ['ScaledApi', c => new ScaledApi(c, 'x', { image: 'example/api:1.0.0', imageDigest: BAD }), 'imageDigest'],
  ['WorkerPool', c => new WorkerPool(c, 'x', { image: 'example/w:1.0.0', imageDigest: BAD, queues: ['emails'], broker: new RedisCluster(c, 'q', { maxmemoryPolicy: 'noeviction' }) }), 'imageDigest'],
  ['PgReplicaSet', c => new PgReplicaSet(c, 'x', { exporterImageDigest: BAD }), 'exporterImageDigest'],
  ['RedisCluster', c => new RedisCluster(c, 'x', { imageDigest: BAD }), 'imageDigest'],
  ['LoadBalancer', c => new LoadBalancer(c, 'x', { backend: new ScaledApi(c, 'api', { image: 'example/api:1.0.0' }), exporterImageDigest: BAD }), 'exporterImageDigest'],
  ['Observability', c => new Observability(c, 'x', { targets: [new RedisCluster(c, 'r')], mode: 'standalone', grafanaImageDigest: BAD }), 'grafanaImageDigest'],
  ['HorizontalScalingTopology', c => new HorizontalScalingTopology(c, 'x', { image: 'example/api:1.0.0', imageDigest: BAD }), 'imageDigest'],
])('throws error, when a digest of %s is not sha256 and 64 hex digits', (_construct, make, prop) => {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'shop' });
  expect(() => make(chart)).toThrow(new RegExp(`^test/x(/api)?: '${prop}' \\("${BAD}"\\) ${RULE.replace(/[()]/g, '\\$&')}$`));
});
