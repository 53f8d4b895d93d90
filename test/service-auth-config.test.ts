import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import bcrypt from 'bcryptjs';
import { authConfigFromEnv } from '../service/src/auth/config';
import { checkPassword, hashPassword } from '../service/src/auth/passwords';

const KEY = 'x'.repeat(32);
const dir = mkdtempSync(join(tmpdir(), 'hscale-auth-'));
// Cost 4: a test hash; the cost is in the hash, so checking it is quick.
const hash = bcrypt.hashSync('correct horse', 4);

test('without a key or users, no token is valid and no one logs in', () => {
  expect(authConfigFromEnv({})).toEqual({ signingKey: undefined, users: new Map(), tokenTtlSeconds: 3600 });
});

test('the key comes from AUTH_SIGNING_KEY or from the file AUTH_SIGNING_KEY_FILE names, without its trailing newline', () => {
  const file = join(dir, 'signing-key');
  writeFileSync(file, `${KEY}\n`);
  expect(authConfigFromEnv({ AUTH_SIGNING_KEY: KEY }).signingKey).toEqual(new TextEncoder().encode(KEY));
  expect(authConfigFromEnv({ AUTH_SIGNING_KEY_FILE: file }).signingKey).toEqual(new TextEncoder().encode(KEY));
});

test('users come from AUTH_USERS or the file AUTH_USERS_FILE names', () => {
  const file = join(dir, 'users.json');
  writeFileSync(file, JSON.stringify({ alice: hash }));
  expect(authConfigFromEnv({ AUTH_USERS: JSON.stringify({ alice: hash }) }).users).toEqual(new Map([['alice', hash]]));
  expect(authConfigFromEnv({ AUTH_USERS_FILE: file }).users).toEqual(new Map([['alice', hash]]));
});

test('throws error, when the key is shorter than 32 bytes, without quoting it', () => {
  expect(() => authConfigFromEnv({ AUTH_SIGNING_KEY: 'short-secret' })).toThrow('the signing key (AUTH_SIGNING_KEY or its file) must be at least 32 bytes; it is 12');
});

test('throws error, when both the key and its file are set, or the file is missing', () => {
  expect(() => authConfigFromEnv({ AUTH_SIGNING_KEY: KEY, AUTH_SIGNING_KEY_FILE: '/x' })).toThrow('set AUTH_SIGNING_KEY or AUTH_SIGNING_KEY_FILE, not both');
  expect(() => authConfigFromEnv({ AUTH_SIGNING_KEY_FILE: join(dir, 'missing') })).toThrow(`AUTH_SIGNING_KEY_FILE names a file that cannot be read: ${join(dir, 'missing')}`);
});

test('throws error, when a user\'s hash is not a bcrypt hash (a plain password, say)', () => {
  expect(() => authConfigFromEnv({ AUTH_USERS: JSON.stringify({ alice: 'hunter2' }) })).toThrow('AUTH_USERS: the hash of alice is not a bcrypt hash ($2b$12$...)');
  expect(() => authConfigFromEnv({ AUTH_USERS: '[1]' })).toThrow('AUTH_USERS must be a JSON object of user name to bcrypt hash');
});

test('a password checks against its hash; a wrong one, an unknown user and a password past 72 bytes do not', async () => {
  const users = new Map([['alice', hash]]);
  expect(await checkPassword(users, 'alice', 'correct horse')).toBe(true);
  expect(await checkPassword(users, 'alice', 'wrong')).toBe(false);
  expect(await checkPassword(users, 'bob', 'correct horse')).toBe(false);
  const long = bcrypt.hashSync('p'.repeat(72), 4);
  expect(await checkPassword(new Map([['carol', long]]), 'carol', `${'p'.repeat(72)}extra`)).toBe(false);
  await expect(hashPassword('p'.repeat(73))).rejects.toThrow('a password may be at most 72 bytes (bcrypt reads no more)');
  expect(await bcrypt.compare('pw', await hashPassword('pw'))).toBe(true);
}, 30_000);
