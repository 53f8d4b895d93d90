import { logger } from './logger';

/**
 * Logs each promise rejection nothing handled, with a running count, instead of letting Node end
 * the process: one lost background promise (a driver's internal query on a dying server) must not
 * take every in-flight request down with it. Each one logged is a bug to fix at its source.
 */
export function logUnhandledRejections(): void {
  let count = 0;
  process.on('unhandledRejection', reason => {
    count++;
    logger.error({ err: reason, unhandledRejections: count }, 'unhandled promise rejection');
  });
}
