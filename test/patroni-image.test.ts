import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { PgReplicaSet } from '../lib';
import { PATRONI_DEFAULT_IMAGE } from '../lib/postgres/patroni-engine';
import { STATEFULSET_DEFAULT_IMAGE } from '../lib/postgres/statefulset-engine';

const DOCKERFILE = readFileSync(join(__dirname, '..', 'images', 'patroni', 'Dockerfile'), 'utf8');

function chartMember() {
  const chart = Testing.chart();
  new PgReplicaSet(chart, 'db', { engine: 'patroni' });
  const objects = Testing.synth(chart);
  const container = objects.find(o => o.kind === 'StatefulSet').spec.template.spec.containers[0];
  const config = objects.find(o => o.kind === 'ConfigMap').data;
  return { container, patroniYml: parse(config['patroni.yml']), launcher: config['launch-patroni.py'] as string };
}

test('the image builds on the statefulset engine\'s PostgreSQL, and the chart\'s bin_dir is its major', () => {
  const from = /^FROM postgres:(\d+)\.(\d+)-bookworm$/m.exec(DOCKERFILE);
  expect(from).not.toBeNull();
  expect(STATEFULSET_DEFAULT_IMAGE).toBe(`postgres:${from![1]}.${from![2]}`);
  expect(chartMember().patroniYml.postgresql.bin_dir).toBe(`/usr/lib/postgresql/${from![1]}/bin`);
});

test('the image pins the Patroni that the tests run (Debian\'s, the same version), and the default image tag names both', () => {
  const pinned = /patroni=(\d+\.\d+\.\d+)-\d+/.exec(DOCKERFILE);
  expect(pinned).not.toBeNull();
  expect(execFileSync('patroni', ['--version'], { encoding: 'utf8' }).trim()).toBe(`patroni ${pinned![1]}`);
  const pgVersion = /^FROM postgres:(\S+)-bookworm$/m.exec(DOCKERFILE)![1];
  expect(PATRONI_DEFAULT_IMAGE).toBe(`ghcr.io/hscale/patroni:${pgVersion}-${pinned![1]}`);
});

// Patroni's own handling of the timing it reads from the store (Config.set_dynamic_configuration), on a stub config.
const EFFECTIVE_TIMING = `
import json, os, shutil, sys, tempfile, yaml
from patroni.config import Config
d = tempfile.mkdtemp()
try:
    path = os.path.join(d, 'patroni.yml')
    with open(path, 'w') as f:
        yaml.safe_dump({'scope': 'test', 'name': 'member', 'postgresql': {'data_dir': d, 'listen': '127.0.0.1:5432'}, 'restapi': {'listen': '127.0.0.1:8008'}}, f)
    config = Config(path, validator=None)
    config.set_dynamic_configuration(json.loads(sys.argv[1]))
    print(json.dumps({k: config[k] for k in ('ttl', 'loop_wait', 'retry_timeout')}))
finally:
    shutil.rmtree(d)
`;

test('the image\'s Patroni runs the chart\'s timing as rendered: from 3.2 Patroni raises ttl to 20 s and retry_timeout to 3 s, and the 10 s promotion goal would be lost without an error', () => {
  const dcs = chartMember().patroniYml.bootstrap.dcs;
  const rendered = { ttl: dcs.ttl, loop_wait: dcs.loop_wait, retry_timeout: dcs.retry_timeout };
  expect(rendered).toEqual({ ttl: 5, loop_wait: 1, retry_timeout: 2 });
  const effective = JSON.parse(execFileSync('/usr/bin/python3', ['-c', EFFECTIVE_TIMING, JSON.stringify(rendered)], { encoding: 'utf8' }));
  expect(effective).toEqual(rendered);
});

test('the chart runs the image\'s Patroni, on the image\'s config path, through the launcher in its ConfigMap, as the image\'s user', () => {
  const { container } = chartMember();
  const [patroni, config] = JSON.parse(/^CMD (\[.*\])$/m.exec(DOCKERFILE)![1]);
  expect(patroni).toBe('patroni');
  expect(container.command).toEqual(['/usr/bin/python3', join(dirname(config), 'launch-patroni.py'), config]);
  expect(readFileSync('/usr/bin/patroni', 'utf8').split('\n')[0]).toBe('#!/usr/bin/python3');
  expect(/^USER (\d+)$/m.exec(DOCKERFILE)![1]).toBe('999');
});

test('the launcher runs the pinned Patroni, fixes the double offline demotion in exactly the versions that have it (patroni/patroni#3372), and reads a stopping PostgreSQL\'s state every 0.1 s', () => {
  // GIVEN the launcher, as the container reads it
  const dir = mkdtempSync(join(tmpdir(), 'hscale-launcher-'));
  const launcher = join(dir, 'launch-patroni.py');
  writeFileSync(launcher, chartMember().launcher);
  try {
    // THEN it is Patroni's own main, and its fix applies to the pinned version and to no fixed one
    const pinned = /patroni=(\d+\.\d+\.\d+)-\d+/.exec(DOCKERFILE)![1];
    expect(execFileSync('/usr/bin/python3', [launcher, '--version'], { encoding: 'utf8' }).trim()).toBe(`patroni ${pinned}`);
    const versions = [pinned, '3.3.6', '3.3.7', '4.0.0', '4.0.5', '4.0.6', '4.1.0', '4.1.5'];
    // run_path with another name than __main__ defines the launcher's functions without starting Patroni.
    const check = `import runpy; m = runpy.run_path(${JSON.stringify(launcher)}, run_name='launcher'); `
      + `print(' '.join(str(m['needs_fix'](v)) for v in ${JSON.stringify(versions)}))`;
    expect(execFileSync('/usr/bin/python3', ['-c', check], { encoding: 'utf8' }).trim()).toBe('True True False True True False False False');
    // AND it makes a stopping PostgreSQL's state read every 0.1 s, where the pinned Patroni waits 1 s
    const poll = 'import runpy, patroni.postgresql as p; before = p.STOP_POLLING_INTERVAL; '
      + `runpy.run_path(${JSON.stringify(launcher)}, run_name='launcher')['poll_shutdown_often'](); print(before, p.STOP_POLLING_INTERVAL)`;
    expect(execFileSync('/usr/bin/python3', ['-c', poll], { encoding: 'utf8' }).trim()).toBe('1 0.1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
