// The checks live in lib/testing (published as hscale/testing); the tests import them from here.
export * from '../../lib/testing/manifest-checks';
