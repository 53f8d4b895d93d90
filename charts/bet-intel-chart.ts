import { Chart, ChartProps, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import {
  LoadBalancer, Observability, PgReplicaSet, PodSecurityNamespace, RedisCluster, ScaledApi, WorkerPool, WorkerPoolProps, workerQueuesEnv,
} from '../lib';
import { referenceSecretEnv, REFERENCE_IMAGE, WORKER_COMMAND } from './reference-service';

/** bet-intel's dedicated worker pools, by name: the Celery queue each serves and the jobs it runs at once. */
const WORKER_POOLS: Record<string, { readonly queue: string; readonly concurrency: number }> = {
  'ev-calculation': { queue: 'ev_calculation', concurrency: 4 },
  'data-refresh': { queue: 'data_refresh', concurrency: 2 },
  'notifications': { queue: 'notifications', concurrency: 8 },
};
const WORKER_MEMORY_LIMIT_MIB = 1024;
// Celery restarted a child past 200 MB (worker_max_memory_per_child), each child running one task.
const MEMORY_PER_JOB_MIB = 200;
// The guide's Redis requests and limits, but a whole CPU as the limit, not 200m: Redis serves every command on one thread,
// and CFS throttling at a fifth of a core stalls it for up to 80 ms of each 100 ms period, longer than a cache read may take
// and long enough for a fork (AOF rewrite, full sync) to stall clients. The request stays the guide's 100m.
const REDIS_RESOURCES = { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '512Mi' };

/**
 * The bet-intel guide (Phase 3.8): nginx (least_conn, retries on errors) in front of an API on
 * 3-20 pods (CPU 70%, memory 80%, 100 requests per second per pod), PostgreSQL primary + 2 read
 * replicas, a 3-node Redis Cluster, and a worker pool per queue. docs/guide-charts.md lists
 * what differs from the guide and why.
 */
export class BetIntelChart extends Chart {
  public readonly namespaceObject: PodSecurityNamespace;
  public readonly db: PgReplicaSet;
  public readonly cache: RedisCluster;
  public readonly queue: RedisCluster;
  public readonly api: ScaledApi;
  public readonly lb: LoadBalancer;
  public readonly workers: WorkerPool[];
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    this.namespaceObject = new PodSecurityNamespace(this, 'namespace');
    // The API's 20 pods x 10 and the three worker pools' 24 pods x 10 may hold 440 connections to each server.
    this.db = new PgReplicaSet(this, 'db', { replicas: 2, maxConnections: 500 });
    this.cache = new RedisCluster(this, 'cache', {
      // A replica per master: without one, a lost master's slots stay down (the guide ran none).
      shards: 3,
      replicasPerShard: 1,
      maxmemoryPolicy: 'allkeys-lru',
      resources: REDIS_RESOURCES,
    });
    // Celery's broker on a Redis of its own that never evicts, so the cache's LRU can never take a task.
    this.queue = new RedisCluster(this, 'queue', {
      mode: 'sentinel', replicas: 1, sentinels: 3, maxmemoryPolicy: 'noeviction',
      resources: REDIS_RESOURCES,
    });
    const pools = Object.entries(WORKER_POOLS).map(([name, pool]) => ({ name, props: this.workerPoolProps(pool.queue, pool.concurrency) }));
    this.api = this.fastApi(workerQueuesEnv(pools.map(pool => pool.props)));
    this.lb = new LoadBalancer(this, 'lb', {
      backend: this.api,
      tls: { secretName: `${id}-tls` },
      maxFails: 3,
      failTimeout: Duration.seconds(30),
      nextUpstreamOn: ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503'],
      proxyTimeouts: { connect: Duration.seconds(5), send: Duration.seconds(60), read: Duration.seconds(60) },
      health: 'backend',
    });
    this.workers = pools.map(pool => new WorkerPool(this, pool.name, pool.props));
    this.observability = new Observability(this, 'obs', {
      targets: [this.api, this.db, this.cache, this.queue, this.lb, ...this.workers],
      // "Manual Scaling Guidelines": avg response time > 200ms, read query time > 50ms, hit rate < 95%; "sub-200ms response times".
      averageLatencyBound: Duration.millis(200),
      latencySlo: Duration.millis(200),
      readQueryLatencyBound: Duration.millis(50),
      cacheHitRatio: 0.95,
      // The guide's cache_memory_bytes and celery_queue_length (l.407-422): one figure per cache and per queue, recorded.
      guideMetrics: { guide: 'bet-intel', cache: this.cache },
    });
  }

  /** k8s-deployment.yml: the API Deployment and its HPA, with the requests-per-second target of "Scaling Thresholds". */
  private fastApi(env: Record<string, string>): ScaledApi {
    return new ScaledApi(this, 'api', {
      image: REFERENCE_IMAGE,
      port: 8000,
      minReplicas: 3,
      maxReplicas: 20,
      cpuUtilization: 70,
      memoryUtilization: 80,
      podMetric: { name: 'requests_per_second', averageValue: 100 },
      // "Auto-scaling Policies": up after 30 s, down after 5 minutes.
      scaleUp: { stabilizationWindow: Duration.seconds(30) },
      scaleDown: { stabilizationWindow: Duration.minutes(5) },
      probeTimings: {
        liveness: { initialDelay: Duration.seconds(30), period: Duration.seconds(10) },
        readiness: { initialDelay: Duration.seconds(10), period: Duration.seconds(5) },
      },
      resources: { cpuRequest: '200m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '512Mi' },
      database: this.db,
      cache: this.cache,
      queueBroker: this.queue,
      // The guide's requests_total and cache_hit_rate (l.407-422), beside our own names.
      guideMetrics: 'bet-intel',
      // POST /api/v1/jobs accepts jobs for the pools' queues.
      env,
      secretEnv: referenceSecretEnv(this),
    });
  }

  /** One dedicated pool: 2-8 workers, scaled when more than 50 jobs wait per worker. */
  private workerPoolProps(queue: string, concurrency: number): WorkerPoolProps {
    return {
      image: REFERENCE_IMAGE,
      command: WORKER_COMMAND,
      queues: [queue],
      concurrency,
      // The compose file's worker services, each told its type (as the guide's celery_workers_active label).
      env: { WORKER_TYPE: queue },
      // The guide's celery_task_duration_seconds and celery_workers_active (l.419-422), beside our own names.
      guideMetrics: 'bet-intel',
      // One process runs `concurrency` jobs: it restarts past their share of Celery's bound, within 80% of its limit.
      maxRssPercent: Math.min(80, Math.round((concurrency * MEMORY_PER_JOB_MIB * 100) / WORKER_MEMORY_LIMIT_MIB)),
      broker: this.queue,
      cache: this.cache,
      database: this.db,
      minReplicas: 2,
      maxReplicas: 8,
      backlogPerReplica: 50,
      resources: { cpuRequest: '300m', memoryRequest: '512Mi', cpuLimit: '800m', memoryLimit: `${WORKER_MEMORY_LIMIT_MIB}Mi` },
    };
  }
}
