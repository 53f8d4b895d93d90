/** The item does not exist. */
export class NotFoundError extends Error {}

/** The item changed since the version the client read. */
export class VersionConflictError extends Error {
  constructor(public readonly currentVersion: number) {
    super(`the item is at version ${currentVersion}`);
  }
}

/** No connection of the pool was free within the pool timeout; the database may be fine, only busy. */
export class PoolTimeoutError extends Error {
  public readonly code = 'POOL_TIMEOUT';
  constructor(pool: string, timeoutMs: number) {
    super(`no connection of pool ${pool} was free within ${timeoutMs} ms`);
  }
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', '57P01', '57P03']);

/** True for errors that say the server is unreachable or going away, not that the query is wrong. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code !== undefined && CONNECTION_ERRORS.has(code);
}
