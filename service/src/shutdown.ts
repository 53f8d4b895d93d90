import { logger } from './logger';

/**
 * On the first SIGTERM or SIGINT, runs `stop` and exits 0; exits 1 when `stop` takes longer than
 * `timeoutMs` (the work still in hand is then dropped), so the pod's grace period never ends in a
 * SIGKILL that nobody logged.
 */
export function exitAfterStopOnSignals(timeoutMs: number, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'grace period over, exiting with work in hand');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    await stop(signal);
    process.exit(0);
  };
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
  process.on('SIGINT', () => void onSignal('SIGINT'));
}
