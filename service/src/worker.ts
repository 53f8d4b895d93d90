import { intFromEnv } from './config';
import { logger } from './logger';
import { startWorker } from './worker-app';

/**
 * The queue worker process (`node service/dist/worker.js`): on SIGTERM it takes no more jobs,
 * finishes the one in hand and exits 0, or exits 1 when SHUTDOWN_TIMEOUT_MS runs out first (keep
 * it below the pod's termination grace period).
 */
async function main(): Promise<void> {
  const shutdownTimeoutMs = intFromEnv(process.env, 'SHUTDOWN_TIMEOUT_MS', 100_000, 0, 3_600_000);
  const running = await startWorker();
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker stopping');
    const deadline = setTimeout(() => {
      logger.error('grace period over, exiting with a job in hand');
      process.exit(1);
    }, shutdownTimeoutMs);
    deadline.unref();
    await running.stop();
    logger.info('worker stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch(error => {
  logger.fatal({ err: error }, 'worker failed to start');
  process.exit(1);
});
