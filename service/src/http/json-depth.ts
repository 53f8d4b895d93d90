import { RequestHandler } from 'express';
import { HttpError } from './errors';

/** The deepest nesting of arrays and objects a JSON body may have; the items' payloads and the jobs' data need far less. */
export const MAX_JSON_DEPTH = 32;

/**
 * The nesting depth of a parsed JSON value, measured without recursion and stopping once past
 * `max`: a body of a hundred thousand `[` parses (V8's JSON.parse is iterative) but would overflow
 * the stack of any recursive walk after it, the schema validator's included.
 */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Refuses a JSON body nested deeper than `max` with 400, before any route or validator walks it; a client error, not logged as one. */
export function limitJsonDepth(max: number): RequestHandler {
  return (req, _res, next) => {
    if (req.body !== undefined && jsonDepthExceeds(req.body, max)) {
      throw new HttpError(400, 'too_deep', `the request body nests arrays and objects deeper than ${max} levels`);
    }
    next();
  };
}
