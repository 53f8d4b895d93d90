import { randomUUID } from 'crypto';
import { RequestHandler } from 'express';
import { Logger } from 'pino';
import { logger } from '../logger';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request's id: the `X-Request-ID` it came with (nginx sets one), or a new one. */
    id: string;
    /** The logger to use while handling the request: every line carries `requestId`. */
    log: Logger;
  }
}

export const REQUEST_ID_HEADER = 'X-Request-ID';

/** What an id taken from the client may look like: nginx's `$request_id` (32 hex digits), a UUID, a trace id. */
const ACCEPTED_ID = /^[0-9A-Za-z._:-]{1,128}$/;

/**
 * Gives every request an id (the `X-Request-ID` it carries when that looks like an id, else a
 * new UUID), returns it in the response header and logs one line per request when its connection
 * is done with it (`aborted` when the client left first), with a child logger that puts
 * `requestId` on every line logged for the request.
 */
export function requestContext(): RequestHandler {
  return (req, res, next) => {
    const given = req.get(REQUEST_ID_HEADER);
    // A header that is no id (too long, spaces, control characters) is replaced, not echoed into logs and responses.
    req.id = given !== undefined && ACCEPTED_ID.test(given) ? given : randomUUID();
    // The child logger is made on first use: pino's child() cost about 8% of a replica read's
    // CPU, and most requests log nothing but the request line, which is skipped below the info level.
    let log: Logger | undefined;
    Object.defineProperty(req, 'log', { get: () => (log ??= logger.child({ requestId: req.id })), configurable: true });
    res.set(REQUEST_ID_HEADER, req.id);
    if (!logger.isLevelEnabled('info')) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.on('close', () => {
      const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
      // The path only: a query string may carry what a log should not keep.
      const line = { method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms };
      req.log.info(res.writableFinished ? line : { ...line, aborted: true }, 'request');
    });
    next();
  };
}
