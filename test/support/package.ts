import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { basename, join } from 'path';
import { run, waitFor } from './processes';

/** The repository's root, whose package.json is the one packed. */
export const REPO_ROOT = join(__dirname, '..', '..');

/**
 * The environment a user's npm runs in: without the npm_* variables of an enclosing `npm test`
 * (workspace, lifecycle), which would steer it.
 */
export const userEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

/** Runs npm as a user would in `cwd`, bounded by five minutes. */
export const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv) => run('npm', args, { cwd, env, timeoutMs: 300_000 });

/**
 * `npm pack` of the repository into `dest`, returning the tarball's path. It runs prepack and
 * prepare: the library is built from lib/ alone, as on a user's install. Packed once per Jest run
 * (into HSCALE_TEST_RUN_DIR, jest.global-setup.js), then copied: the suites that install the
 * package (package-install, readme) get the same tarball, packed (and built) once, not once each.
 */
export const packLibrary = (dest: string): Promise<string> => withLibDist(async () => {
  const runDir = process.env.HSCALE_TEST_RUN_DIR;
  if (!runDir) return pack(dest);
  const packed = join(runDir, 'pack');
  mkdirSync(packed, { recursive: true });
  const earlier = readdirSync(packed).find(file => file.endsWith('.tgz'));
  const tarball = earlier ? join(packed, earlier) : await pack(packed);
  copyFileSync(tarball, join(dest, basename(tarball)));
  return join(dest, basename(tarball));
});

const pack = (dest: string): Promise<string> =>
  npm(['pack', '--pack-destination', dest, '--json'], REPO_ROOT).then(out => join(dest, JSON.parse(out)[0].filename));

// One lock per clone: Jest's workers are separate processes, and the pack's prepack empties lib-dist/.
const LOCK = join(tmpdir(), `hscale-lib-dist-${REPO_ROOT.replace(/\W/g, '_')}.lock`);

/**
 * Runs `use` while no other test process rebuilds lib-dist/: the suites that pack the library
 * (prepack removes lib-dist/, prepare builds it again) and those that read it take turns.
 */
export async function withLibDist<T>(use: () => Promise<T>): Promise<T> {
  await waitFor('the lib-dist lock', async () => takeLock(), 600_000, 250);
  try {
    return await use();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** mkdir is atomic: the process that creates the folder holds the lock. A holder that died leaves it free. */
function takeLock(): boolean {
  try {
    mkdirSync(LOCK);
    writeFileSync(join(LOCK, 'pid'), String(process.pid));
    return true;
  } catch {
    if (holderDied()) rmSync(LOCK, { recursive: true, force: true });
    return false;
  }
}

function holderDied(): boolean {
  try {
    process.kill(Number(readFileSync(join(LOCK, 'pid'), 'utf8')), 0);
    return false;
  } catch (error) {
    // ENOENT: the holder has made the folder and not yet written its pid.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
