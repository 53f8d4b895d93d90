import { Chart, ChartProps, Duration, Size } from 'cdk8s';
import { Construct } from 'constructs';
import {
  LoadBalancer, Observability, PgReplicaSet, PodSecurityNamespace, RedisCluster, ScaledApi, WorkerPool, WorkerPoolProps, workerQueuesEnv,
} from '../lib';
import { referenceSecretEnv, REFERENCE_IMAGE, WORKER_COMMAND } from './reference-service';

/** The guide's app and its Celery workers read their Redis as URLs: the cache and Celery's broker, in kombu's Sentinel form. */
const GUIDE_REDIS_URLS = { cacheUrl: 'REDIS_URL', queueUrl: 'CELERY_BROKER_URL' };

/**
 * The TutorMax guide: nginx (least_conn, health checks, rate limits, websockets) in front of 3+
 * stateless API instances, PostgreSQL primary + 1 read replica, Redis master + replica watched
 * by Sentinel, and background workers with a scheduler. docs/guide-charts.md lists what
 * differs from the guide and why.
 */
export class TutorMaxChart extends Chart {
  public readonly namespaceObject: PodSecurityNamespace;
  public readonly db: PgReplicaSet;
  public readonly cache: RedisCluster;
  public readonly queue: RedisCluster;
  public readonly api: ScaledApi;
  public readonly lb: LoadBalancer;
  public readonly workers: WorkerPool;
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    this.namespaceObject = new PodSecurityNamespace(this, 'namespace');
    // The primary pool at 20 pods may open 20 x (20 + 30) connections; a standby needs as many as its primary.
    // 1250 connections may each take a work_mem: 1GB shared_buffers + 1250 x 4MB does not fit the default 4Gi limit.
    this.db = new PgReplicaSet(this, 'db', { replicas: 1, maxConnections: 1250, resources: { memoryRequest: '2Gi', memoryLimit: '8Gi' } });
    // The guide runs one Sentinel; three with a quorum of two survive the loss of any one.
    this.cache = new RedisCluster(this, 'cache', {
      mode: 'sentinel', replicas: 1, sentinels: 3, quorum: 2, masterName: 'tutormax-master', maxmemory: '1Gi', maxmemoryPolicy: 'allkeys-lru',
    });
    // Celery's broker on a Redis of its own, the same shape, that never evicts: the cache's LRU can never take a task.
    this.queue = new RedisCluster(this, 'queue', {
      mode: 'sentinel', replicas: 1, sentinels: 3, quorum: 2, masterName: 'tutormax-queue', maxmemory: '1Gi', maxmemoryPolicy: 'noeviction',
    });
    const tasks = this.celeryTasks();
    this.api = this.statelessApi(workerQueuesEnv([tasks]));
    this.lb = new LoadBalancer(this, 'lb', {
      backend: this.api,
      tls: { secretName: `${id}-tls` },
      apiRateLimit: { rate: 100, burst: 20, per: 'minute' },
      proxyBuffers: { headerBufferSize: Size.kibibytes(8), count: 16, bufferSize: Size.kibibytes(8) },
      health: 'backend',
    });
    this.workers = new WorkerPool(this, 'workers', tasks);
    this.observability = new Observability(this, 'obs', {
      targets: [this.api, this.db, this.cache, this.queue, this.lb, this.workers],
      // "If lag > 100MB, investigate": the bytes a standby has not replayed.
      standbyWalLagBound: Size.mebibytes(100),
    });
  }

  /** The stateless API instances, autoscaled as the guide's Kubernetes HPA example. */
  private statelessApi(env: Record<string, string>): ScaledApi {
    return new ScaledApi(this, 'api', {
      image: REFERENCE_IMAGE,
      port: 8000,
      minReplicas: 3,
      maxReplicas: 20,
      cpuUtilization: 70,
      memoryUtilization: false,
      resources: { cpuRequest: '1', memoryRequest: '1Gi', cpuLimit: '2', memoryLimit: '2Gi' },
      database: this.db,
      // The guide's 20 + 40 at 20 pods, with the workers' 10 x 10, is 1300 > 1250 - 3 reserved: overflow 30 leaves 1101.
      databasePool: { primarySize: 20, primaryOverflow: 30 },
      cache: this.cache,
      queueBroker: this.queue,
      // "Update one instance at a time ... Wait 30 seconds, verify health": one new pod at a time, ready for 30 s before the next.
      rollout: { maxSurge: 1, maxUnavailable: 0, minReady: Duration.seconds(30) },
      wiringEnv: GUIDE_REDIS_URLS,
      // POST /api/v1/jobs accepts jobs for the workers' queue.
      env,
      secretEnv: referenceSecretEnv(this),
    });
  }

  /**
   * The Celery workers (2 or more) and celery-beat's daily metrics aggregation, which the reference
   * worker's `items.aggregate` stands in for; the guide gives no time of day.
   */
  private celeryTasks(): WorkerPoolProps {
    return {
      image: REFERENCE_IMAGE,
      command: WORKER_COMMAND,
      queues: ['tutormax-tasks'],
      minReplicas: 2,
      schedules: { 'daily-metrics': { cron: '@daily', name: 'items.aggregate' } },
      broker: this.queue,
      cache: this.cache,
      database: this.db,
      wiringEnv: GUIDE_REDIS_URLS,
    };
  }
}
