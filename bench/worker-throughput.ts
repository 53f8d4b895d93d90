/**
 * Jobs per second of one worker process, and the time a restarted worker takes to finish the
 * jobs a killed one held. Starts its own PostgreSQL and Redis on free loopback ports (as the
 * tests do), enqueues `JOBS` `items.create` jobs, then runs the built worker (`npm run build`
 * first) at concurrency 1 and 4. Figures depend on the machine and its load.
 */
import { join } from 'path';
import { createService } from '../service/src/app';
import { queueConnectionFromEnv } from '../service/src/queue/connection';
import { JobProducer } from '../service/src/queue/producer';
import { startReplicatedPostgres } from '../test/support/postgres';
import { freePort, ProcessGroup, waitFor } from '../test/support/processes';

const JOBS = Number(process.env.JOBS ?? 1000);
const ROOT = join(__dirname, '..');

async function main(): Promise<void> {
  const group = new ProcessGroup();
  try {
    const redisPort = await freePort();
    group.spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    const pg = await startReplicatedPostgres(group, 0);
    const env = { DATABASE_URL: pg.databaseUrl, REDIS_URL: `redis://127.0.0.1:${redisPort}` };
    const service = createService(env);
    await service.start();
    await service.close();
    for (const concurrency of [1, 4]) {
      const queue = `bench${concurrency}`;
      await enqueue(env, queue, JOBS);
      const started = Date.now();
      const worker = await startWorker(group, { ...env, WORKER_QUEUES: queue, WORKER_CONCURRENCY: String(concurrency), METRICS_PORT: '0' });
      await waitFor(`${JOBS} items`, async () => Number(await pg.primary.sql(`select count(*) from items where name like '${queue} %'`, 'app')) === JOBS, 600_000, 200);
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(`1 worker process, concurrency ${concurrency}: ${JOBS} items.create jobs in ${seconds.toFixed(1)} s = ${Math.round(JOBS / seconds)} jobs/s (worker start included)\n`);
      worker.kill('SIGTERM');
    }
  } finally {
    await group.cleanup();
  }
}

async function enqueue(env: Record<string, string>, queue: string, count: number): Promise<void> {
  const connection = queueConnectionFromEnv(env, 'producer')!;
  const producer = new JobProducer(connection, [queue]);
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => producer.add(queue, 'items.create', { name: `${queue} ${i + j}` })));
  }
  await producer.close();
  await connection.quit();
}

async function startWorker(group: ProcessGroup, env: Record<string, string>) {
  const { child, output } = group.spawn(process.execPath, ['service/dist/worker.js'], { cwd: ROOT, env: { PATH: process.env.PATH, ...env } });
  await waitFor('the worker to start', async () => output().includes('"msg":"worker started"'), 30_000, 50);
  return child;
}

main().catch(error => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
