import { workerSettingsFromEnv } from '../service/src/queue/settings';

test('a queue may run at a concurrency of its own (WORKER_QUEUE_CONCURRENCY), the others at WORKER_CONCURRENCY', () => {
  const settings = workerSettingsFromEnv({ WORKER_QUEUES: 'emails,invoices', WORKER_CONCURRENCY: '8', WORKER_QUEUE_CONCURRENCY: 'invoices=2' });
  expect([settings.concurrency, settings.queueConcurrency]).toEqual([8, { invoices: 2 }]);
  expect(workerSettingsFromEnv({ WORKER_QUEUES: 'emails' }).queueConcurrency).toEqual({});
});

test('throws error, when WORKER_QUEUE_CONCURRENCY holds a malformed entry', () => {
  expect(() => workerSettingsFromEnv({ WORKER_QUEUES: 'emails', WORKER_QUEUE_CONCURRENCY: 'emails:2' }))
    .toThrow('WORKER_QUEUE_CONCURRENCY names "emails:2": each entry is <queue>=<jobs at once>, e.g. \'emails=8\'');
});
