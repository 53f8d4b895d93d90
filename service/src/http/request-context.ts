import { randomUUID } from 'crypto';
import express, { Request, RequestHandler, Response } from 'express';
import { Logger } from 'pino';
import { logger } from '../logger';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request's id: made here, never taken from the client. */
    id: string;
    /** The logger to use while handling the request: every line carries `requestId` (and `clientRequestId` when the client sent one). */
    log: Logger;
  }
}

export const REQUEST_ID_HEADER = 'X-Request-ID';

/** The longest client id kept; nginx's `$request_id` is 32 hex digits, a UUID 36, a W3C trace id 55. */
export const MAX_CLIENT_REQUEST_ID = 128;

/**
 * What the client's `X-Request-ID` becomes in the log: only characters an id uses (others become
 * `_`), at most {@link MAX_CLIENT_REQUEST_ID} of them; undefined when it is absent or empty.
 */
export function sanitizeClientRequestId(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const clean = raw.slice(0, MAX_CLIENT_REQUEST_ID).replace(/[^0-9A-Za-z._:-]/g, '_');
  return clean === '' ? undefined : clean;
}

/** The sanitized client id of a request, kept for its child logger. */
const CLIENT_REQUEST_ID = Symbol('clientRequestId');
/** The request's child logger, once made. */
const CHILD_LOG = Symbol('log');

type ContextRequest = Request & { [CLIENT_REQUEST_ID]?: string; [CHILD_LOG]?: Logger };

/**
 * `req.log` of every Express request: a child logger with the request's ids, made on first use
 * (pino's child() cost about 8% of a replica read's CPU, and most requests log nothing but the
 * request line, which is skipped below the info level). Defined once on Express's request
 * prototype: a getter defined on each request (a property and a closure per request) was a
 * measurable part of a cache hit (issue 22).
 */
function defineRequestLog(): void {
  if (Object.getOwnPropertyDescriptor(express.request, 'log')) return;
  Object.defineProperty(express.request, 'log', {
    configurable: true,
    get(this: ContextRequest): Logger {
      const clientRequestId = this[CLIENT_REQUEST_ID];
      return (this[CHILD_LOG] ??= logger.child(clientRequestId === undefined ? { requestId: this.id } : { requestId: this.id, clientRequestId }));
    },
  });
}

/**
 * Gives every request an id of its own (a new UUID: a client's header is no proof of anything, and
 * two clients could send the same one), returns it in `X-Request-ID`, and keeps the client's id,
 * sanitized, in the log field `clientRequestId`. One line is logged per request when its
 * connection is done with it (`aborted` when the client left first), with a child logger that
 * puts both ids on every line logged for the request.
 */
export function requestContext(): RequestHandler {
  const begin = requestContextStarter();
  return (req, res, next) => {
    begin(req, res);
    next();
  };
}

/** What {@link requestContext} does for each request, as a function of its own: for a front handler that does more. */
export function requestContextStarter(): (req: Request, res: Response) => void {
  defineRequestLog();
  return beginRequest;
}

function beginRequest(req: Request, res: Response): void {
  req.id = randomUUID();
  (req as ContextRequest)[CLIENT_REQUEST_ID] = sanitizeClientRequestId(req.get(REQUEST_ID_HEADER));
  res.setHeader(REQUEST_ID_HEADER, req.id);
  if (!logger.isLevelEnabled('info')) return;
  const started = process.hrtime.bigint();
  res.on('close', () => {
    const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
    // The path only: a query string may carry what a log should not keep.
    const line = { method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms };
    req.log.info(res.writableFinished ? line : { ...line, aborted: true }, 'request');
  });
}
