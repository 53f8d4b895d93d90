/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // Real-server suites start their own PostgreSQL, Redis and nginx; two workers fit two cores.
  maxWorkers: 2,
  testTimeout: 60_000,
};
