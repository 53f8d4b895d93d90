import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { CacheObserver } from './cache/cache';
import { ReadReason, ReadTarget } from './db/read-policy';
import { QueryOperation, QueryRouter, RouterObserver } from './db/router';
import { TallyCounter, TallyHistogram } from './tally';

/**
 * The service's Prometheus metrics, in a registry of its own (tests build several apps). Those
 * counted on every request or query are tallies ({@link TallyCounter}): their callers hold the
 * series of each label set.
 */
export class ServiceMetrics {
  public readonly registry = new Registry();
  public readonly requests = new TallyCounter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  public readonly duration = new TallyHistogram({
    name: 'http_request_duration_seconds', help: 'HTTP request duration by route and status', labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  public readonly reads = new TallyCounter({ name: 'db_reads_total', help: 'Reads by target and why', labelNames: ['target', 'reason'], registers: [this.registry] });
  public readonly writes = new Counter({ name: 'db_writes_total', help: 'Write transactions on the primary', registers: [this.registry] });
  public readonly queryDuration = new TallyHistogram({
    name: 'db_query_duration_seconds', help: 'Routed statements by operation (read, write) and target (primary, replica), pool wait excluded',
    labelNames: ['operation', 'target'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
  });
  public readonly cacheHits = new Counter({ name: 'cache_hits_total', help: 'Cache hits', registers: [this.registry] });
  public readonly cacheMisses = new Counter({ name: 'cache_misses_total', help: 'Cache misses', registers: [this.registry] });
  public readonly cacheErrors = new Counter({ name: 'cache_errors_total', help: 'Cache calls that failed and fell back to the database', registers: [this.registry] });
  public readonly cacheInvalidations = new Counter({ name: 'cache_invalidations_total', help: 'Cache invalidations', registers: [this.registry] });
  public readonly ready = new Gauge({ name: 'app_ready', help: '1 while the service takes traffic', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Registers the gauges read at scrape time from the router's own figures. */
  public watchRouter(router: QueryRouter): void {
    new Gauge({
      name: 'db_pool_connections', help: 'Connections per pool by state', labelNames: ['pool', 'state'], registers: [this.registry],
      collect() {
        // Every figure the router reports (max, waiting, ...) becomes a state label.
        for (const { pool, ...figures } of router.poolStats()) {
          for (const [state, value] of Object.entries(figures)) if (typeof value === 'number') this.set({ pool, state }, value);
        }
      },
    });
    new Gauge({
      name: 'db_replica_healthy', help: '1 when the replica takes reads', labelNames: ['replica'], registers: [this.registry],
      collect() {
        for (const r of router.replicaStates()) this.set({ replica: r.name }, r.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'db_replica_lag_seconds', help: 'Replay lag of each replica, from LSNs', labelNames: ['replica'], registers: [this.registry],
      collect() {
        for (const r of router.replicaStates()) if (r.lagMs !== null) this.set({ replica: r.name }, r.lagMs / 1000);
      },
    });
    new Gauge({
      name: 'db_replica_lag_bytes', help: 'WAL bytes each replica has not replayed', labelNames: ['replica'], registers: [this.registry],
      collect() {
        for (const r of router.replicaStates()) if (r.lagBytes !== null) this.set({ replica: r.name }, r.lagBytes);
      },
    });
  }

  public get routerObserver(): RouterObserver {
    const reads = seriesBy((target: ReadTarget, reason: ReadReason) => this.reads.labels({ target, reason }));
    const queries = seriesBy((operation: QueryOperation, target: ReadTarget) => this.queryDuration.labels({ operation, target }));
    return {
      onRead: (target, reason) => reads(target, reason).inc(),
      onWrite: () => this.writes.inc(),
      onQuery: (operation, target, seconds) => queries(operation, target).observe(seconds),
    };
  }

  public get cacheObserver(): CacheObserver {
    return {
      onHit: () => this.cacheHits.inc(),
      onMiss: () => this.cacheMisses.inc(),
      onError: () => this.cacheErrors.inc(),
      onInvalidate: () => this.cacheInvalidations.inc(),
    };
  }
}

/** `make` of each pair of label values, made once: the router's observer is called on every query. */
function seriesBy<A extends string, B extends string, S>(make: (a: A, b: B) => S): (a: A, b: B) => S {
  const made = new Map<A, Map<B, S>>();
  return (a, b) => {
    let byB = made.get(a);
    if (!byB) made.set(a, byB = new Map());
    let series = byB.get(b);
    if (!series) byB.set(b, series = make(a, b));
    return series;
  };
}
