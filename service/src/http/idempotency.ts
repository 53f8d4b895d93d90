import { Request } from 'express';
import { HttpError } from './errors';

/**
 * The header a client (or nginx, with its request id) sets on a write so that sending it twice
 * has the effect of sending it once: the load balancer resends a POST whose pod died before answering.
 */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

// Visible ASCII, as the IETF draft's examples and Stripe's keys; bounded so it fits an index entry.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The request's Idempotency-Key, if any; a malformed one is the client's error. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get(IDEMPOTENCY_HEADER);
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new HttpError(400, 'invalid_idempotency_key', `${IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters`);
  }
  return key;
}
