import { errors, jwtVerify, SignJWT } from 'jose';

/** Who issues the tokens and who they are for: a token of another service signed with the same key is refused. */
export const TOKEN_ISSUER = 'hscale';
export const TOKEN_AUDIENCE = 'hscale-api';
/** The scope a token needs to write items and enqueue jobs. */
export const WRITE_SCOPE = 'write';

/** A write token (HS256 JWT) for `subject`, living `ttlSeconds`. */
export async function signWriteToken(key: Uint8Array, subject: string, ttlSeconds: number): Promise<string> {
  return new SignJWT({ scope: WRITE_SCOPE })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}

/** The token was not issued by this key, is expired, is for someone else or cannot write. */
export class InvalidTokenError extends Error {}

/**
 * The subject of a valid write token; throws {@link InvalidTokenError} otherwise (the reason, with
 * jose's error as cause, is for the log). Only HS256 is accepted: `none` and the other algorithms
 * are refused before any signature check.
 */
export async function verifyWriteToken(key: Uint8Array, token: string): Promise<string> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, requiredClaims: ['sub', 'exp'] });
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(WRITE_SCOPE)) throw new InvalidTokenError('the token has no write scope');
    return payload.sub!;
  } catch (error) {
    if (error instanceof InvalidTokenError) throw error;
    if (error instanceof errors.JOSEError) throw new InvalidTokenError(`the token is not valid: ${error.code}`, { cause: error });
    throw new InvalidTokenError('the token is not valid', { cause: error });
  }
}
