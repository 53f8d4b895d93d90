// Budgets that must hold at the autoscalers' maxima, as pure functions of numbers: the constructs
// run them at synth time, and `hscale/testing` exports them for the numbers of users' charts.

/** The connections one client workload may hold to one PostgreSQL server, at its autoscaler's maximum. */
export interface ConnectionPoolDemand {
  /** What holds them: a construct path, or `exporter`. */
  readonly client: string;
  /** Pods at the autoscaler's maximum. */
  readonly pods: number;
  /** Connections each pod's pool may open to this server. */
  readonly perPod: number;
}

/** One PostgreSQL server's connection limit and every pool that can reach it. */
export interface ConnectionBudget {
  /** The server, as the message names it (`the primary`, `each replica`). */
  readonly server: string;
  readonly maxConnections: number;
  /** `superuser_reserved_connections` (and any other reserve), which clients cannot use. */
  readonly reserved: number;
  readonly pools: ConnectionPoolDemand[];
}

/**
 * Why the pools exceed the server's connections, with the arithmetic; undefined when they fit.
 * Each pool counts at its bound: postgres.js opens connections on demand up to `max`, so under a
 * peak every pod of every pool can hold all of them.
 */
export function connectionBudgetViolation(budget: ConnectionBudget): string | undefined {
  const total = budget.pools.reduce((sum, p) => sum + p.pods * p.perPod, 0);
  const available = budget.maxConnections - budget.reserved;
  if (total <= available) return undefined;
  const terms = budget.pools.map(p => `${p.client} ${p.pods} × ${p.perPod}`).join(' + ');
  return `${budget.server} can be asked for ${terms} = ${total} connections at the autoscalers' maxima, more than ` +
    `max_connections (${budget.maxConnections}) - superuser_reserved_connections (${budget.reserved}) = ${available}: ` +
    'lower the pools or the maxima, raise \'maxConnections\' (with the memory it needs), or put PgBouncer between ' +
    '(engine \'cloudnative-pg\' with \'pooler\')';
}

/** A client workload's pools to a PostgreSQL set at its autoscaler's maximum: connections per pod to the primary and to each replica. */
export interface ClientPools {
  /** What holds them: a construct path, or a pooler. */
  readonly client: string;
  /** Pods at the autoscaler's maximum. */
  readonly pods: number;
  /** Connections each pod's pool may open to the primary (`PG_POOL_MAX`). */
  readonly primaryPerPod: number;
  /** Connections each pod's pool may open to each replica (`PG_REPLICA_POOL_MAX`). */
  readonly replicaPerPod: number;
}

/**
 * What the clients ask of the server that leads: each client's primary pool and, when the leader is
 * also one of the clients' read targets (every Patroni member is, and a promoted statefulset
 * replica), one connection per pod: the replica check that found it leading. The reference service
 * closes its replica pool to a server it finds out of recovery all but for that check's connection
 * (service/src/db/router.ts). Not counted: for up to one check interval after a promotion, the pool
 * it held as a replica is still open beside the primary pool (docs/postgres-failover.md says what that costs).
 */
export function leaderDemands(clients: ClientPools[], leaderIsReadTarget: boolean): ConnectionPoolDemand[] {
  return clients.flatMap(c => [
    { client: c.client, pods: c.pods, perPod: c.primaryPerPod },
    ...(leaderIsReadTarget && c.replicaPerPod > 0 ? [{ client: `${c.client} replica check`, pods: c.pods, perPod: 1 }] : []),
  ]);
}

/** What the clients ask of each server that does not lead: each client's replica pool. */
export function replicaDemands(clients: ClientPools[]): ConnectionPoolDemand[] {
  return clients.map(c => ({ client: c.client, pods: c.pods, perPod: c.replicaPerPod }));
}

