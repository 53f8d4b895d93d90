import express from 'express';
import request from 'supertest';
import { errorHandler } from '../service/src/http/errors';
import { jsonDepthExceeds, limitJsonDepth } from '../service/src/http/json-depth';
import { requestContext } from '../service/src/http/request-context';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

test('depth counts arrays and objects, not scalars', () => {
  expect(jsonDepthExceeds(1, 0)).toBe(false);
  expect(jsonDepthExceeds({ a: [1, { b: 2 }] }, 3)).toBe(false);
  expect(jsonDepthExceeds({ a: [1, { b: 2 }] }, 2)).toBe(true);
  expect(jsonDepthExceeds(JSON.parse(nested(100_000)), 32)).toBe(true);
});

test('throws error, when a body nests 100 000 deep: 400 too_deep, no stack overflow, the route never runs', async () => {
  // GIVEN the limit in front of a route that would walk the body recursively
  const walk = (v: unknown): number => (Array.isArray(v) ? 1 + Math.max(0, ...v.map(walk)) : 0);
  const route = jest.fn((req: express.Request, res: express.Response) => { res.json({ depth: walk(req.body) }); });
  const app = express().use(requestContext(), express.json({ limit: '1mb' }), limitJsonDepth(32)).post('/', route).use(errorHandler);

  // WHEN / THEN
  const res = await request(app).post('/').set('Content-Type', 'application/json').send(nested(100_000)).expect(400);
  expect(res.body).toEqual({ error: { code: 'too_deep', message: 'the request body nests arrays and objects deeper than 32 levels' } });
  expect(route).not.toHaveBeenCalled();
  await request(app).post('/').set('Content-Type', 'application/json').send(nested(32)).expect(200, { depth: 32 });
});
