import { Request, RequestHandler, Response, Router } from 'express';
import { markStart, nanosSinceStart } from './request-start';

type RequestLabels = Readonly<{ method: string; route: string; status: string }>;
type GuideLabels = Readonly<{ method: string; endpoint: string; status: string }>;

/** A counter whose series of a label set can be held (the service's tallies; prom-client's Counter too). */
export interface CounterOf<L> {
  labels(labels: L): { inc(): void };
}

/** A histogram whose series of a label set can be held (the service's tallies; prom-client's Histogram too). */
export interface HistogramOf<L> {
  labels(labels: L): { observe(value: number): void };
}

/**
 * Route label of each express Route object of a mounted router (the same object on every request
 * it matches), noted at mount time: an error handled at the app level has left its router, and
 * with it req.baseUrl.
 */
const mountedRoutes = new WeakMap<object, string>();

function routeLabel(mountPath: string, routePath: string): string {
  return `${mountPath}${routePath}`.replace(/(.)\/$/, '$1');
}

/** Notes where `router` is mounted, for the route label of its routes (call it after its routes are added). */
export function noteMountPath(path: string, router: Router): void {
  for (const layer of router.stack) if (layer.route) mountedRoutes.set(layer.route, routeLabel(path, layer.route.path));
}

/** The label sets of one (route, method, status): ours and, when served, the guide's. */
interface LabelSets {
  readonly labels: RequestLabels;
  readonly guide: GuideLabels;
}

/** The series a request counts into, of one (route, method, status). */
interface RequestSeries {
  readonly requests: { inc(): void };
  readonly duration: { observe(value: number): void };
  readonly guide?: { inc(): void };
}

/**
 * The label set of each (route, method, status) made once and reused, with the metrics' series of
 * it: building it per request (a template, a regular expression, String(status), a new object,
 * and prom-client's timer merging two of them) and prom-client hashing it on every `inc` and
 * `observe` were a measurable part of a cache hit's CPU (issue 22). The sets are bounded: routes
 * are the app's, methods the ones node's parser accepts, statuses three digits.
 */
export class RequestLabelCache<T> {
  /** Route label of each Route object not under a noted mount (app-level routes). */
  private readonly routes = new WeakMap<object, string>();
  private readonly sets = new Map<string, Map<string, Map<number, T>>>();

  constructor(private readonly made: (sets: LabelSets) => T) {}

  /** The route pattern, not the path: ids must not explode the label set. */
  public route(req: Request): string {
    if (!req.route) return 'unmatched';
    let route = mountedRoutes.get(req.route) ?? this.routes.get(req.route);
    if (route === undefined) {
      route = routeLabel(req.baseUrl, (req.route as { path: string }).path);
      this.routes.set(req.route, route);
    }
    return route;
  }

  /** What `made` makes of the label sets of (route, method, status), once. */
  public labels(route: string, method: string, status: number): T {
    let byMethod = this.sets.get(route);
    if (!byMethod) this.sets.set(route, byMethod = new Map());
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, byStatus = new Map());
    let sets = byStatus.get(status);
    if (!sets) {
      const labels = Object.freeze({ method, route, status: String(status) });
      byStatus.set(status, sets = this.made({ labels, guide: Object.freeze({ method, endpoint: route, status: labels.status }) }));
    }
    return sets;
  }
}

/** Counts every request and times it from here to its response's last byte, by method, route pattern and status. */
export function requestMetrics(
  requests: CounterOf<RequestLabels>, duration: HistogramOf<RequestLabels>, guideRequests?: CounterOf<GuideLabels>,
): RequestHandler {
  const time = requestTimer(requests, duration, guideRequests);
  return (_req, res, next) => {
    time(res);
    next();
  };
}

/** What {@link requestMetrics} does for each request, as a function of its own: for a front handler that does more. */
export function requestTimer(
  requests: CounterOf<RequestLabels>, duration: HistogramOf<RequestLabels>, guideRequests?: CounterOf<GuideLabels>,
): (res: Response) => void {
  const cache = new RequestLabelCache<RequestSeries>(({ labels, guide }) => ({
    requests: requests.labels(labels), duration: duration.labels(labels), guide: guideRequests?.labels(guide),
  }));
  // One listener for every response (no closure per request): the response holds its request and start.
  function finished(this: Response): void {
    const req = this.req;
    const series = cache.labels(cache.route(req), req.method, this.statusCode);
    series.requests.inc();
    series.guide?.inc();
    series.duration.observe(nanosSinceStart(this) / 1e9);
  }
  return res => {
    markStart(res);
    res.on('finish', finished);
  };
}
