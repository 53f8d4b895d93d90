import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart } from 'cdk8s';
import { PgReplicaSet, RedisCluster, ScaledApi } from '../lib';
function manyApis(apis: number): App {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'sp-')) });
  const chart = new Chart(app, 'scale', { namespace: 'scale' });
  for (let i = 0; i < apis; i++) {
    const database = new PgReplicaSet(chart, `db${i}`, { replicas: 2 });
    const cache = new RedisCluster(chart, `cache${i}`, { shards: 3, replicasPerShard: 1 });
    new ScaledApi(chart, `api${i}`, { image: 'example/api:1.0.0', database, cache });
  }
  return app;
}
const n = Number(process.argv[2]);
manyApis(10).synth();
for (const k of [n, n]) { const t = process.hrtime.bigint(); const a = manyApis(k); const t1 = process.hrtime.bigint(); a.synth(); const t2 = process.hrtime.bigint(); console.log(k, 'construct', Number(t1 - t)/1e6, 'synth', Number(t2 - t1)/1e6); }
