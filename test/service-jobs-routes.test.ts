import express, { ErrorRequestHandler } from 'express';
import request from 'supertest';
import { errorHandler } from '../service/src/http/errors';
import { jobsRouter } from '../service/src/http/jobs-routes';
import { requestContext } from '../service/src/http/request-context';
import { JobProducer, JobRefused } from '../service/src/queue/producer';

const ADMIN = 'test-only-admin';

/** The jobs router on a fake producer, in-process: no Redis. `seen` gets every error the error handler is given. */
function appWith(producer: Partial<JobProducer> | undefined) {
  const seen: unknown[] = [];
  const spy: ErrorRequestHandler = (error, _req, _res, next) => { seen.push(error); next(error); };
  const app = express().use(requestContext(), express.json(), jobsRouter(producer as JobProducer | undefined, ADMIN), spy, errorHandler);
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
