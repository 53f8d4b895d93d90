import { loadConfig } from './config';
import { logger } from './logger';
import { exitAfterStopOnSignals } from './shutdown';
import { logUnhandledRejections } from './unhandled';
import { startWorker } from './worker-app';

/**
 * The queue worker process (`node service/dist/worker.js`): on SIGTERM it takes no more jobs,
 * finishes the ones in hand and exits 0, or exits 1 when SHUTDOWN_TIMEOUT_MS runs out first (keep
 * it below the pod's termination grace period). Past its memory bound it stops the same way, so
 * Kubernetes restarts it with a fresh heap.
 */
async function main(): Promise<void> {
  logUnhandledRejections();
  const { shutdownTimeoutMs } = loadConfig(process.env).service;
  const running = await startWorker(process.env, undefined, () => process.kill(process.pid, 'SIGTERM'));
  exitAfterStopOnSignals(shutdownTimeoutMs, async signal => {
    logger.info({ signal }, 'worker stopping');
    await running.stop();
    logger.info('worker stopped');
  });
}

main().catch(error => {
  logger.fatal({ err: error }, 'worker failed to start');
  process.exit(1);
});
