import { Construct } from 'constructs';
import { ILoadBalancerBackend } from '../core/endpoints';
import { propError } from '../core/validation';
import { LoadBalancerRoute } from './props';

/** A route with its defaults filled in. */
export interface ResolvedRoute {
  readonly pathPrefix: string;
  readonly backend: ILoadBalancerBackend;
  readonly rateLimited: boolean;
}

// Characters that need no quoting in an nginx location nor escaping in an HTTPRoute path.
const PATH_PREFIX = /^\/[A-Za-z0-9._~/-]*$/;

/** Validates `routes`: each prefix well formed and used once, none of them one of `takenPrefixes`. */
export function resolveRoutes(scope: Construct, routes: LoadBalancerRoute[] = [], takenPrefixes: Record<string, string> = {}): ResolvedRoute[] {
  const taken = new Map(Object.entries(takenPrefixes));
  return routes.map((route, i) => {
    const prop = `routes[${i}].pathPrefix`;
    if (!PATH_PREFIX.test(route.pathPrefix)) {
      throw propError(scope, prop, route.pathPrefix, 'must start with \'/\' and hold only letters, digits and \'.\', \'_\', \'~\', \'/\', \'-\'');
    }
    const owner = taken.get(route.pathPrefix);
    if (owner) throw propError(scope, prop, route.pathPrefix, `is already the prefix of ${owner}`);
    taken.set(route.pathPrefix, `'routes[${i}]'`);
    return { pathPrefix: route.pathPrefix, backend: route.backend, rateLimited: route.rateLimited ?? true };
  });
}

/** The reference service's ops endpoints: Prometheus metrics, probes and health details, replication status, cache stats. */
export const DEFAULT_INTERNAL_PATHS = ['/metrics', '/api/v1/scaling', '/api/v1/cache'];

/** Validates `internalPaths`: each well formed and never `/`, which would refuse every request. */
export function resolveInternalPaths(scope: Construct, paths: string[] = DEFAULT_INTERNAL_PATHS): string[] {
  paths.forEach((path, i) => {
    if (!PATH_PREFIX.test(path) || path.replace(/\/+$/, '') === '') {
      throw propError(scope, `internalPaths[${i}]`, path,
        'must start with \'/\', name something below \'/\' and hold only letters, digits and \'.\', \'_\', \'~\', \'/\', \'-\'');
    }
  });
  return paths;
}

/** The backends of `routes` other than `main`, each once, in order of first use. */
export function otherBackends(main: ILoadBalancerBackend, routes: ResolvedRoute[]): ILoadBalancerBackend[] {
  return [...new Set(routes.map(route => route.backend))].filter(backend => backend !== main);
}
