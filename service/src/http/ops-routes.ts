import { createHash, timingSafeEqual } from 'crypto';
import { Request, RequestHandler, Router } from 'express';
import { z } from 'zod';
import { ReadThroughCache } from '../cache/cache';
import { itemKey, LIST_TAG } from '../cache/keys';
import { QueryRouter } from '../db/router';
import { HealthState } from '../health/health';
import { ServiceMetrics } from '../metrics';
import { HttpError } from './errors';

const invalidateBody = z.strictObject({ ids: z.array(z.uuid()).max(100).default([]) });

/** Lets the request through only with `Authorization: Bearer <ADMIN_TOKEN>`; no ADMIN_TOKEN set, no admin endpoints. */
export function requireAdmin(adminToken: string | undefined): RequestHandler {
  // Digests have one length, so the comparison takes constant time and leaks not even the token's length.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  const expected = digest(adminToken ?? '');
  return (req: Request, _res, next) => {
    const given = digest((req.get('authorization') ?? '').replace(/^Bearer /, ''));
    if (!adminToken || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, 'unauthorized', 'this endpoint needs the admin token');
    }
    next();
  };
}

/** The guides' probes, replication status, metrics and cache endpoints. */
export function opsRouter(deps: { health: HealthState; router: QueryRouter; cache: ReadThroughCache; metrics: ServiceMetrics; adminToken?: string }): Router {
  const ops = Router();
  const admin = requireAdmin(deps.adminToken);
  const metrics: RequestHandler = async (_req, res) => {
    res.set('Content-Type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  };

  // The load balancer's view of this instance: 503 only when it cannot serve, so nginx, which retries http_503 elsewhere, skips it.
  ops.get('/health', async (_req, res) => {
    const report = await deps.health.report();
    res.status(report.status === 'unhealthy' ? 503 : 200).set('Cache-Control', 'no-store').json(report);
  });
  // Liveness checks nothing outside the process: a database outage must not restart every pod.
  ops.get('/api/v1/scaling/health/liveness', (_req, res) => { res.json({ status: 'alive' }); });
  ops.get('/api/v1/scaling/health/startup', (_req, res) => {
    res.status(deps.health.migrated ? 200 : 503).json({ status: deps.health.migrated ? 'started' : 'migrating' });
  });
  ops.get('/api/v1/scaling/health/readiness', async (_req, res) => {
    const { ready, checks } = await deps.health.readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  ops.get('/api/v1/scaling/health/deep', admin, async (_req, res) => { res.json(await deps.health.deep()); });
  ops.get('/api/v1/scaling/replication/status', (_req, res) => {
    // Public through a load balancer that proxies it: the states without their last error (that is on /deep and in the log).
    const replicas = deps.router.replicaStates().map(({ lastError: _lastError, ...state }) => state);
    res.json({ readPolicy: deps.router.config.readPolicy, maxLagMs: deps.router.config.maxLagMs, replicas });
  });
  ops.get('/metrics', metrics);
  ops.get('/api/v1/scaling/metrics/prometheus', metrics);
  ops.get('/api/v1/cache/stats', (_req, res) => { res.json({ enabled: deps.cache.enabled, ...deps.cache.getStats() }); });
  ops.post('/api/v1/cache/invalidate', admin, async (req, res) => {
    // Bumping the tag orphans every cached list; the items named go too, the others expire by TTL or at their next write.
    const { ids } = invalidateBody.parse(req.body ?? {});
    await Promise.all([
      deps.cache.invalidate(undefined, [LIST_TAG], '0/0'),
      ...ids.map(id => deps.cache.invalidate(itemKey(id), [], '0/0')),
    ]);
    res.json({ invalidated: { lists: true, items: ids } });
  });
  return ops;
}
