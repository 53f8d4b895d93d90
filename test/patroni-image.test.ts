import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { PgReplicaSet } from '../lib';
import { patroniEngine } from '../lib/postgres/patroni-engine';
import { statefulSetEngine } from '../lib/postgres/statefulset-engine';

const DOCKERFILE = readFileSync(join(__dirname, '..', 'images', 'patroni', 'Dockerfile'), 'utf8');

function chartMember() {
  const chart = Testing.chart();
  new PgReplicaSet(chart, 'db', { engine: 'patroni' });
  const objects = Testing.synth(chart);
  const container = objects.find(o => o.kind === 'StatefulSet').spec.template.spec.containers[0];
  const patroniYml = parse(objects.find(o => o.kind === 'ConfigMap').data['patroni.yml']);
  return { container, patroniYml };
}

test('the image builds on the statefulset engine\'s PostgreSQL, and the chart\'s bin_dir is its major', () => {
  const from = /^FROM postgres:(\d+)\.(\d+)-bookworm$/m.exec(DOCKERFILE);
  expect(from).not.toBeNull();
  expect(statefulSetEngine.defaultImage).toBe(`postgres:${from![1]}.${from![2]}`);
  expect(chartMember().patroniYml.postgresql.bin_dir).toBe(`/usr/lib/postgresql/${from![1]}/bin`);
});

test('the image pins the Patroni that the tests run (Debian\'s, the same version), and the default image tag names both', () => {
  const pinned = /patroni=(\d+\.\d+\.\d+)-\d+/.exec(DOCKERFILE);
  expect(pinned).not.toBeNull();
  expect(execFileSync('patroni', ['--version'], { encoding: 'utf8' }).trim()).toBe(`patroni ${pinned![1]}`);
  const pgVersion = /^FROM postgres:(\S+)-bookworm$/m.exec(DOCKERFILE)![1];
  expect(patroniEngine.defaultImage).toBe(`ghcr.io/hscale/patroni:${pgVersion}-${pinned![1]}`);
});

test('the chart runs the image\'s command as the image\'s user', () => {
  const { container } = chartMember();
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(DOCKERFILE)![1]);
  expect(container.command).toEqual(cmd);
  expect(/^USER (\d+)$/m.exec(DOCKERFILE)![1]).toBe('999');
});
