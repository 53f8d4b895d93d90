import bcrypt from 'bcryptjs';

/**
 * bcrypt's cost for new hashes: 2^10 rounds, OWASP's floor. bcryptjs is pure JavaScript (no native
 * build, no install script) and takes about 0.1-0.7 s for one comparison at this cost on one core;
 * nginx rate-limits the login path, so the cost is paid a few times a minute per client at most.
 */
export const BCRYPT_COST = 10;

/** bcrypt reads at most 72 bytes of a password; longer ones are refused rather than silently cut. */
export const MAX_PASSWORD_BYTES = 72;

/** A hash made with the same cost, compared against when the user is unknown, so the answer takes as long either way. */
const UNKNOWN_USER_HASH = '$2b$10$q8SckgO96./6JFIHvXuF3.8kj5yWMAQxKwKrvW4d3i9J4nnbagYsm';

/** A bcrypt hash of `password` for the users file. */
export async function hashPassword(password: string): Promise<string> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw new Error(`a password may be at most ${MAX_PASSWORD_BYTES} bytes (bcrypt reads no more)`);
  return bcrypt.hash(password, BCRYPT_COST);
}

/** True when `password` is the user's; an unknown user costs one comparison too, so timing does not tell users apart. */
export async function checkPassword(users: ReadonlyMap<string, string>, username: string, password: string): Promise<boolean> {
  const hash = users.get(username);
  const matches = await bcrypt.compare(password, hash ?? UNKNOWN_USER_HASH);
  return hash !== undefined && matches && Buffer.byteLength(password) <= MAX_PASSWORD_BYTES;
}
