import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { LocalStack } from '../local/stack';
import { StackUnderTest } from './support/local-stack';
import { sleep, waitFor } from './support/processes';

/*
 * Two guide charts on loopback (npm run local), each with the Redis deployment the production
 * chart does not use: TutorMax's Sentinel pair and the CMS's standalone Redis. One stack at a
 * time, under the same mixed load as test/local-stack.test.ts; figures go to
 * .local/guides-<chart>-figures.json.
 */

jest.setTimeout(240_000);

/** Starts `chart` with two API instances for the tests of the block, and stops it after them. */
function onLocalStack(chart: string): () => StackUnderTest {
  let stack: LocalStack;
  let t: StackUnderTest;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'hscale-state-'));
    stack = await LocalStack.start({ chart, apiInstances: 2, stateFile: join(stateDir, 'state.json') });
    t = new StackUnderTest(stack, `guides-${chart}-figures.json`);
  });
  afterAll(async () => {
    await stack?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    t?.writeFigures();
  });
  return () => t;
}

/** Every target of the chart's PodMonitors is up, and every alert and panel expression parses and selects series. */
async function expectQueriesServed(t: StackUnderTest): Promise<void> {
  await t.expectEveryTargetUp('Prometheus on the stack');
  const { unparsed, empty, quiet } = await t.chartQueries();
  t.figures['Prometheus on the stack'] = { ...t.figures['Prometheus on the stack'], quietSelectors: quiet };
  expect(unparsed).toEqual([]);
  expect(empty).toEqual([]);
}

describe('tutormax: Redis Sentinel', () => {
  const t = onLocalStack('tutormax');


  /** The master's address as a Sentinel answers it. */
  async function sentinelMaster(): Promise<string> {
    const sentinel = t().stack.ofRole('cache-sentinel').find(s => s.child.exitCode === null)!;
    const masterName = t().stack.ofRole('api')[0].env.REDIS_SENTINEL_MASTER!;
    return (await t().redisCli(sentinel, ['--raw', 'sentinel', 'get-master-addr-by-name', masterName], 'sentinel')).trim().replace('\n', ':');
  }

  test('the Sentinels monitor the chart\'s first Redis, the other replicates it, and a worker takes jobs', async () => {
    const cache = t().stack.ofRole('cache');
    const first = cache.find(node => node.pod.name.endsWith('-0'))!;
    const second = cache.find(node => node !== first)!;
    expect(await sentinelMaster()).toBe(`127.0.0.1:${first.pod.namedPort('redis')}`);
    expect(await t().redisCli(second, ['role'])).toMatch(new RegExp(`^slave\\n127\\.0\\.0\\.1\\n${first.pod.namedPort('redis')}\\n`));
    await t().expectWorkerTakes('sentinel-job-1');
  });

  test('Prometheus scrapes every target, and every alert and dashboard query parses and selects series', async () => {
    // A job done, so the workers' histograms have series.
    await t().expectWorkerTakes('sentinel-job-0');
    await expectQueriesServed(t());
  });

  test('the Redis master killed: the Sentinels promote the replica, zero failed requests, a worker still takes jobs, nothing lost', async () => {
    const cache = t().stack.ofRole('cache');
    const before = await sentinelMaster();
    const victim = cache.find(node => before.endsWith(`:${node.pod.namedPort('redis')}`))!;
    const successor = cache.find(node => node !== victim)!;
    const report = await t().underLoad('Redis Sentinel master killed', async () => {
      const killedAt = Date.now();
      await t().stack.kill(victim, 'SIGKILL');
      await waitFor('the Sentinels to promote the replica', async () => (await sentinelMaster()) === `127.0.0.1:${successor.pod.namedPort('redis')}`, 60_000, 100);
      const failoverSeconds = (Date.now() - killedAt) / 1000;
      await waitFor('the promoted replica to take writes', async () => (await t().redisCli(successor, ['role'])).startsWith('master'), 10_000, 100);
      return { failoverSeconds };
    });
    expect(report.failures).toEqual([]);
    // The old master rejoins as a replica of the new one: its start script asks the Sentinels.
    await t().stack.restart(victim);
    await waitFor('the old master to replicate the new one', async () => (await t().redisCli(victim, ['role'])).startsWith('slave'), 30_000, 250);
    await t().expectWorkerTakes('sentinel-job-2');
    await t().expectDatabaseAgrees();
  });
});

describe('cms: standalone Redis', () => {
  const t = onLocalStack('cms');

  test('Prometheus scrapes every target, and every alert and dashboard query parses and selects series', async () => {
    // The guide's primary has no replicas: none is started, and no panel waits for one.
    expect(t().stack.ofRole('db-replica')).toEqual([]);
    await expectQueriesServed(t());
  });

  test('the Redis killed and restarted under load: zero failed requests (the cache is optional), nothing lost', async () => {
    const [redis] = t().stack.ofRole('cache');
    const report = await t().underLoad('standalone Redis killed and restarted', async () => {
      await t().stack.kill(redis, 'SIGKILL');
      const downAt = Date.now();
      await sleep(3_000);
      await t().stack.restart(redis);
      return { downSeconds: (Date.now() - downAt) / 1000 };
    });
    expect(report.failures).toEqual([]);
    await t().expectDatabaseAgrees();
  });
});
