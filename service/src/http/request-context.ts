import { randomUUID } from 'crypto';
import express, { Request, RequestHandler, Response } from 'express';
import { Logger } from 'pino';
import { logger } from '../logger';
import { markStart, nanosSinceStart } from './request-start';

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

/** The sanitized client id of a request, kept for its child logger and its request line. */
const CLIENT_REQUEST_ID = Symbol('clientRequestId');
/** The request's child logger, once made. */
const CHILD_LOG = Symbol('log');

type ContextRequest = Request & { [CLIENT_REQUEST_ID]?: string; [CHILD_LOG]?: Logger };
type LoggedResponse = Response & { req: ContextRequest };

/** The log fields that tie a line to its request: the service's id, and the client's when it sent one. */
function requestIds(req: ContextRequest): { requestId: string; clientRequestId?: string } {
  const clientRequestId = req[CLIENT_REQUEST_ID];
  return clientRequestId === undefined ? { requestId: req.id } : { requestId: req.id, clientRequestId };
}

/**
 * `req.log` of every Express request: a child logger with the request's ids, made on first use
 * (pino's child() cost about 8% of a replica read's CPU, and most requests log nothing but the
 * request line, which is written without it). Defined once on Express's request prototype: a
 * getter defined on each request (a property and a closure per request) was a measurable part of
 * a cache hit (issue 22).
 */
function defineRequestLog(): void {
  if (Object.getOwnPropertyDescriptor(express.request, 'log')) return;
  Object.defineProperty(express.request, 'log', {
    configurable: true,
    get(this: ContextRequest): Logger {
      return (this[CHILD_LOG] ??= logger.child(requestIds(this)));
    },
  });
}

/**
 * Gives every request an id of its own (a new UUID: a client's header is no proof of anything, and
 * two clients could send the same one), returns it in `X-Request-ID`, and keeps the client's id,
 * sanitized, in the log field `clientRequestId`. One line is logged per request when its
 * connection is done with it (`aborted` when the client left first), with both ids, as every line
 * logged through `req.log` has them.
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
  markStart(res);
  res.on('close', logRequestLine);
}

/**
 * The request line, as the response's `close` listener: one function for every response, with the
 * logger itself rather than the request's child (issue 22: a closure, a listener and a child
 * logger per request were about a seventh of a replica read's CPU at the default level, info).
 */
function logRequestLine(this: LoggedResponse): void {
  const req = this.req;
  const ms = Math.round(nanosSinceStart(this) / 1e5) / 10;
  // The path only: a query string may carry what a log should not keep.
  const url = req.originalUrl;
  const query = url.indexOf('?');
  const line = { ...requestIds(req), method: req.method, path: query === -1 ? url : url.slice(0, query), status: this.statusCode, ms };
  logger.info(this.writableFinished ? line : { ...line, aborted: true }, 'request');
}
