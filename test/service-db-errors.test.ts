import { DatabaseUnavailableError, InvalidValueError, NotFoundError, PoolTimeoutError, toDomainError } from '../service/src/db/errors';

test('a connection error becomes DatabaseUnavailableError, keeping the driver error as cause', () => {
  const driver = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const domain = toDomainError(driver);
  expect(domain).toBeInstanceOf(DatabaseUnavailableError);
  expect((domain as Error).message).toBe('the database cannot answer now');
  expect((domain as Error).cause).toBe(driver);
});

test('a data exception (SQLSTATE class 22) becomes InvalidValueError, keeping the cause', () => {
  const driver = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
  const domain = toDomainError(driver) as Error;
  expect(domain).toBeInstanceOf(InvalidValueError);
  expect(domain.message).toBe('the database refused a value: invalid byte sequence for encoding "UTF8": 0x00');
  expect(domain.cause).toBe(driver);
});

test('a server in recovery asked for a primary\'s work (a member still being promoted) becomes DatabaseUnavailableError', () => {
  const readOnly = Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' });
  const inRecovery = Object.assign(new Error('recovery is in progress'), { code: '55000' });
  for (const driver of [readOnly, inRecovery]) {
    const domain = toDomainError(driver) as Error;
    expect(domain).toBeInstanceOf(DatabaseUnavailableError);
    expect(domain.message).toBe('the primary is still in recovery (a failover in progress)');
    expect(domain.cause).toBe(driver);
  }
  // Another 55000 (object not in prerequisite state) keeps its meaning.
  const other = Object.assign(new Error('replication slot "x" is active'), { code: '55000' });
  expect(toDomainError(other)).toBe(other);
});

test('a server with every connection slot taken (SQLSTATE 53300) becomes DatabaseUnavailableError, so the request is a retryable 503', () => {
  const driver = Object.assign(new Error('sorry, too many clients already'), { code: '53300' });
  const domain = toDomainError(driver) as Error;
  expect(domain).toBeInstanceOf(DatabaseUnavailableError);
  expect(domain.message).toBe('the database has no connection slot free now');
  expect(domain.cause).toBe(driver);
});

test('domain errors and errors of unknown meaning pass unchanged', () => {
  const timeout = new PoolTimeoutError('primary', 10);
  const notFound = new NotFoundError('item x does not exist');
  const syntax = Object.assign(new Error('syntax error'), { code: '42601' });
  expect([toDomainError(timeout), toDomainError(notFound), toDomainError(syntax)]).toEqual([timeout, notFound, syntax]);
  expect(timeout).toBeInstanceOf(DatabaseUnavailableError);
});
