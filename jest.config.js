/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // The package-install fixture (a user's chart) imports the package by name, which here is lib/;
  // its chart.ts comes before the chart.js beside it (the same chart in JavaScript).
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  moduleNameMapper: { '^hscale$': '<rootDir>/lib/index.ts', '^hscale/testing$': '<rootDir>/lib/testing/index.ts' },
  // Real-server suites start their own PostgreSQL, Redis and nginx; two workers fit two cores.
  maxWorkers: 2,
  testSequencer: '<rootDir>/jest.sequencer.js',
  // The servers' data dirs on a tmpfs when there is one and TMPDIR is unset; a folder the suites share for the run.
  globalSetup: '<rootDir>/jest.global-setup.js',
  globalTeardown: '<rootDir>/jest.global-teardown.js',
  testTimeout: 60_000,
};
