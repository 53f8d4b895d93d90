import { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { DatabaseUnavailableError, InvalidValueError, NotFoundError, TokenAheadError, VersionConflictError } from '../db/errors';
import { IdempotencyKeyReusedError } from '../idempotency';
import { describeIssues } from '../validation';

/** An error answered with its status and a stable code; `message` is the public body's, the cause goes to the log only. */
export class HttpError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Unknown routes: a JSON 404 like every other error. */
export const notFound: RequestHandler = (req, _res, next) => next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));

/**
 * Maps every error to `{ error: { code, message } }`; bad input is 4xx, never a 500 and never a
 * stack trace. A 5xx body says only what failed in the service's own words: the dependency's
 * error (the cause) is in the log line, never in the body.
 */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const { status, code, message } = classify(error);
  if (status >= 500) req.log.error({ err: error, path: req.path }, 'request failed');
  res.status(status).json({ error: { code, message } });
};

function classify(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof HttpError) return error;
  if (error instanceof ZodError) {
    return { status: 400, code: 'invalid_input', message: describeIssues(error, 'body') };
  }
  if (error instanceof NotFoundError) return { status: 404, code: 'not_found', message: error.message };
  if (error instanceof VersionConflictError) return { status: 409, code: 'version_conflict', message: error.message };
  if (error instanceof InvalidValueError) return { status: 400, code: 'invalid_input', message: 'the database refused a value of the request' };
  if (error instanceof IdempotencyKeyReusedError) return { status: 422, code: 'idempotency_key_reused', message: error.message };
  if (error instanceof TokenAheadError) return { status: 400, code: 'invalid_consistency_token', message: error.message };
  if (error instanceof DatabaseUnavailableError) return { status: 503, code: 'unavailable', message: 'the database cannot answer now; retry' };
  const e = error as { type?: string; status?: number; expose?: boolean; message?: string };
  // body-parser's errors carry a type and a 4xx status.
  if (e.type === 'entity.too.large') return { status: 413, code: 'body_too_large', message: 'the request body exceeds the limit' };
  if (e.type === 'entity.parse.failed') return { status: 400, code: 'malformed_json', message: 'the request body is not valid JSON' };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return { status: e.status, code: 'bad_request', message: e.message ?? 'bad request' };
  return { status: 500, code: 'internal', message: 'internal error' };
}
