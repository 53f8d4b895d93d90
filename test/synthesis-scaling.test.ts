import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ApiObject, App, Chart } from 'cdk8s';
import { Node } from 'constructs';
import { PgReplicaSet, RedisCluster, ScaledApi } from '../lib';

// A regression guard for issue 22 that does not time anything: a per-object step that walks the
// whole tree (a validation calling `node.findAll()` or `chart.toJson()` per construct) makes the
// work per object grow with the chart. These counts are exact, so they hold on a loaded machine.

interface Walks {
  /** Constructs of the chart. */
  readonly constructs: number;
  /** Constructs visited by `findAll` calls, and `node.children` reads (hand-written walks). */
  readonly visited: number;
  /** `ApiObject.toJson` calls (a `chart.toJson()` per object would square them). */
  readonly renders: number;
}

const outdir = mkdtempSync(join(tmpdir(), 'hscale-synthesis-scaling-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Builds and synthesizes a chart of `apis` ScaledApis, each with a PgReplicaSet and a RedisCluster, counting the walks. */
function synthCounting(apis: number): Walks {
  const findAll = jest.spyOn(Node.prototype, 'findAll');
  const children = jest.spyOn(Node.prototype, 'children', 'get');
  const toJson = jest.spyOn(ApiObject.prototype, 'toJson');
  try {
    const app = new App({ outdir });
    const chart = new Chart(app, 'scale', { namespace: 'scale' });
    for (let i = 0; i < apis; i++) {
      const database = new PgReplicaSet(chart, `db${i}`, { replicas: 2 });
      const cache = new RedisCluster(chart, `cache${i}`, { shards: 3, replicasPerShard: 1 });
      new ScaledApi(chart, `api${i}`, { image: 'example/api:1.0.0', database, cache });
    }
    app.synth();
    const visited = findAll.mock.results.reduce((n, r) => n + (r.value as unknown[]).length, 0) + children.mock.calls.length;
    return { constructs: chart.node.findAll().length, visited, renders: toJson.mock.calls.length };
  } finally {
    findAll.mockRestore();
    children.mockRestore();
    toJson.mockRestore();
  }
}

test('each API adds the same tree walks to synthesis, however many there are already', () => {
  // GIVEN / WHEN
  const [one, eleven, twentyOne] = [1, 11, 21].map(synthCounting);

  // THEN: the second ten APIs cost what the first ten did (linear); a walk per object would make them cost more
  const first = { visited: eleven.visited - one.visited, renders: eleven.renders - one.renders };
  const second = { visited: twentyOne.visited - eleven.visited, renders: twentyOne.renders - eleven.renders };
  expect(twentyOne.constructs - eleven.constructs).toBe(eleven.constructs - one.constructs);
  expect(second).toEqual(first);
});
