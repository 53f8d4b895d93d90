import { loadConfig } from './config';
import { logger } from './logger';
import { closeQuietly, createQueueConnection } from './queue/connection';
import { JobProducer, JobRefused } from './queue/producer';

/**
 * `node service/dist/enqueue.js <queue> <name> <json>` (`npm run enqueue -- ...`): adds one job
 * and prints its id; what a WorkerPool schedule's CronJob runs. Exit 0 once the job is in Redis,
 * 2 for a refused job (usage, unknown name, bad data), 1 when Redis does not take it. With
 * `ENQUEUE_RUN_ID` (the CronJob's Job name, which holds its scheduled time) the job id derives
 * from it, so a retried pod of the same scheduled run adds no second job while the first is kept
 * (a day once completed).
 */
export async function enqueue(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const [queue, name, json = '{}'] = args;
  if (!queue || !name || args.length > 3) throw new JobRefused('usage: enqueue <queue> <name> [<json data>]');
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (error) {
    throw new JobRefused('the job data is not JSON', { cause: error });
  }
  const connection = createQueueConnection(loadConfig(env).queueRedis, 'producer');
  if (!connection) throw new Error('set QUEUE_REDIS_* or REDIS_* (CLUSTER_NODES, SENTINELS or URL) to reach the queue');
  const producer = new JobProducer(connection, [queue]);
  try {
    const runId = env.ENQUEUE_RUN_ID;
    return await producer.add(queue, name, data, runId ? { key: runId, subject: 'schedule' } : undefined);
  } finally {
    await producer.close();
    closeQuietly(connection);
  }
}

if (require.main === module) {
  enqueue(process.argv.slice(2), process.env).then(id => {
    process.stdout.write(`${id}\n`);
  }, error => {
    logger.error({ err: error }, 'job not enqueued');
    process.exitCode = error instanceof JobRefused ? 2 : 1;
  });
}
