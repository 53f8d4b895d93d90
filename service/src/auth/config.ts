import { intFromEnv, readSecretFile, secretFromEnv } from '../env';

/** How writes are authenticated: the key that signs and verifies tokens, and the users who may log in. */
export interface AuthConfig {
  /** AUTH_SIGNING_KEY or the file AUTH_SIGNING_KEY_FILE names: the HS256 key; unset, no token is valid and every write answers 401. */
  readonly signingKey?: Uint8Array;
  /** AUTH_USERS (JSON) or the file AUTH_USERS_FILE names: user name to bcrypt hash; empty, login answers 401 for everyone. */
  readonly users: ReadonlyMap<string, string>;
  /** AUTH_TOKEN_TTL_SECONDS: how long a token from login lives (3600). */
  readonly tokenTtlSeconds: number;
}

/** The least length of a signing key: HS256 wants a key at least as long as its 256-bit hash (RFC 7518, 3.2). */
export const MIN_SIGNING_KEY_BYTES = 32;

/** The auth settings from env; throws naming the variable on a bad value (never quoting a secret). */
export function authConfigFromEnv(env: NodeJS.ProcessEnv): AuthConfig {
  return {
    signingKey: signingKeyFromEnv(env),
    users: usersFromEnv(env),
    tokenTtlSeconds: intFromEnv(env, 'AUTH_TOKEN_TTL_SECONDS', 3600, 60, 7 * 86_400),
  };
}

/** The signing key of AUTH_SIGNING_KEY or AUTH_SIGNING_KEY_FILE (a mounted Secret; one trailing newline is dropped). */
export function signingKeyFromEnv(env: NodeJS.ProcessEnv): Uint8Array | undefined {
  const raw = secretFromEnv(env, 'AUTH_SIGNING_KEY');
  if (!raw) return undefined;
  const key = new TextEncoder().encode(raw);
  if (key.length < MIN_SIGNING_KEY_BYTES) throw new Error(`the signing key (AUTH_SIGNING_KEY or its file) must be at least ${MIN_SIGNING_KEY_BYTES} bytes; it is ${key.length}`);
  return key;
}

function usersFromEnv(env: NodeJS.ProcessEnv): Map<string, string> {
  if (env.AUTH_USERS && env.AUTH_USERS_FILE) throw new Error('set AUTH_USERS or AUTH_USERS_FILE, not both');
  const name = env.AUTH_USERS_FILE ? 'AUTH_USERS_FILE' : 'AUTH_USERS';
  const raw = env.AUTH_USERS_FILE ? readSecretFile(env.AUTH_USERS_FILE, name) : env.AUTH_USERS;
  if (!raw) return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new Error(`${name} must be a JSON object of user name to bcrypt hash`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${name} must be a JSON object of user name to bcrypt hash`);
  const users = new Map<string, string>();
  for (const [user, hash] of Object.entries(parsed)) {
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user)) throw new Error(`${name}: user name ${JSON.stringify(user.slice(0, 64))} must be 1-64 letters, digits or '._@-'`);
    if (typeof hash !== 'string' || !/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(hash)) throw new Error(`${name}: the hash of ${user} is not a bcrypt hash ($2b$12$...)`);
    users.set(user, hash);
  }
  return users;
}
