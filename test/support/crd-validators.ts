export * from '../../lib/testing/crd-validators';
