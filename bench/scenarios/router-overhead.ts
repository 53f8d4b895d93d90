import postgres, { Sql } from 'postgres';
import { DEFAULT_DATABASE_CONFIG } from '../../service/src/db/config';
import { QueryRouter } from '../../service/src/db/router';
import { BenchContext, Scenario } from '../support/context';
import { median, percentile } from '../support/stats';

// Many short slices: the load of the other processes on a shared machine changes within seconds.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3) * 4;
const SECONDS = 0.5;
const CONCURRENCY = 16;
const POOL_MAX = DEFAULT_DATABASE_CONFIG.replicaPoolMax;

/** The repository's item read (service/src/db/items.ts), as a prepared statement. */
const readItem = (sql: Sql, id: string) =>
  sql`select id, name, payload, version, created_at, updated_at, created_at::text as created_key from items where id = ${id}`;

/** Runs `read` from CONCURRENCY loops for SECONDS; queries per second and per-query latencies. */
async function drive(read: (id: string) => Promise<unknown>, ids: string[]): Promise<{ qps: number; cpuMicros: number; latencies: number[] }> {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
    for (let i = worker; performance.now() < deadline && i < 10_000_000; i += CONCURRENCY) {
      const sent = performance.now();
      await read(ids[i % ids.length]);
      latencies.push(performance.now() - sent);
    }
  }));
  const used = process.cpuUsage(cpu);
  return { qps: latencies.length / ((performance.now() - started) / 1000), cpuMicros: (used.user + used.system) / latencies.length, latencies };
}

/** The same read through QueryRouter and through a bare postgres.js pool on the same replica, in one process. */
export const routerOverhead: Scenario = {
  id: 'router-overhead',
  title: '3 query router overhead',
  async run(context: BenchContext) {
    const stack = await context.stack();
    const replica = stack.pg.replicas[0];
    const router = new QueryRouter({ ...DEFAULT_DATABASE_CONFIG, primaryUrl: stack.pg.databaseUrl, replicas: [`127.0.0.1:${replica.port}`] });
    const bare = postgres(stack.pg.databaseUrl, {
      host: '127.0.0.1', port: replica.port, max: POOL_MAX, onnotice: () => undefined,
      connection: { statement_timeout: DEFAULT_DATABASE_CONFIG.statementTimeoutMs },
    });
    try {
      await router.start();
      const ids = stack.items.slice(0, 1000);
      const viaRouter = (id: string) => router.read(sql => readItem(sql, id));
      const viaBare = (id: string) => readItem(bare, id);
      await drive(viaRouter, ids);
      await drive(viaBare, ids);
      const ratios: number[] = [];
      const routerQps: number[] = [];
      const bareQps: number[] = [];
      const routerP50: number[] = [];
      const bareP50: number[] = [];
      const cpuRatios: number[] = [];
      const routerCpu: number[] = [];
      const bareCpu: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first, so a drift in machine load does not favour one side.
        const routerFirst = round % 2 === 0;
        const first = await drive(routerFirst ? viaRouter : viaBare, ids);
        const second = await drive(routerFirst ? viaBare : viaRouter, ids);
        const [r, b] = routerFirst ? [first, second] : [second, first];
        ratios.push(r.qps / b.qps);
        routerQps.push(r.qps);
        bareQps.push(b.qps);
        routerP50.push(percentile(r.latencies, 50));
        bareP50.push(percentile(b.latencies, 50));
        cpuRatios.push(r.cpuMicros / b.cpuMicros);
        routerCpu.push(r.cpuMicros);
        bareCpu.push(b.cpuMicros);
      }
      return {
        figures: [
          { name: 'router / bare client queries/s', value: median(ratios), unit: 'x', runs: ratios, goal: { op: '>=', target: 0.95 } },
          { name: 'through QueryRouter.read', value: median(routerQps), unit: 'q/s', runs: routerQps },
          { name: 'bare postgres.js client', value: median(bareQps), unit: 'q/s', runs: bareQps },
          { name: 'router / bare client CPU per query (this process)', value: median(cpuRatios), unit: 'x', runs: cpuRatios, note: 'less sensitive to the other processes than throughput' },
          { name: 'CPU per query through QueryRouter.read', value: median(routerCpu), unit: 'us' },
          { name: 'CPU per query, bare client', value: median(bareCpu), unit: 'us' },
          { name: 'QueryRouter.read p50', value: median(routerP50), unit: 'ms', runs: routerP50 },
          { name: 'bare client p50', value: median(bareP50), unit: 'ms', runs: bareP50 },
        ],
        method: [
          `The repository's item read by primary key, prepared, from ${CONCURRENCY} concurrent loops for ${SECONDS} s, ${ROUNDS} rounds alternating which side goes first, in this process; CPU per query from process.cpuUsage().`,
          `Router: service/src/db/router.ts QueryRouter with the default settings and the replica (reads go there); bare: postgres.js with the same pool size (${POOL_MAX}) and statement_timeout on the same replica.`,
        ],
      };
    } finally {
      await Promise.all([router.close(1), bare.end({ timeout: 1 })]);
    }
  },
};
