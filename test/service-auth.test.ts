import bcrypt from 'bcryptjs';
import express from 'express';
import { SignJWT } from 'jose';
import request from 'supertest';
import { AuthConfig } from '../service/src/auth/config';
import { signWriteToken, TOKEN_AUDIENCE, TOKEN_ISSUER, verifyWriteToken } from '../service/src/auth/tokens';
import { ReadThroughCache } from '../service/src/cache/cache';
import { ItemRepository } from '../service/src/db/items';
import { authRouter } from '../service/src/http/auth';
import { errorHandler } from '../service/src/http/errors';
import { itemRoutes } from '../service/src/http/items-routes';
import { requestContext } from '../service/src/http/request-context';
import { token as cliToken } from '../service/src/token';

const KEY = 'test-only-signing-key-0123456789abcdef';
const AUTH: AuthConfig = {
  signingKey: new TextEncoder().encode(KEY),
  // Cost 4: a test hash; the cost is in the hash, so checking it is quick.
  users: new Map([['alice', bcrypt.hashSync('correct horse', 4)]]),
  tokenTtlSeconds: 600,
};
const ID = '00000000-0000-4000-8000-000000000001';
const item = { id: ID, name: 'x', payload: {}, version: 1, createdAt: '', updatedAt: '' };

/** The items routes and the auth router in-process on a fake repository: the checks run before any database would. */
function app() {
  const items = {
    create: jest.fn(async () => ({ item, token: '0/1' })),
    update: jest.fn(async () => ({ item, token: '0/1' })),
    delete: jest.fn(async () => ({ token: '0/1' })),
    get: jest.fn(async () => item),
    list: jest.fn(async () => ({ items: [item], nextCursor: null })),
  };
  const server = express().use(requestContext(), express.json()).use('/api/v1/auth', authRouter(AUTH));
  itemRoutes(server.router, '/api/v1/items', items as unknown as ItemRepository, new ReadThroughCache(undefined, 60), AUTH);
  server.use(errorHandler);
  return { server, items };
}

const UNAUTHORIZED = { error: { code: 'unauthorized', message: 'this request needs a bearer token that may write' } };

test.each([
  ['POST', '/api/v1/items', { name: 'x' }],
  ['PUT', `/api/v1/items/${ID}`, { name: 'x', version: 1 }],
  ['PATCH', `/api/v1/items/${ID}`, { name: 'x' }],
  ['DELETE', `/api/v1/items/${ID}`, undefined],
])('throws error, when %s %s comes without a token: 401 that says nothing more, and nothing is written', async (method, path, body) => {
  const { server, items } = app();
  const res = await request(server)[method.toLowerCase() as 'post'](path).send(body).expect(401);
  expect(res.body).toEqual(UNAUTHORIZED);
  expect(res.get('WWW-Authenticate')).toBe('Bearer realm="hscale"');
  expect([items.create, items.update, items.delete].map(f => f.mock.calls.length)).toEqual([0, 0, 0]);
});

test('throws error, when the token is forged, expired-looking or garbage: the same 401', async () => {
  const { server } = app();
  const forged = await signWriteToken(new TextEncoder().encode('another-key-that-is-long-enough-0000'), 'alice', 60);
  for (const header of [`Bearer ${forged}`, 'Bearer a.b.c', `Bearer ${'x'.repeat(5000)}`, `Token ${forged}`]) {
    expect((await request(server).post('/api/v1/items').set('Authorization', header).send({ name: 'x' }).expect(401)).body).toEqual(UNAUTHORIZED);
  }
});

test.each([
  ['expired', () => new SignJWT({ scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE)
    .setSubject('alice').setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(AUTH.signingKey!)],
  ['for another audience', () => new SignJWT({ scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TOKEN_ISSUER).setAudience('another-api')
    .setSubject('alice').setExpirationTime('1m').sign(AUTH.signingKey!)],
  ['from another issuer', () => new SignJWT({ scope: 'write' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('someone-else').setAudience(TOKEN_AUDIENCE)
    .setSubject('alice').setExpirationTime('1m').sign(AUTH.signingKey!)],
])('throws error, when the token is signed with the right key but %s: the same 401, nothing written', async (_what, make) => {
  const { server, items } = app();
  const res = await request(server).post('/api/v1/items').set('Authorization', `Bearer ${await make()}`).send({ name: 'x' }).expect(401);
  expect(res.body).toEqual(UNAUTHORIZED);
  expect(items.create).not.toHaveBeenCalled();
});

test('reads stay public: no token needed to get or list items (the design: the API serves public data, only writes need an identity)', async () => {
  const { server, items } = app();
  expect((await request(server).get('/api/v1/items').expect(200)).body.items).toEqual([item]);
  expect((await request(server).get(`/api/v1/items/${ID}`).expect(200)).body).toEqual(item);
  expect(items.list).toHaveBeenCalledTimes(1);
});

test('a user logs in with a bcrypt-checked password and writes with the token it gets', async () => {
  // GIVEN
  const { server, items } = app();
  const login = await request(server).post('/api/v1/auth/login').send({ username: 'alice', password: 'correct horse' }).expect(200);
  expect(login.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 600 });
  expect(login.get('Cache-Control')).toBe('no-store');
  expect(await verifyWriteToken(AUTH.signingKey!, login.body.token)).toBe('alice');

  // WHEN / THEN
  await request(server).post('/api/v1/items').set('Authorization', `Bearer ${login.body.token}`).send({ name: 'x' }).expect(201);
  expect(items.create).toHaveBeenCalledTimes(1);
});

test('throws error, when the password is wrong or the user unknown: one 401 for both', async () => {
  const { server } = app();
  const wrong = await request(server).post('/api/v1/auth/login').send({ username: 'alice', password: 'nope' }).expect(401);
  const unknown = await request(server).post('/api/v1/auth/login').send({ username: 'mallory', password: 'correct horse' }).expect(401);
  expect(wrong.body).toEqual({ error: { code: 'invalid_credentials', message: 'the user name or the password is wrong' } });
  expect(unknown.body).toEqual(wrong.body);
});

test('npm run token prints a write token the API takes, signed with the environment\'s key', async () => {
  const { server } = app();
  const token = await cliToken(['--subject', 'ops', '--ttl', '120'], { AUTH_SIGNING_KEY: KEY });
  expect(await verifyWriteToken(AUTH.signingKey!, token)).toBe('ops');
  await request(server).post('/api/v1/items').set('Authorization', `Bearer ${token}`).send({ name: 'x' }).expect(201);
  await expect(cliToken([], {})).rejects.toThrow('set AUTH_SIGNING_KEY or AUTH_SIGNING_KEY_FILE to the key the API verifies with');
  await expect(cliToken(['--ttl', '1'], { AUTH_SIGNING_KEY: KEY })).rejects.toThrow('--ttl must be whole seconds from 60 to 2592000');
});
