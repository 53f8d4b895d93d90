import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { readManifests } from '../scripts/requirements';
import { docSteps } from './support/markdown';
import { packLibrary, REPO_ROOT, userEnv } from './support/package';
import { run } from './support/processes';

/*
 * The README's newcomer path, run as written: the library packed as the README packs it, each
 * marked file written into a fresh folder next to the tarball, each marked shell block run there
 * (`npm install`, `npm run synth`, `npm test`, the apply steps). npm prefers its cache, so a
 * second run needs the registry only for what the cache lacks.
 */
jest.setTimeout(600_000);

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const steps = docSteps(README);
const work = mkdtempSync(join(tmpdir(), 'hscale-readme-'));
const env = { ...userEnv, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
const outputs: string[] = [];

beforeAll(async () => {
  await packLibrary(work);
  for (const step of steps) {
    if ('file' in step) {
      mkdirSync(dirname(join(work, step.file)), { recursive: true });
      writeFileSync(join(work, step.file), step.content);
    } else {
      outputs.push(await run('bash', ['-c', `exec 2>&1; set -euo pipefail\n${step.script}`], { cwd: join(work, step.runIn), env, timeoutMs: 300_000 }));
    }
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the README marks its project files and the commands that use them', () => {
  expect(steps.map(s => 'file' in s ? s.file : `run: ${s.script.trim().split('\n').map(l => l.replace(/\s*#.*/, '')).join('; ')}`)).toEqual([
    'shop/package.json', 'shop/cdk8s.yaml', 'shop/tsconfig.json', 'shop/shop.ts', 'shop/main.ts',
    'run: npm install; npm run synth', 'shop/shop.test.ts', 'run: npm test', 'shop/apply-steps.ts', 'run: npm run --silent apply-steps',
  ]);
});

test('npm run synth writes the chart the README describes, its Namespace first', () => {
  const objects = readManifests(join(work, 'shop', 'dist', 'shop.k8s.yaml'));
  expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'shop' } });
  const names = objects.map(o => `${o.kind}/${o.metadata.name}`);
  expect(names).toEqual(expect.arrayContaining([
    'Deployment/shop-api', 'HorizontalPodAutoscaler/shop-api', 'PodDisruptionBudget/shop-api', 'Service/shop-db-rw',
  ]));
  expect(objects.filter(o => o.kind === 'StatefulSet' && o.metadata.labels['app.kubernetes.io/name'] === 'redis')
    .reduce((n, o) => n + o.spec.replicas, 0)).toBe(6);
});

test('linking the database and the cache gave the API their env, credentials by secretKeyRef only', () => {
  const objects = readManifests(join(work, 'shop', 'dist', 'shop.k8s.yaml'));
  const api = objects.find(o => o.kind === 'Deployment' && o.metadata.name === 'shop-api')!;
  const env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }> = api.spec.template.spec.containers[0].env;
  const byName = new Map(env.map(e => [e.name, e]));
  expect(['DATABASE_URL', 'POSTGRES_READ_REPLICAS', 'REDIS_CLUSTER_NODES'].filter(name => byName.get(name)?.value === undefined)).toEqual([]);
  expect(['PGUSER', 'PGPASSWORD', 'REDIS_PASSWORD'].map(name => byName.get(name)?.valueFrom?.secretKeyRef?.name))
    .toEqual(['shop-db-credentials', 'shop-db-credentials', 'shop-cache-auth']);
});

test('the README\'s chart test passes in the new project: both tests run', () => {
  expect(outputs[1]).toMatch(/Tests:\s+2 passed, 2 total/);
});

test('the apply steps install prometheus-operator and metrics-server, name the Secrets the README names and end with the chart', () => {
  const printed = outputs[2];
  expect(printed).toMatch(/helm install kube-prometheus-stack /);
  expect(printed).toMatch(/helm install metrics-server /);
  expect(printed).toContain('shop-db-credentials');
  expect(printed).toContain('shop-cache-auth');
  expect(printed.trim().split('\n').filter(l => l.trim().startsWith('kubectl ')).pop()?.trim()).toBe('kubectl apply -f dist/shop.k8s.yaml');
});
