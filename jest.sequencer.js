const { existsSync } = require('fs');
const { basename, join } = require('path');
const Sequencer = require('@jest/test-sequencer').default;

/**
 * The suites that took longest in the last fresh-clone CI (wait-bound: servers, a control plane,
 * npm installs), longest first: all fifteen over 35 s, so that the two workers end together.
 * Jest starts the longest suites first when its cache records how long each took; a fresh clone
 * has no such record, and jest then goes by file size, which put some of these among the last on
 * two workers, where the run waited for them alone.
 */
const LONGEST = [
  'local-stack', 'control-plane', 'package-install', 'local-guides', 'readme', 'local-charts', 'patroni', 'service-worker',
  'local-patroni', 'redis-conf', 'control-plane-command', 'service-app', 'service-routing', 'service-server', 'prop-schemas-property',
];
for (const name of LONGEST) {
  if (!existsSync(join(__dirname, 'test', `${name}.test.ts`))) throw new Error(`jest.sequencer.js names test/${name}.test.ts, which does not exist`);
}

/** Jest's order (failed first, then longest recorded first), and without any record the longest of the last CI first. */
class LongestFirst extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    if (sorted.some(test => test.duration != null)) return sorted;
    const rank = test => {
      const at = LONGEST.indexOf(basename(test.path, '.test.ts'));
      return at === -1 ? LONGEST.length : at;
    };
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = LongestFirst;
