import postgres from 'postgres';
import { migrate, MIGRATIONS } from '../service/src/db/migrations';
import { ReplicatedPostgres, startReplicatedPostgres, TEST_APP } from './support/postgres';
import { ProcessGroup } from './support/processes';

const group = new ProcessGroup();
let pg: ReplicatedPostgres;
const clients: postgres.Sql[] = [];

/** A client that gives up on an unanswered connection after 300 ms, as a loaded node might. */
function client(url = pg.databaseUrl): postgres.Sql {
  const sql = postgres(url, { max: 1, connect_timeout: 0.3, onnotice: () => undefined });
  clients.push(sql);
  return sql;
}

beforeAll(async () => {
  pg = await startReplicatedPostgres(group, 0);
}, 120_000);

afterAll(async () => {
  pg?.primary.freeze(false);
  await Promise.all(clients.map(sql => sql.end({ timeout: 1 })));
  await group.cleanup();
}, 60_000);

test('migrations wait for a primary that answers only after the instance started, then apply once', async () => {
  // GIVEN a primary that does not answer yet
  pg.primary.freeze(true);
  const thaw = setTimeout(() => pg.primary.freeze(false), 1_500);
  try {
    // WHEN an instance starts
    const applied = await migrate(client(), 30_000);

    // THEN it applied every migration once the primary answered, and a second start applies none
    expect(applied).toEqual(MIGRATIONS.map(m => m.version));
    expect(await migrate(client(), 30_000)).toEqual([]);
  } finally {
    clearTimeout(thaw);
    pg.primary.freeze(false);
  }
}, 60_000);

test('throws error, when the primary stays unreachable past the retry window', async () => {
  pg.primary.freeze(true);
  try {
    const started = Date.now();
    await expect(migrate(client(), 1_000)).rejects.toMatchObject({ code: 'CONNECT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(10_000);
  } finally {
    pg.primary.freeze(false);
  }
}, 30_000);

test('throws error at once, when the failure is not a connection error (a wrong password is not retried)', async () => {
  const wrongPassword = pg.databaseUrl.replace(`:${TEST_APP.APP_PASSWORD}@`, ':not-the-password@');
  const started = Date.now();
  await expect(migrate(client(wrongPassword), 30_000)).rejects.toMatchObject({ code: '28P01' });
  expect(Date.now() - started).toBeLessThan(5_000);
}, 30_000);
