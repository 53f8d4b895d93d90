import { Response } from 'express';

/** When a response's request began (process.hrtime.bigint()), kept on the response. */
const STARTED = Symbol('started');

type Stamped = Response & { [STARTED]?: bigint };

/**
 * Stamps when the response's request began, unless a handler before this one did: the request line
 * and the request metrics time the same request from one stamp (a property added to a response and
 * a clock read are each a measurable part of a cache hit, issue 22).
 */
export function markStart(res: Response): void {
  (res as Stamped)[STARTED] ??= process.hrtime.bigint();
}

/** Nanoseconds since {@link markStart} stamped the response. */
export function nanosSinceStart(res: Response): number {
  return Number(process.hrtime.bigint() - (res as Stamped)[STARTED]!);
}
