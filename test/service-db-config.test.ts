import { DEFAULT_DATABASE_CONFIG, databaseConfigFromEnv, roleDefaults, validateDatabaseConfig } from '../service/src/db/config';

const url = 'postgres://app@db-rw:5432/app';

test('the defaults are exported and are what an env with only DATABASE_URL gives', () => {
  expect(databaseConfigFromEnv({ DATABASE_URL: url })).toEqual({ ...DEFAULT_DATABASE_CONFIG, primaryUrl: url, replicas: [] });
});

test('replicas and the read policy are read from env', () => {
  expect(databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_READ_REPLICAS: 'db-0.db:5432, db-1.db:5432', READ_POLICY: 'primary' }))
    .toMatchObject({ replicas: ['db-0.db:5432', 'db-1.db:5432'], readPolicy: 'primary' });
});

test('behind a pooler (POSTGRES_POOL_MODE) the statement timeout becomes the role\'s default; without one, nothing does', () => {
  expect(databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_POOL_MODE: 'transaction' }).poolMode).toBe('transaction');
  expect(roleDefaults(databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_POOL_MODE: 'session', PG_STATEMENT_TIMEOUT_MS: '2500' }))).toEqual({ statement_timeout: '2500' });
  expect(roleDefaults(databaseConfigFromEnv({ DATABASE_URL: url }))).toEqual({});
});

test('POSTGRES_READ_REPLICAS_BALANCED says the replica addresses are balanced Services; unset, each is one server', () => {
  expect(databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_READ_REPLICAS_BALANCED: 'true' }).replicasBalanced).toBe(true);
  expect(databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_READ_REPLICAS_BALANCED: 'false' }).replicasBalanced).toBe(false);
  expect(databaseConfigFromEnv({ DATABASE_URL: url }).replicasBalanced).toBe(false);
  expect(() => databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_READ_REPLICAS_BALANCED: 'yes' }))
    .toThrow('POSTGRES_READ_REPLICAS_BALANCED ("yes") must be true or false');
});

test('throws error, when POSTGRES_POOL_MODE is not a pool mode the service can work in', () => {
  expect(() => databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_POOL_MODE: 'statement' }))
    .toThrow('POSTGRES_POOL_MODE ("statement") must be one of "session", "transaction", or unset without a pooler');
});

test('throws error, when DATABASE_URL is missing', () => {
  expect(() => databaseConfigFromEnv({})).toThrow('DATABASE_URL must name the primary, e.g. postgres://app@db-rw:5432/app');
});

test('throws error, when READ_POLICY is not a policy', () => {
  expect(() => databaseConfigFromEnv({ DATABASE_URL: url, READ_POLICY: 'slaves' })).toThrow('READ_POLICY ("slaves") must be one of "replicas", "primary"');
});

test('throws error, when a replica is not host:port', () => {
  expect(() => databaseConfigFromEnv({ DATABASE_URL: url, POSTGRES_READ_REPLICAS: 'db-0' })).toThrow('POSTGRES_READ_REPLICAS entry "db-0" must be host:port');
});

test('throws error, when a config built in code has a bad value', () => {
  const base = { ...DEFAULT_DATABASE_CONFIG, primaryUrl: url, replicas: [] };
  expect(() => validateDatabaseConfig({ ...base, primaryPoolMax: 0 })).toThrow('database config \'primaryPoolMax\' (0) must be a positive integer');
  expect(() => validateDatabaseConfig({ ...base, maxLagMs: -1 })).toThrow('database config \'maxLagMs\' (-1) must be an integer of 0 or more');
  expect(() => validateDatabaseConfig({ ...base, readPolicy: 'all' as never })).toThrow('READ_POLICY ("all") must be one of "replicas", "primary"');
});
