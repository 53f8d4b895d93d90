import { execFile } from 'child_process';
import { cpSync } from 'fs';
import { join } from 'path';
import { promisify } from 'util';
import { startReplicatedPostgres } from './support/postgres';
import { ProcessGroup, run } from './support/processes';

const execFileAsync = promisify(execFile);
const REPRO = join(__dirname, 'fixtures', 'postgres-js-closed-socket.cjs');
const PATCH = join(__dirname, '..', 'patches', 'postgres+3.4.9.patch');
// The copy patch-package patched: the workspace's dependencies are hoisted to the root.
const INSTALLED_DRIVER = join(__dirname, '..', 'node_modules', 'postgres');

interface ReproOutcome { exitCode: number; stdout: string; stderr: string }

async function runRepro(driver: string, databaseUrl: string): Promise<ReproOutcome> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [REPRO], {
      env: { ...process.env, POSTGRES_MODULE: driver, PG_URL: databaseUrl }, timeout: 30_000,
    });
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { exitCode: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('the postgres.js patch (patches/postgres+3.4.9.patch)', () => {
  const group = new ProcessGroup();
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = (await startReplicatedPostgres(group, 0)).databaseUrl;
  }, 120_000);

  afterAll(() => group.cleanup(), 60_000);

  test('a transaction whose backend dies rejects with CONNECTION_CLOSED, and the pool answers the next query', async () => {
    const outcome = await runRepro(INSTALLED_DRIVER, databaseUrl);

    expect({ exitCode: outcome.exitCode, stderr: outcome.stderr }).toEqual({ exitCode: 0, stderr: '' });
    const { unhandledRejections, ...outcomes } = JSON.parse(outcome.stdout);
    expect(outcomes).toEqual({ transactionOutcome: 'CONNECTION_CLOSED', nextQueryOutcome: 'resolved' });
    // A rejection postgres.js leaves unhandled is reported, not fatal, as in the service. An exit 1
    // without a TypeError was seen once in 50+ runs, under a full suite's load, before the handler.
    if (unhandledRejections.length > 0) console.warn(`unhandled rejections in the reproduction: ${unhandledRejections.join(', ')}`);
  }, 60_000);

  test('the unpatched driver fails the same sequence, mostly by ending the process, so the test above can fail', async () => {
    // GIVEN the installed driver with the patch taken back out
    const unpatchedRoot = group.tempDir('hscale-postgres-js-');
    cpSync(INSTALLED_DRIVER, join(unpatchedRoot, 'node_modules', 'postgres'), { recursive: true });
    await run('patch', ['--reverse', '--strip=1', '--directory', unpatchedRoot, '--input', PATCH]);

    // WHEN the same sequence runs on it
    const outcome = await runRepro(join(unpatchedRoot, 'node_modules', 'postgres'), databaseUrl);

    // THEN what the test above requires does not hold: mostly the process dies of nextWrite's
    // TypeError; depending on which write comes first, the pool may instead fail the next query
    const outcomes = outcome.exitCode === 0 ? JSON.parse(outcome.stdout) : undefined;
    expect(outcome.exitCode !== 0 || outcomes.nextQueryOutcome !== 'resolved' || outcomes.transactionOutcome !== 'CONNECTION_CLOSED').toBe(true);
    expect(outcome.stderr + outcome.stdout).toMatch(/TypeError: Cannot read properties of null \(reading 'write'\)|CONNECTION_CLOSED|57P01/);
  }, 60_000);
});
