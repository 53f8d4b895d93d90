import { createServer } from 'http';
import { createService } from './app';
import { logger } from './logger';
import { exitAfterStopOnSignals } from './shutdown';
import { logUnhandledRejections } from './unhandled';

/**
 * Listens on PORT and shuts down gracefully on SIGTERM: readiness fails at once, the listener
 * stops accepting, in-flight requests finish, then the pools close and the process exits 0
 * (or 1 when the grace period runs out first).
 */
async function main(): Promise<void> {
  logUnhandledRejections();
  const service = createService();
  const server = createServer(service.app);
  server.keepAliveTimeout = 65_000;
  // Requests taken in, logged at exit so a drain can be checked against what the clients got.
  let accepted = 0;
  server.on('request', () => { accepted++; });
  await new Promise<void>(resolve => server.listen(service.config.port, resolve));
  logger.info({ port: service.config.port }, 'listening');
  await service.start();
  logger.info('migrated; replicas checked; ready');

  exitAfterStopOnSignals(service.config.shutdownTimeoutMs, async signal => {
    logger.info({ signal }, 'shutting down');
    service.beginShutdown();
    // Load balancers that poll readiness stop sending during the delay; closing at once would reset their last connections.
    await new Promise(resolve => setTimeout(resolve, service.config.shutdownDelayMs));
    // close() stops accepting and resolves when in-flight requests are done; idle keep-alive sockets are closed now.
    const closed = new Promise<void>(resolve => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
    await service.close();
    logger.info({ accepted }, 'stopped');
  });
}

main().catch(error => {
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
});
