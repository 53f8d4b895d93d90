import { execFile } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

// scripts/run-lanes.cjs, which `npm test` runs its static checks with, on a package of its own.
const RUN_LANES = join(__dirname, '..', 'scripts', 'run-lanes.cjs');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hscale-run-lanes-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: 'lanes', version: '0.0.0', private: true,
    scripts: {
      // Waits (at most 20 s) for the file `maker` writes: it ends only if the other lane runs meanwhile.
      waiter: 'for i in $(seq 200); do [ -f made ] && echo waiter-done && exit 0; sleep 0.1; done; exit 4',
      maker: 'touch made && echo maker-done',
      slow: 'sleep 1 && echo slow-done', fails: 'echo broken && exit 3', after: 'echo after-done',
    },
  }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runLanes(...lanes: string[]): Promise<{ code: number; output: string }> {
  return new Promise(resolve => {
    execFile('node', [RUN_LANES, ...lanes], { cwd: dir }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, output: stdout + stderr });
    });
  });
}

test('the lanes run side by side, each lane in order, each lane\'s output printed whole with its time', async () => {
  rmSync(join(dir, 'made'), { force: true });
  const { code, output } = await runLanes('waiter after', 'maker');
  expect(code).toBe(0);
  expect(output.indexOf('waiter-done')).toBeGreaterThanOrEqual(0);
  expect(output.indexOf('after-done')).toBeGreaterThan(output.indexOf('waiter-done'));
  expect(output).toMatch(/\[maker: passed in [0-9.]+ s\]/);
});

test('a failing script fails the run, stops its own lane, and lets the other lanes finish', async () => {
  const { code, output } = await runLanes('fails after', 'slow');
  expect(code).toBe(1);
  expect(output).toContain('[fails: failed with exit code 3');
  expect(output).not.toContain('after-done');
  expect(output).toContain('slow-done');
});

test('throws error, when a lane is empty', async () => {
  const { code, output } = await runLanes('fast', ' ');
  expect([code, output.trim()]).toEqual([2, 'usage: run-lanes.cjs "<script> <script> ..." "<script> ..." (one quoted argument per lane)']);
});
