import { Session } from 'inspector';
import { writeFileSync, mkdtempSync } from 'fs';
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
manyApis(10).synth();
const app = manyApis(60);
const s = new Session(); s.connect();
s.post('Profiler.enable', () => s.post('Profiler.start', () => {
  app.synth();
  s.post('Profiler.stop', (err, { profile }) => { writeFileSync('/tmp/synthprof/synth.cpuprofile', JSON.stringify(profile)); });
}));
