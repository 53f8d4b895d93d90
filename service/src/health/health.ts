import { ReadThroughCache } from '../cache/cache';
import { QueryRouter } from '../db/router';

/** What the probes answer, from the state of the process and its dependencies. */
export class HealthState {
  public migrated = false;
  public shuttingDown = false;

  constructor(private readonly router: QueryRouter, private readonly cache: ReadThroughCache) {}

  /** Ready while not shutting down and the primary answers; Redis is reported, never fatal (reads fall back to the database). */
  public async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    if (this.shuttingDown) return { ready: false, checks: { process: 'shutting down' } };
    if (!this.migrated) return { ready: false, checks: { migrations: 'pending' } };
    try {
      checks.primary = `ok (${await this.router.pingPrimary()} ms)`;
    } catch (error) {
      checks.primary = `down: ${(error as Error).message}`;
      return { ready: false, checks };
    }
    checks.cache = !this.cache.enabled ? 'not configured' : await this.cache.ping().then(ms => `ok (${ms} ms)`, error => `degraded: ${(error as Error).message}`);
    const replicas = this.router.replicaStates();
    checks.replicas = `${replicas.filter(r => r.healthy).length}/${replicas.length} healthy`;
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
