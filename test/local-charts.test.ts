import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { chartNames } from '../local/chart';
import { LocalStack } from '../local/stack';
import { failureSummary } from './support/load';
import { StackUnderTest } from './support/local-stack';

/*
 * Every chart in dist/ starts on the local stack (npm run local -- --chart <name>). The charts
 * that other suites start and fault already are named in STARTED_ELSEWHERE; each other one is
 * started here, one at a time, with 2 API instances, and serves a short mixed load through its
 * nginx with no failed request.
 */

jest.setTimeout(300_000);

/** Charts another suite starts on the local stack, with the suite. */
const STARTED_ELSEWHERE: Record<string, string> = {
  hscale: 'test/local-stack.test.ts',
  tutormax: 'test/local-guides.test.ts',
  cms: 'test/local-guides.test.ts',
};

test('the charts other suites start are all in dist/', () => {
  expect(chartNames()).toEqual(expect.arrayContaining(Object.keys(STARTED_ELSEWHERE)));
});

const others = chartNames().filter(name => !(name in STARTED_ELSEWHERE));

test.each(others)('%s starts on the local stack: every pod ready, and a mixed load through its nginx has no failed request', async chart => {
  const dir = mkdtempSync(join(tmpdir(), 'hscale-charts-'));
  let stack: LocalStack | undefined;
  try {
    stack = await LocalStack.start({ chart, apiInstances: 2, stateFile: join(dir, 'state.json') });
    const t = new StackUnderTest(stack, `charts-${chart}-figures.json`);
    const report = await t.underLoad(`${chart} started`, async () => undefined);
    expect(failureSummary(report)).toEqual({});
    expect(report.acknowledged.size).toBeGreaterThan(0);
    t.expectServicesRunning();
  } finally {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
