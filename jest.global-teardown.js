const { rmSync } = require('fs');

/** Jest's globalTeardown: removes the run's shared folder that jest.global-setup.js made. */
module.exports = () => {
  if (process.env.HSCALE_TEST_RUN_DIR) rmSync(process.env.HSCALE_TEST_RUN_DIR, { recursive: true, force: true });
};
