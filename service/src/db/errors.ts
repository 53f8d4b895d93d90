/** The item does not exist. */
export class NotFoundError extends Error {}

/** The item changed since the version the client read. */
export class VersionConflictError extends Error {
  constructor(public readonly currentVersion: number) {
    super(`the item is at version ${currentVersion}`);
  }
}

/** The database cannot answer now (unreachable, going away, or busy); the cause says which. */
export class DatabaseUnavailableError extends Error {}

/** No connection of the pool was free within the pool timeout; the database may be fine, only busy. */
export class PoolTimeoutError extends DatabaseUnavailableError {
  public readonly code = 'POOL_TIMEOUT';
  constructor(pool: string, timeoutMs: number) {
    super(`no connection of pool ${pool} was free within ${timeoutMs} ms`);
  }
}

/** The database refused a value of the input (SQLSTATE class 22, data exception: a NUL in text, a value out of range). */
export class InvalidValueError extends Error {}

/** A consistency token names a position the primary has not reached: no write of this database gave it. */
export class TokenAheadError extends Error {}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P03']);

/**
 * True for a server in recovery asked for what only a primary does: `cannot execute INSERT in a
 * read-only transaction` (25006) or `recovery is in progress` (55000, from `pg_current_wal_lsn()`).
 * The primary's address reaches a replica while one is being promoted: Patroni's leader (the
 * member `-rw` selects) answers as the primary once it holds the leader lock, a moment to seconds
 * before its PostgreSQL leaves recovery.
 */
export function isInRecoveryError(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return e?.code === '25006' || (e?.code === '55000' && /recovery is in progress/.test(e.message ?? ''));
}

/** True for errors that say the server is unreachable or going away, not that the query is wrong. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code !== undefined && CONNECTION_ERRORS.has(code);
}

/**
 * The domain error a driver error means, with the driver's error as its `cause`: the layers above
 * the db module never see a SQLSTATE. Domain errors and errors of unknown meaning pass unchanged.
 */
export function toDomainError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || error instanceof InvalidValueError) return error;
  if (isConnectionError(error)) return new DatabaseUnavailableError('the database cannot answer now', { cause: error });
  if (isInRecoveryError(error)) return new DatabaseUnavailableError('the primary is still in recovery (a failover in progress)', { cause: error });
  const code = (error as { code?: unknown } | undefined)?.code;
  // too_many_connections: every slot of max_connections is taken (a promoted member still holds
  // the replica pools it had, for up to a check interval): busy now, so 503 and retry, not 500.
  if (code === '53300') return new DatabaseUnavailableError('the database has no connection slot free now', { cause: error });
  // The message carries the server's reason for the job's failed reason and the log; the HTTP layer answers its own words.
  if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) return new InvalidValueError(`the database refused a value: ${(error as Error).message}`, { cause: error });
  return error;
}
