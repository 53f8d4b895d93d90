import express, { ErrorRequestHandler } from 'express';
import request from 'supertest';
import { AuthConfig } from '../service/src/auth/config';
import { signWriteToken } from '../service/src/auth/tokens';
import { errorHandler } from '../service/src/http/errors';
import { jobsRouter } from '../service/src/http/jobs-routes';
import { requestContext } from '../service/src/http/request-context';
import { JobProducer, JobRefused } from '../service/src/queue/producer';

const ADMIN = 'test-only-admin';
const AUTH: AuthConfig = { signingKey: new TextEncoder().encode('s'.repeat(32)), users: new Map(), tokenTtlSeconds: 60 };

/** The jobs router on a fake producer, in-process: no Redis. `seen` gets every error the error handler is given. */
function appWith(producer: Partial<JobProducer> | undefined) {
  const seen: unknown[] = [];
  const spy: ErrorRequestHandler = (error, _req, _res, next) => { seen.push(error); next(error); };
  const app = express().use(requestContext(), express.json(), jobsRouter(producer as JobProducer | undefined, AUTH, ADMIN), spy, errorHandler);
  return { app, seen };
}

const job = { queue: 'q', name: 'items.create', data: { name: 'x' } };

test('the injected producer takes the job', async () => {
  const add = jest.fn(async () => 'job-1');
  const { app } = appWith({ add });
  const res = await request(app).post('/').set('Authorization', `Bearer ${ADMIN}`).send(job).expect(202);
  expect(res.body).toEqual({ id: 'job-1', queue: 'q', name: 'items.create' });
  expect(add).toHaveBeenCalledWith('q', 'items.create', { name: 'x' }, undefined);
});

test('a write token enqueues too, and its Idempotency-Key is passed on scoped to the token\'s subject', async () => {
  const add = jest.fn(async () => 'job-2');
  const { app } = appWith({ add });
  const token = await signWriteToken(AUTH.signingKey!, 'alice', 60);
  await request(app).post('/').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', 'k1').send(job).expect(202);
  expect(add).toHaveBeenCalledWith('q', 'items.create', { name: 'x' }, { key: 'k1', subject: 'alice' });
});

test('throws error, when a job is posted without a token or with a bad one: 401, nothing enqueued', async () => {
  const add = jest.fn(async () => 'never');
  const { app } = appWith({ add });
  const forged = await signWriteToken(new TextEncoder().encode('f'.repeat(32)), 'alice', 60);
  for (const header of [undefined, 'Bearer nonsense', `Bearer ${forged}`, 'Basic YWRtaW46YWRtaW4=']) {
    const req = request(app).post('/');
    const res = await (header ? req.set('Authorization', header) : req).send(job).expect(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: 'this request needs a bearer token that may write' } });
  }
  expect(add).not.toHaveBeenCalled();
});

test('throws error, when the queue\'s Redis fails: 503 whose body has none of the cause, which the logged error keeps', async () => {
  const cause = new Error('connect ECONNREFUSED 10.0.0.7:6379');
  const { app, seen } = appWith({ add: async () => { throw cause; } });
  const res = await request(app).post('/').set('Authorization', `Bearer ${ADMIN}`).send(job).expect(503);
  expect(res.body).toEqual({ error: { code: 'unavailable', message: 'the job queue cannot answer now; retry' } });
  expect(JSON.stringify(res.body)).not.toContain('10.0.0.7');
  expect((seen[0] as Error).cause).toBe(cause);
});

test('throws error, when the producer refuses the job: 400 with its reason', async () => {
  const { app } = appWith({ add: async () => { throw new JobRefused('job name "x" is unknown'); } });
  const res = await request(app).post('/').set('Authorization', `Bearer ${ADMIN}`).send(job).expect(400);
  expect(res.body).toEqual({ error: { code: 'invalid_job', message: 'job name "x" is unknown' } });
});

test('throws error, when no producer was injected: every job is refused', async () => {
  const { app } = appWith(undefined);
  const res = await request(app).post('/').set('Authorization', `Bearer ${ADMIN}`).send(job).expect(400);
  expect(res.body.error.message).toBe('this API serves no queue: WORKER_QUEUES and a Redis contract are needed');
});
