import { createHash } from 'crypto';

/** An Idempotency-Key its caller already used for another request: the first request's effect stands, this one has none. */
export class IdempotencyKeyReusedError extends Error {
  constructor() {
    super('this Idempotency-Key was used for another request; use a new key for a new request');
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The stored form of a caller's key: scoped to the caller (the token's subject), so two callers
 * never share an effect, and hashed, so any visible ASCII a client sends is a safe id.
 */
export function scopedIdempotencyKey(subject: string, key: string): string {
  return sha256(`${subject}\n${key}`);
}

/** The sha256 of a request body (as parsed JSON, serialized again): what a repeated key must send again. */
export function requestHash(body: unknown): string {
  return sha256(JSON.stringify(body ?? null));
}