/** What a PostgreSQL server may use at its connection limit, against its container's memory limit. */
export interface PostgresMemoryBudget {
  readonly sharedBuffersBytes: number;
  /** A memory-backed `/dev/shm` (parallel queries' shared memory), which the pod's memory limit counts. @default 0 */
  readonly sharedMemoryBytes?: number;
  readonly maxConnections: number;
  /** `work_mem`: each backend may use it (at least once) for a sort or a hash. */
  readonly workMemBytes: number;
  readonly memoryLimitBytes: number;
  /** A process beside PostgreSQL in its container (Patroni's Python), which the container's limit counts. @default - none */
  readonly agent?: { readonly name: string; readonly bytes: number };
}

/** Why `shared_buffers + /dev/shm + the agent + max_connections × work_mem` exceeds the memory limit, with the arithmetic; undefined when it fits. */
export function postgresMemoryViolation(budget: PostgresMemoryBudget): string | undefined {
  const shm = budget.sharedMemoryBytes ?? 0;
  const agent = budget.agent;
  const total = budget.sharedBuffersBytes + shm + (agent?.bytes ?? 0) + budget.maxConnections * budget.workMemBytes;
  if (total <= budget.memoryLimitBytes) return undefined;
  return `shared_buffers (${mib(budget.sharedBuffersBytes)}) + ${shm > 0 ? `/dev/shm (${mib(shm)}) + ` : ''}` +
    `${agent ? `${agent.name} (${mib(agent.bytes)}) + ` : ''}max_connections (${budget.maxConnections}) × work_mem ` +
    `(${mib(budget.workMemBytes)}) = ${mib(total)} is more than the memory limit (${mib(budget.memoryLimitBytes)}): ` +
    'at peak the kernel kills PostgreSQL; lower \'maxConnections\' or \'workMem\', or raise \'resources.memoryLimit\'';
}

/** A Redis server's dataset bound against its container's memory limit, and what makes it fork. */
export interface RedisMemoryBudget {
  readonly maxmemoryBytes: number;
  readonly memoryLimitBytes: number;
  /** Why the server forks, e.g. `AOF rewrite`, `RDB save points`, `full sync to replicas`; empty when it never does. */
  readonly forks: string[];
}

/**
 * Why `maxmemory` does not fit the memory limit, with the arithmetic; undefined when it does.
 * A forked child shares the parent's pages copy-on-write, so under writes every page the parent
 * touches during the child's run is copied: at worst the dataset twice over, which is what the
 * container must hold when the kernel counts both.
 */
export function redisMemoryViolation(budget: RedisMemoryBudget): string | undefined {
  const copies = budget.forks.length > 0 ? 2 : 1;
  const total = budget.maxmemoryBytes * copies;
  if (total <= budget.memoryLimitBytes) return undefined;
  const needed = copies === 2
    ? `maxmemory (${mib(budget.maxmemoryBytes)}) × 2 = ${mib(total)}, as it forks for ${budget.forks.join(', ')} and a fork may copy every page,`
    : `maxmemory (${mib(budget.maxmemoryBytes)})`;
  return `${needed} is more than the memory limit (${mib(budget.memoryLimitBytes)}): at peak the kernel kills Redis; ` +
    'lower \'maxmemory\' or raise \'resources.memoryLimit\'';
}

/** Half the limit when the server forks (room for a copy of every page), else 70% (room for buffers and fragmentation). */
export function defaultRedisMaxmemory(memoryLimitBytes: number, forks: string[]): number {
  return Math.floor(memoryLimitBytes * (forks.length > 0 ? 0.5 : 0.7));
}

/** Durations that must nest: the inner one must end before the outer one. */
export interface NestedDuration {
  /** What the inner duration is, e.g. `'jobTimeout' (300s)`. */
  readonly inner: string;
  readonly innerSeconds: number;
  readonly outer: string;
  readonly outerSeconds: number;
  /** What goes wrong when it does not nest. */
  readonly because: string;
}

/** Why `inner` does not end before `outer`; undefined when it does. */
export function nestedDurationViolation(d: NestedDuration): string | undefined {
  if (d.innerSeconds < d.outerSeconds) return undefined;
  return `${d.inner} must be shorter than ${d.outer}: ${d.because}`;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)}MiB`;
}
