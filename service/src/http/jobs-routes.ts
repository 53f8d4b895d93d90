import { Router } from 'express';
import { z } from 'zod';
import { AuthConfig } from '../auth/config';
import { IdempotencyKeyReusedError } from '../idempotency';
import { JobProducer, JobRefused } from '../queue/producer';
import { requireWriter } from './auth';
import { HttpError } from './errors';
import { idempotencyKeyOf } from './idempotency';

const enqueueBody = z.strictObject({
  queue: z.string().min(1).max(100),
  name: z.string().min(1).max(100),
  data: z.unknown().optional(),
});
const idParam = z.strictObject({ id: z.string().min(1).max(100) });

/**
 * `/api/v1/jobs` (a write token, or the admin token): `POST /` enqueues `{ queue, name, data }` and answers 202 with
 * the job's id (the same id again for a repeated Idempotency-Key, with no second job); `GET /:id`
 * answers its state, attempts and failed reason. Only the producer's queues are served; without
 * a producer (no WORKER_QUEUES or no Redis contract) every job is refused. The producer is the
 * caller's to close.
 */
export function jobsRouter(producer: JobProducer | undefined, auth: AuthConfig, adminToken: string | undefined): Router {
  const router = Router();
  router.use(requireWriter(auth, adminToken));

  router.post('/', async (req, res) => {
    const body = enqueueBody.parse(req.body ?? {});
    if (!producer) throw new HttpError(400, 'invalid_job', 'this API serves no queue: WORKER_QUEUES and a Redis contract are needed');
    const key = idempotencyKeyOf(req);
    const id = await unavailableOnFailure(() => producer.add(body.queue, body.name, body.data, key === undefined ? undefined : { key, subject: req.subject! }));
    res.status(202).location(`/api/v1/jobs/${id}`).json({ id, queue: body.queue, name: body.name });
  });

  router.get('/:id', async (req, res) => {
    const { id } = idParam.parse(req.params);
    const status = producer ? await unavailableOnFailure(() => producer.status(id)) : undefined;
    if (!status) throw new HttpError(404, 'not_found', `job ${id} does not exist in a served queue (or was removed after it finished)`);
    res.json(status);
  });

  return router;
}

/** A refused job is the client's error; any other failure is the queue's Redis not answering (the cause is logged with the 503). */
async function unavailableOnFailure<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof JobRefused) throw new HttpError(400, 'invalid_job', error.message, { cause: error });
    if (error instanceof IdempotencyKeyReusedError) throw error;
    throw new HttpError(503, 'unavailable', 'the job queue cannot answer now; retry', { cause: error });
  }
}
