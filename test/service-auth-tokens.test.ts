import { SignJWT, UnsecuredJWT } from 'jose';
import { InvalidTokenError, signWriteToken, TOKEN_AUDIENCE, TOKEN_ISSUER, verifyWriteToken } from '../service/src/auth/tokens';

const key = new TextEncoder().encode('k'.repeat(32));
const otherKey = new TextEncoder().encode('o'.repeat(32));

test('a token signed with the key verifies to its subject', async () => {
  const token = await signWriteToken(key, 'alice', 60);
  await expect(verifyWriteToken(key, token)).resolves.toBe('alice');
});

test.each([
  ['another key', async () => signWriteToken(otherKey, 'alice', 60)],
  ['an expired token', async () => new SignJWT({ scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE).setSubject('alice').setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(key)],
  ['another audience', async () => new SignJWT({ scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER)
    .setAudience('other').setSubject('alice').setExpirationTime('1m').sign(key)],
  ['no write scope', async () => new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE).setSubject('alice').setExpirationTime('1m').sign(key)],
  ['no expiry', async () => new SignJWT({ scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE).setSubject('alice').sign(key)],
  ['alg none', async () => new UnsecuredJWT({ scope: 'write' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setSubject('alice').setExpirationTime('1m').encode()],
  ['HS512', async () => new SignJWT({ scope: 'write' }).setProtectedHeader({ alg: 'HS512' }).setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE).setSubject('alice').setExpirationTime('1m').sign(new TextEncoder().encode('k'.repeat(64)))],
  ['garbage', async () => 'not.a.token'],
])('throws error, when the token has %s', async (_what, make) => {
  await expect(verifyWriteToken(key, await make())).rejects.toBeInstanceOf(InvalidTokenError);
});
