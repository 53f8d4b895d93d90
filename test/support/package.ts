import { join } from 'path';
import { run } from './processes';

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
 * prepare: the library is built from lib/ alone, as on a user's install.
 */
export const packLibrary = (dest: string): Promise<string> =>
  npm(['pack', '--pack-destination', dest, '--json'], REPO_ROOT).then(out => join(dest, JSON.parse(out)[0].filename));
