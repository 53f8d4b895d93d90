/**
 * The fair baselines of the request-cost scenario: bare Express handlers doing the one thing a
 * service path must do, with the same clients, and nothing else (no middleware, no metrics, no
 * validation). BARE_MODE picks one, on PORT:
 * - `cache`: GET /api/v1/items/:id answers the value the service stored for the item in the Redis
 *   Cluster (one node-redis GET of the key the service reads, sent as stored: the service checks
 *   the version and expiry stored before the value, and sends the value alone);
 * - `replica` / `primary`: GET /api/v1/items/:id runs the service's item query with postgres.js on
 *   BARE_PG_URL (the replica or the primary);
 * - `write`: POST /api/v1/items inserts as the service does (a transaction, then the commit LSN).
 */
import express from 'express';
import postgres from 'postgres';
import { createCluster } from 'redis';

const COLUMNS = 'id, name, payload, version, created_at, updated_at, created_at::text as created_key';
const mode = process.env.BARE_MODE;
const app = express();
app.disable('x-powered-by');

if (mode === 'cache') {
  const cluster = createCluster({
    rootNodes: (process.env.REDIS_CLUSTER_NODES ?? '').split(',').map(node => ({ url: `redis://${node}` })),
    defaults: { password: process.env.REDIS_PASSWORD }, minimizeConnections: true,
  });
  void cluster.connect();
  app.get('/api/v1/items/:id', (req, res, next) => {
    // The key the service's cache stores an item's value in (after its version and token).
    cluster.get(`item:{${req.params.id}}|version`).then(raw => {
      if (raw === null) res.status(404).end();
      else res.type('application/json').send(raw);
    }, next);
  });
} else if (mode === 'replica' || mode === 'primary') {
  const sql = postgres(process.env.BARE_PG_URL!, { max: 10, fetch_types: false, onnotice: () => undefined });
  app.get('/api/v1/items/:id', (req, res, next) => {
    sql.unsafe(`select ${COLUMNS} from items where id = $1`, [req.params.id], { prepare: true }).then(rows => {
      if (rows.length === 0) res.status(404).end();
      else res.json(rows[0]);
    }, next);
  });
} else if (mode === 'write') {
  const sql = postgres(process.env.BARE_PG_URL!, { max: 10, fetch_types: false, onnotice: () => undefined });
  app.post('/api/v1/items', express.json(), (req, res, next) => {
    const body = req.body as { name: string; payload: unknown };
    sql.begin(tx => tx`insert into items (name, payload) values (${body.name}, ${tx.json(body.payload as never)}) returning ${tx.unsafe(COLUMNS)}`)
      .then(async rows => {
        const [{ lsn }] = await sql<Array<{ lsn: string }>>`select pg_current_wal_lsn()::text as lsn`;
        res.status(201).set('X-Consistency-Token', lsn).json(rows[0]);
      }, next);
  });
} else {
  throw new Error(`BARE_MODE must be cache, replica, primary or write, not ${JSON.stringify(mode)}`);
}
app.get('/ready', (_req, res) => { res.send('ok'); });
app.listen(Number(process.env.PORT ?? 8000)).keepAliveTimeout = 65_000;
// Exit cleanly on SIGTERM, so a `--cpu-prof` profile is written.
process.on('SIGTERM', () => process.exit(0));
