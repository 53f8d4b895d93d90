import { createHash, timingSafeEqual } from 'crypto';
import { Request, RequestHandler, Router } from 'express';
import { z } from 'zod';
import { AuthConfig } from '../auth/config';
import { checkPassword, MAX_PASSWORD_BYTES } from '../auth/passwords';
import { signWriteToken, verifyWriteToken } from '../auth/tokens';
import { HttpError } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    /** Who sent a write: the subject of its token (`admin` for the admin token where that is accepted). */
    subject?: string;
  }
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The one answer to a missing or invalid token: it says what is needed, never why a given token failed. */
function unauthorized(cause?: unknown): HttpError {
  return new HttpError(401, 'unauthorized', 'this request needs a bearer token that may write', cause === undefined ? undefined : { cause });
}

function bearerOf(req: Request): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/.exec(req.get('authorization') ?? '');
  return match?.[1];
}

/** The admin token check in constant time; digests have one length, so it leaks not even the token's length. */
export function isAdminToken(given: string | undefined, adminToken: string | undefined): boolean {
  if (!adminToken || given === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(adminToken));
}

/**
 * Lets a request through with a valid write token (HS256 JWT, see `auth/tokens.ts`), setting
 * `req.subject`; with `adminToken`, the admin token passes too, as subject `admin`. Anything else
 * is 401 with `WWW-Authenticate: Bearer`; the reason a token failed goes to the debug log only.
 */
export function requireWriter(auth: AuthConfig, adminToken?: string): RequestHandler {
  return async (req, res, next) => {
    const token = bearerOf(req);
    res.set('WWW-Authenticate', 'Bearer realm="hscale"');
    if (isAdminToken(token, adminToken)) {
      req.subject = 'admin';
      return next();
    }
    if (!token || !auth.signingKey) throw unauthorized();
    try {
      req.subject = await verifyWriteToken(auth.signingKey, token);
    } catch (error) {
      req.log.debug({ err: error }, 'write token refused');
      throw unauthorized(error);
    }
    res.removeHeader('WWW-Authenticate');
    next();
  };
}

/** {@link requireWriter} for POST, PUT, PATCH and DELETE; reads pass untouched. */
export function requireWriterForWrites(auth: AuthConfig): RequestHandler {
  const writer = requireWriter(auth);
  return (req, res, next) => (WRITE_METHODS.has(req.method) ? writer(req, res, next) : next());
}

const loginBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(MAX_PASSWORD_BYTES * 4),
});

/**
 * `POST /api/v1/auth/login` `{username, password}`: 200 `{token, tokenType, expiresIn}` for a user
 * of AUTH_USERS whose bcrypt hash the password matches; 401 otherwise, the same answer for an
 * unknown user and a wrong password (and in about the same time). nginx rate-limits this path.
 */
export function authRouter(auth: AuthConfig): Router {
  const router = Router();
  router.post('/login', async (req, res) => {
    const { username, password } = loginBody.parse(req.body ?? {});
    const known = await checkPassword(auth.users, username, password);
    if (!known || !auth.signingKey) {
      req.log.info({ username: username.replace(/[^\w.@-]/g, '?') }, 'login refused');
      throw new HttpError(401, 'invalid_credentials', 'the user name or the password is wrong');
    }
    const token = await signWriteToken(auth.signingKey, username, auth.tokenTtlSeconds);
    res.set('Cache-Control', 'no-store').json({ token, tokenType: 'Bearer', expiresIn: auth.tokenTtlSeconds });
  });
  return router;
}
