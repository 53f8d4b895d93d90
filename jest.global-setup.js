const { accessSync, constants, mkdtempSync, statfsSync, statSync } = require('fs');
const { tmpdir } = require('os');
const { join } = require('path');

/** Where the suites' servers keep their data when TMPDIR is not set: a RAM-backed tmpfs. */
const TMPFS = '/dev/shm';
/** The room a run needs there: two workers' data dirs (a local stack holds about 400 MB). */
const NEEDED_BYTES = 4 * 1024 ** 3;

/**
 * Jest's globalSetup, run before the workers start (they inherit the environment it sets):
 * - TMPDIR: the suites' temp dirs (PostgreSQL, Redis and etcd data, npm projects) go to /dev/shm
 *   when it is a writable tmpfs with room and TMPDIR is not set. On this disk (mounted with
 *   `discard`) removing a local stack's 400 MB took 10 s, on the tmpfs under 1 s; initdb, etcd
 *   and npm install write to memory.
 * - HSCALE_TEST_RUN_DIR: a folder for this run, removed by jest.global-teardown.js, where the
 *   suites share what they would each make alike (the packed library, test/support/package.ts).
 */
module.exports = () => {
  if (!process.env.TMPDIR && fitsTmpfs()) process.env.TMPDIR = TMPFS;
  process.env.HSCALE_TEST_RUN_DIR = mkdtempSync(join(tmpdir(), 'hscale-run-'));
};

function fitsTmpfs() {
  try {
    if (!statSync(TMPFS).isDirectory()) return false;
    accessSync(TMPFS, constants.W_OK);
    const { bavail, bsize } = statfsSync(TMPFS);
    return bavail * bsize >= NEEDED_BYTES;
  } catch {
    return false;
  }
}
