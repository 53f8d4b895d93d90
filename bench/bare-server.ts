/**
 * The ceiling of the read-path benchmark: an Express app with one handler returning constant
 * JSON, no middleware, on PORT. What a request through nginx costs when the handler does no work.
 */
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/bare', (_req, res) => {
  res.json({ status: 'ok', source: 'constant' });
});
app.listen(Number(process.env.PORT ?? 8000)).keepAliveTimeout = 65_000;
// Exit cleanly on SIGTERM, so a `--cpu-prof` profile is written.
process.on('SIGTERM', () => process.exit(0));
