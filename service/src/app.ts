import express, { Express, RequestHandler, Response } from 'express';
import { createBackends } from './backends';
import { ReadThroughCache } from './cache/cache';
import { Config, loadConfig, ServiceConfig } from './config';
import { roleDefaults } from './db/config';
import { ItemRepository } from './db/items';
import { migrate } from './db/migrations';
import { QueryRouter } from './db/router';
import { registerBetIntelMetrics, registerGuideMetrics } from './guide-metrics';
import { HealthState } from './health/health';
import { authRouter } from './http/auth';
import { errorHandler, notFound } from './http/errors';
import { itemRoutes } from './http/items-routes';
import { jobsRouter } from './http/jobs-routes';
import { limitJsonDepth, MAX_JSON_DEPTH } from './http/json-depth';
import { opsRouter } from './http/ops-routes';
import { requestContextStarter } from './http/request-context';
import { noteMountPath, requestTimer } from './http/request-metrics';
import { ServiceMetrics } from './metrics';

/** The app and what it holds open, so the server (or a test) can start and stop it. */
export interface Service {
  readonly app: Express;
  readonly config: ServiceConfig;
  readonly router: QueryRouter;
  readonly cache: ReadThroughCache;
  readonly health: HealthState;
  readonly metrics: ServiceMetrics;
  /** Migrates and starts the replica checks; the startup probe passes after it. */
  start(): Promise<void>;
  /** Fails readiness (and app_ready) from now on, while requests are still served: the start of a drain. */
  beginShutdown(): void;
  /** Closes the pools and the cache client. */
  close(): Promise<void>;
}

/** Builds the Express app from env (the constructs' contract); listens on nothing. */
export function createService(env: NodeJS.ProcessEnv = process.env): Service {
  return createServiceFrom(loadConfig(env));
}

/** Builds the Express app from a loaded config; listens on nothing. */
export function createServiceFrom(loaded: Config): Service {
  const config = loaded.service;
  const metrics = new ServiceMetrics();
  const backends = createBackends(loaded, { role: 'api', routerObserver: metrics.routerObserver, cacheObserver: metrics.cacheObserver });
  const { router, cache } = backends;
  metrics.watchRouter(router);
  if (config.metricsPrefix) registerGuideMetrics(metrics.registry, config.metricsPrefix, router, cache, config.guidePoolSize);
  const guideRequests = config.guideMetrics === 'bet-intel' ? registerBetIntelMetrics(metrics.registry, cache) : undefined;
  const health = new HealthState(router, cache, config.version);

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(frontHandler(health, requestTimer(metrics.requests, metrics.duration, guideRequests), chain(
    express.json({ limit: config.bodyLimit, strict: true }),
    limitJsonDepth(MAX_JSON_DEPTH),
  )));
  // The API's routes first: every request passes the routes mounted before its own, and the
  // ops endpoints (probes, metrics) are a small share of the traffic.
  itemRoutes(app.router, '/api/v1/items', new ItemRepository(router), cache, loaded.auth);
  mount(app, '/api/v1/auth', authRouter(loaded.auth));
  mount(app, '/api/v1/jobs', jobsRouter(backends.producer, loaded.auth, config.adminToken));
  app.use(opsRouter({ health, router, cache, metrics, adminToken: config.adminToken }));
  app.use(notFound);
  app.use(errorHandler);

  return {
    app, config, router, cache, health, metrics,
    start: async () => {
      await migrate(router.primarySql, router.config.startupRetryMs, roleDefaults(router.config));
      health.migrated = true;
      await router.start();
      metrics.ready.set(1);
    },
    beginShutdown: () => {
      health.shuttingDown = true;
      metrics.ready.set(0);
    },
    close: async () => {
      metrics.ready.set(0);
      await backends.close();
    },
  };
}

/**
 * What every request passes first, as one function (issue 22: each layer and each call through a
 * chain cost a cache hit measurably): its id and log context, the drain's `Connection: close`, its
 * metrics, then, for a method that may carry a body (not GET or HEAD, whose bodies no route reads),
 * `parseBody`.
 */
function frontHandler(health: HealthState, time: (res: Response) => void, parseBody: RequestHandler): RequestHandler {
  const begin = requestContextStarter();
  return (req, res, next) => {
    begin(req, res);
    // While draining, tell keep-alive clients to reconnect elsewhere, or they would keep this process busy.
    if (health.shuttingDown) res.setHeader('Connection', 'close');
    time(res);
    if (req.method === 'GET' || req.method === 'HEAD') next();
    else parseBody(req, res, next);
  };
}

/** Mounts `router` at `path`, noting the mount point for the request metrics' route label. */
function mount(app: Express, path: string, router: express.Router): void {
  noteMountPath(path, router);
  app.use(path, router);
}

/**
 * The handlers as one middleware, each calling the next directly: the router matches a layer of
 * its own for each handler it holds, and every layer a request passes cost it (issue 22). An error,
 * thrown (also from a callback, as body-parser's), rejected or passed on, goes to the router's error
 * handlers, as from a handler of its own; `next('route')` is not supported.
 */
function chain(...handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const step = (error?: unknown): void => {
      if (error) return next(error);
      if (i === handlers.length) return next();
      try {
        const returned: unknown = handlers[i++](req, res, step);
        if (returned instanceof Promise) returned.catch(next);
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  };
}
