import { hostname } from 'os';
import { ReadThroughCache } from '../cache/cache';
import { QueryRouter } from '../db/router';
import { logger } from '../logger';

/** `ok`; `degraded` while a dependency the service can do without (the cache, the replicas) is down; `unhealthy` when it cannot serve. */
export type HealthStatus = 'ok' | 'degraded' | 'unhealthy';

/** One dependency's state; down ones carry no error text, since `/health` is public behind the load balancer (the log and `/deep` have it). */
export interface DependencyCheck {
  readonly status: 'ok' | 'down' | 'degraded' | 'not configured';
  readonly latencyMs?: number;
  readonly healthy?: number;
  readonly total?: number;
}

/** The body of `/health`: the guides' load balancer health answer, with every dependency, the instance and the version. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly timestamp: string;
  readonly instance: string;
  readonly version: string;
  readonly checks: {
    readonly process: { readonly status: 'ok' | 'starting' | 'shutting down' };
    readonly primary: DependencyCheck;
    readonly replicas: DependencyCheck;
    readonly cache: DependencyCheck;
  };
}

/** What the probes answer, from the state of the process and its dependencies. */
export class HealthState {
  public migrated = false;
  public shuttingDown = false;

  constructor(private readonly router: QueryRouter, private readonly cache: ReadThroughCache, private readonly version: string) {}

  /**
   * The state of the process and each dependency, checked now (primary and cache at once, each
   * bounded by its client's timeout). Unhealthy while starting, shutting down or without the
   * primary: only then can this instance not serve.
   */
  public async report(): Promise<HealthReport> {
    const [primary, cache] = await Promise.all([
      pinged('primary', () => this.router.pingPrimary()),
      this.cache.enabled ? pinged('cache', () => this.cache.ping()) : { status: 'not configured' as const },
    ]);
    const replicas = this.replicaCheck();
    const lifecycle = { status: this.shuttingDown ? 'shutting down' as const : this.migrated ? 'ok' as const : 'starting' as const };
    const status: HealthStatus = lifecycle.status !== 'ok' || primary.status !== 'ok' ? 'unhealthy'
      : cache.status === 'down' || replicas.status === 'degraded' ? 'degraded' : 'ok';
    return { status, timestamp: new Date().toISOString(), instance: hostname(), version: this.version, checks: { process: lifecycle, primary, replicas, cache } };
  }

  /** From the background checks' last round: `degraded` while any replica takes no reads (they go to the primary). */
  private replicaCheck(): DependencyCheck {
    const states = this.router.replicaStates();
    const healthy = states.filter(r => r.healthy).length;
    if (states.length === 0) return { status: 'not configured' };
    return { status: healthy === states.length ? 'ok' : 'degraded', healthy, total: states.length };
  }

  /**
   * Ready while not shutting down and the database can serve reads: the primary answers, or at
   * least one replica is healthy. Without the primary, writes answer 503 but reads go on from the
   * replicas; failing readiness then would take every pod out of the load balancer, reads included.
   * Redis is reported, never fatal (reads fall back to the database). The body is public: it says
   * `down` or `degraded`, and the error goes to the log only.
   */
  public async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    if (this.shuttingDown) return { ready: false, checks: { process: 'shutting down' } };
    if (!this.migrated) return { ready: false, checks: { migrations: 'pending' } };
    const checks: Record<string, string> = {};
    const primary = await pinged('primary', () => this.router.pingPrimary());
    checks.primary = primary.status === 'ok' ? `ok (${primary.latencyMs} ms)` : 'down';
    const replicas = this.router.replicaStates();
    const healthyReplicas = replicas.filter(r => r.healthy).length;
    checks.replicas = `${healthyReplicas}/${replicas.length} healthy`;
    if (primary.status !== 'ok' && healthyReplicas === 0) return { ready: false, checks };
    const cache = this.cache.enabled ? await pinged('cache', () => this.cache.ping()) : undefined;
    checks.cache = !cache ? 'not configured' : cache.status === 'ok' ? `ok (${cache.latencyMs} ms)` : 'degraded';
    return { ready: true, checks };
  }

  /** Every dependency with its latency, the pools and the replicas: for operators, behind the admin token. */
  public async deep(): Promise<object> {
    const timed = async (check: () => Promise<number>) => check().then(ms => ({ ok: true, ms }), error => ({ ok: false, error: String((error as Error).message) }));
    return {
      primary: await timed(() => this.router.pingPrimary()),
      cache: this.cache.enabled ? await timed(() => this.cache.ping()) : { ok: true, configured: false },
      cacheStats: this.cache.getStats(),
      pools: this.router.poolStats(),
      replicas: this.router.replicaStates(),
      migrated: this.migrated,
    };
  }
}

/** `ok` with the round-trip time, or `down` (the error goes to the log, not to the public body). */
function pinged(dependency: string, ping: () => Promise<number>): Promise<DependencyCheck> {
  return ping().then(latencyMs => ({ status: 'ok', latencyMs }), error => {
    logger.warn({ dependency, err: error }, 'health check failed');
    return { status: 'down' };
  });
}
