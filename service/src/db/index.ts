export * from './errors';
export * from './items';
export * from './lsn';
export * from './migrations';
export * from './router';
