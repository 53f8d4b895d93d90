import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { ICacheEndpoint, IDatabaseEndpoint } from '../core/endpoints';
import { propError } from '../core/validation';

/**
 * Env var names under which a {@link ScaledApi} or a {@link WorkerPool} also gives its image facts
 * of its wiring, for an image that reads other names than the reference service (a guide's app:
 * `POSTGRES_SERVER`, `REDIS_URL`, `CELERY_BROKER_URL`, `MIN_REPLICAS`, ...). Each value comes from
 * the linked database, cache, queue or autoscaler, so it cannot drift from them; credentials stay
 * `$(...)` expansions of the Secret-backed vars.
 */
export interface WiringEnv {
  /** The primary's host name (needs `database`). @default - not injected */
  readonly databaseHost?: string;
  /** The PostgreSQL port (needs `database`). @default - not injected */
  readonly databasePort?: string;
  /** The database name, `$(PGDATABASE)` from the credentials Secret (needs `database`). @default - not injected */
  readonly databaseName?: string;
  /** The host of the cache's first node; a cluster client learns the rest from it (needs `cache`). @default - not injected */
  readonly cacheHost?: string;
  /** The port of the cache's first node (needs `cache`). @default - not injected */
  readonly cachePort?: string;
  /** 'true' when a cache is linked, else 'false'. @default - not injected */
  readonly cacheEnabled?: string;
  /** The cache's maxmemory in Redis units, e.g. '2gb' (needs `cache` with a known maxmemory). @default - not injected */
  readonly cacheMaxSize?: string;
  /** A URL of the cache: `sentinel://:$(REDIS_PASSWORD)@host:26379;...` for Sentinel, else `redis://:$(REDIS_PASSWORD)@host:port` (needs `cache`). @default - not injected */
  readonly cacheUrl?: string;
  /** A URL of the queues' Redis (the API's `queueBroker`, else its `cache`; the pool's `broker`), in `cacheUrl`'s form, e.g. for Celery's broker. @default - not injected */
  readonly queueUrl?: string;
  /** 'true': the pods always run under an autoscaler. @default - not injected */
  readonly autoscalingEnabled?: string;
  /** The autoscaler's fewest pods. @default - not injected */
  readonly minReplicas?: string;
  /** The autoscaler's most pods. @default - not injected */
  readonly maxReplicas?: string;
  /** The autoscaler's CPU target, percent (needs a CPU target: a WorkerPool's needs `autoscalerKind: 'cpu'`). @default - not injected */
  readonly cpuUtilization?: string;
  /** The autoscaler's memory target, percent (needs a memory target). @default - not injected */
  readonly memoryUtilization?: string;
}

/** What the wiring env is derived from: the links and the resolved autoscaler. */
export interface Wiring {
  readonly database?: IDatabaseEndpoint;
  /** The Redis in the `REDIS_*` env: the cache (a WorkerPool's broker when it has no cache of its own). */
  readonly cache?: ICacheEndpoint;
  /** The env of the queues' Redis link (`QUEUE_`-prefixed), when it is not the cache. */
  readonly queueEnv?: k8s.EnvVar[];
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Undefined when the autoscaler has no CPU target (KEDA on queue length). */
  readonly cpuUtilization?: number;
  /** Undefined when the autoscaler has no memory target. */
  readonly memoryUtilization?: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The env `names` asks for, each value derived from `wiring`; throws when a name is malformed or its source is absent. */
export function wiringEnv(scope: Construct, names: WiringEnv, wiring: Wiring): k8s.EnvVar[] {
  const values = wiringValues(wiring);
  return (Object.keys(names) as Array<keyof WiringEnv>).map(fact => {
    const name = names[fact]!;
    if (!ENV_NAME.test(name)) throw propError(scope, `wiringEnv.${fact}`, name, 'must be an env var name: letters, digits and \'_\', not starting with a digit');
    const value = values[fact];
    if (value === undefined) throw propError(scope, `wiringEnv.${fact}`, name, `needs ${SOURCE_OF[fact]}, which is absent here`);
    return { name, value };
  });
}

/** What each fact that may be absent is derived from. */
const SOURCE_OF: Partial<Record<keyof WiringEnv, string>> = {
  databaseHost: '\'database\'', databasePort: '\'database\'', databaseName: '\'database\'',
  cacheHost: '\'cache\'', cachePort: '\'cache\'', cacheMaxSize: '\'cache\' with a known maxmemory', cacheUrl: '\'cache\'',
  queueUrl: '\'queueBroker\' or \'cache\'', cpuUtilization: 'a CPU target (a WorkerPool\'s autoscalerKind \'cpu\')',
  memoryUtilization: 'a memory target (a ScaledApi\'s \'memoryUtilization\')',
};

function wiringValues(w: Wiring): Record<keyof WiringEnv, string | undefined> {
  const cacheEnv = w.cache?.clientEnv;
  const [cacheHost, cachePort] = w.cache?.nodes[0]?.split(':') ?? [];
  return {
    databaseHost: w.database?.primaryHost,
    databasePort: w.database && String(w.database.port),
    databaseName: w.database && '$(PGDATABASE)',
    cacheHost,
    cachePort,
    cacheEnabled: String(w.cache !== undefined),
    cacheMaxSize: w.cache?.maxmemoryBytes === undefined ? undefined : redisSize(w.cache.maxmemoryBytes),
    cacheUrl: cacheEnv && redisUrl(cacheEnv, ''),
    queueUrl: w.queueEnv ? redisUrl(w.queueEnv, 'QUEUE_') : cacheEnv && redisUrl(cacheEnv, ''),
    autoscalingEnabled: 'true',
    minReplicas: String(w.minReplicas),
    maxReplicas: String(w.maxReplicas),
    cpuUtilization: w.cpuUtilization === undefined ? undefined : String(w.cpuUtilization),
    memoryUtilization: w.memoryUtilization === undefined ? undefined : String(w.memoryUtilization),
  };
}

/**
 * A Redis URL from the env a Redis link injects (names under `prefix`): kombu's Sentinel form,
 * one `sentinel://` per Sentinel joined by ';', when it names Sentinels; else the first node's
 * `redis://` (`rediss://` with TLS). The password is the expansion of the link's Secret-backed var.
 */
export function redisUrl(env: k8s.EnvVar[], prefix: string): string {
  const value = (name: string) => env.find(e => e.name === `${prefix}${name}`)?.value;
  const auth = `:$(${prefix}REDIS_PASSWORD)@`;
  const sentinels = value('REDIS_SENTINELS');
  if (sentinels) return sentinels.split(',').map(host => `sentinel://${auth}${host}`).join(';');
  const node = value('REDIS_CLUSTER_NODES')?.split(',')[0] ?? value('REDIS_URL')!.replace(/^rediss?:\/\//, '');
  // With TLS (the link names its CA) the scheme says so; the client still needs the CA given its own way.
  const tls = env.some(e => e.name === `${prefix}REDIS_TLS_CA`);
  return `${tls ? 'rediss' : 'redis'}://${auth}${node}`;
}

const REDIS_UNITS: Array<[string, number]> = [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]];

/** Bytes in Redis's units (1gb = 1024^3 bytes), the largest that divides them. */
export function redisSize(bytes: number): string {
  const [unit, size] = REDIS_UNITS.find(([, bytesPerUnit]) => bytes % bytesPerUnit === 0) ?? ['', 1];
  return `${bytes / size}${unit}`;
}
