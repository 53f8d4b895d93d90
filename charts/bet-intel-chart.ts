import { Chart, ChartProps, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { LoadBalancer, Observability, PgReplicaSet, PodSecurityNamespace, RedisCluster, ScaledApi, WorkerPool } from '../lib';
import { adminTokenEnv, REFERENCE_IMAGE, WORKER_COMMAND } from './reference-service';

/** bet-intel's dedicated worker pools, by the pool's name: the Celery queue each one serves. */
const WORKER_QUEUES: Record<string, string> = { 'ev-calculation': 'ev_calculation', 'data-refresh': 'data_refresh', 'notifications': 'notifications' };

/**
 * The bet-intel guide (Phase 3.8): nginx (least_conn, retries on errors) in front of an API on
 * 3-20 pods (CPU 70%, memory 80%, 100 requests per second per pod), PostgreSQL primary + 2 read
 * replicas, a 3-node Redis Cluster, and a worker pool per queue. README "Guide charts" lists
 * what differs from the guide and why.
 */
export class BetIntelChart extends Chart {
  public readonly namespaceObject: PodSecurityNamespace;
  public readonly db: PgReplicaSet;
  public readonly cache: RedisCluster;
  public readonly api: ScaledApi;
  public readonly lb: LoadBalancer;
  public readonly workers: WorkerPool[];
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    this.namespaceObject = new PodSecurityNamespace(this, 'namespace');
    this.db = new PgReplicaSet(this, 'db', { replicas: 2 });
    this.cache = new RedisCluster(this, 'cache', {
      shards: 3,
      replicasPerShard: 0,
      resources: { cpuRequest: '100m', memoryRequest: '256Mi', cpuLimit: '200m', memoryLimit: '512Mi' },
    });
    this.api = this.fastApi();
    this.lb = new LoadBalancer(this, 'lb', {
      backend: this.api,
      tls: { secretName: `${id}-tls` },
      maxFails: 3,
      failTimeout: Duration.seconds(30),
      nextUpstreamOn: ['error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503'],
      proxyTimeouts: { connect: Duration.seconds(5), send: Duration.seconds(60), read: Duration.seconds(60) },
      health: 'backend',
    });
    this.workers = Object.entries(WORKER_QUEUES).map(([pool, queue]) => this.workerPool(pool, queue));
    this.observability = new Observability(this, 'obs', { targets: [this.api, this.db, this.cache, this.lb, ...this.workers] });
  }

  /** k8s-deployment.yml: the API Deployment and its HPA, with the requests-per-second target of "Scaling Thresholds". */
  private fastApi(): ScaledApi {
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
      secretEnv: adminTokenEnv(this),
    });
  }

  /** One dedicated pool: 2-8 workers, scaled when more than 50 jobs wait per worker. */
  private workerPool(pool: string, queue: string): WorkerPool {
    return new WorkerPool(this, pool, {
      image: REFERENCE_IMAGE,
      command: WORKER_COMMAND,
      queue,
      broker: this.cache,
      database: this.db,
      minReplicas: 2,
      maxReplicas: 8,
      backlogPerReplica: 50,
      resources: { cpuRequest: '300m', memoryRequest: '512Mi', cpuLimit: '800m', memoryLimit: '1Gi' },
    });
  }
}
