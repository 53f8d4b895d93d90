import { Request, RequestHandler, Response } from 'express';
import { Counter, Histogram } from 'prom-client';

type RequestLabels = Readonly<{ method: string; route: string; status: string }>;

/** Where a router is mounted, noted on the response: an error handled at the app level has left its router, and with it req.baseUrl. */
export function noteMountPath(path: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.mountPath = path;
    next();
  };
}

/**
 * The label set of each (route, method, status) made once and reused: building it per request (a
 * template, a regular expression, String(status), a new object, and prom-client's timer merging
 * two of them) was a measurable part of a cache hit's CPU (issue 22). The sets are bounded:
 * routes are the app's, methods the ones node's parser accepts, statuses three digits.
 */
export class RequestLabelCache {
  /** Route label of each express Route object (the same object on every request it matches). */
  private readonly routes = new WeakMap<object, string>();
  private readonly sets = new Map<string, Map<string, Map<number, RequestLabels>>>();

  /** The route pattern, not the path: ids must not explode the label set. */
  public route(req: Request, res: Response): string {
    if (!req.route) return 'unmatched';
    let route = this.routes.get(req.route);
    if (route === undefined) {
      const mountPath = (res.locals.mountPath as string | undefined) ?? req.baseUrl;
      route = `${mountPath}${(req.route as { path: string }).path}`.replace(/(.)\/$/, '$1');
      this.routes.set(req.route, route);
    }
    return route;
  }

  public labels(route: string, method: string, status: number): RequestLabels {
    let byMethod = this.sets.get(route);
    if (!byMethod) this.sets.set(route, byMethod = new Map());
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, byStatus = new Map());
    let labels = byStatus.get(status);
    if (!labels) byStatus.set(status, labels = Object.freeze({ method, route, status: String(status) }));
    return labels;
  }
}

/** Counts every request and times it from here to its response's last byte, by method, route pattern and status. */
export function requestMetrics(
  requests: Counter<'method' | 'route' | 'status'>, duration: Histogram<'method' | 'route' | 'status'>,
  guideRequests?: Counter<'method' | 'endpoint' | 'status'>,
): RequestHandler {
  const cache = new RequestLabelCache();
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const labels = cache.labels(cache.route(req, res), req.method, res.statusCode);
      requests.inc(labels);
      guideRequests?.inc({ method: labels.method, endpoint: labels.route, status: labels.status });
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
