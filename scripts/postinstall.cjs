// Applies patches/ (postgres.js, see patches/README.md) to this repository's own node_modules.
// A project that installs hscale as a dependency has nothing to patch: the library never loads
// postgres.js, and patch-package, a devDependency, is not installed there.
const { execFileSync } = require('child_process');
const { sep } = require('path');

const installedAsDependency = process.cwd().split(sep).includes('node_modules');
if (!installedAsDependency) {
  execFileSync(process.execPath, [require.resolve('patch-package/index.js'), '--error-on-fail'], { stdio: 'inherit' });
}
