/**
 * The checks hscale's own tests run on every chart, for your charts' tests: `checkManifests` and
 * `findViolations` (schemas, Pod Security, NetworkPolicy links, budgets), CRD validators.
 *
 * @packageDocumentation
 */

// hscale/testing: the checks hscale's own tests run on every chart, for your charts' tests.
// Not exported from the main entry point, so a chart that does not test loads none of it.
export * from './manifest-checks';
export * from './crd-validators';
export * from '../core/budgets';
