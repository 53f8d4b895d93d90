import { Chart, ChartProps, Duration, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { LoadBalancer, Observability, PgReplicaSet, PodSecurityNamespace, RedisCluster, ScaledApi } from '../lib';
import { referenceSecretEnv, REFERENCE_IMAGE } from './reference-service';
import { percentPer, podsPer } from './scaling-policies';

/**
 * The FastNext guide (Sprint 3.3 and the Phase 3 overview): nginx with least_conn, TLS, rate
 * limits and websockets in front of an API on 3-20 pods (CPU 70%, memory 80%), PostgreSQL 1
 * primary + 2 streaming replicas, Redis Cluster 3 masters + 3 replicas, Prometheus and Grafana.
 * docs/guide-charts.md lists what differs from the guide and why.
 */
export class FastNextChart extends Chart {
  public readonly namespaceObject: PodSecurityNamespace;
  public readonly db: PgReplicaSet;
  public readonly cache: RedisCluster;
  public readonly api: ScaledApi;
  public readonly lb: LoadBalancer;
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    this.namespaceObject = new PodSecurityNamespace(this, 'namespace');
    // The guide's pools at 20 pods may open 20 x (20 + 40) connections to the primary; a standby needs as many as its primary.
    // Each may take a work_mem: 1GB shared_buffers + 1250 x 4MB does not fit the default 4Gi limit.
    this.db = new PgReplicaSet(this, 'db', {
      replicas: 2, maxConnections: 1250, resources: { memoryRequest: '2Gi', memoryLimit: '8Gi' },
    });
    this.cache = this.redisCluster();
    this.api = this.backendApi();
    this.lb = this.loadBalancer();
    this.observability = new Observability(this, 'obs', { targets: [this.api, this.db, this.cache, this.lb] });
  }

  /** docker/redis/redis-cluster.conf: 3 masters + 3 replicas, 2 GB allkeys-lru, AOF every second, the guide's save points and keepalive. */
  private redisCluster(): RedisCluster {
    return new RedisCluster(this, 'cache', {
      shards: 3,
      replicasPerShard: 1,
      maxmemory: '2Gi',
      // AOF, save points and replicas all fork: 2 GiB of data may be copied once more, so the guide's 2 GB needs a 4 GiB limit.
      resources: { memoryLimit: '4Gi' },
      maxmemoryPolicy: 'allkeys-lru',
      appendonly: true,
      appendfsync: 'everysec',
      savePoints: [
        { after: Duration.minutes(15), changes: 1 }, { after: Duration.minutes(5), changes: 10 }, { after: Duration.minutes(1), changes: 10_000 },
      ],
      clusterNodeTimeout: Duration.seconds(5),
      tcpKeepalive: Duration.seconds(300),
    });
  }

  /**
   * docker/nginx/load-balancer.conf: the backend_api upstream, its rate limits on `location /api/` and the
   * prefix `location /api/v1/auth/login`, proxy settings and TLS server. Its `api_cache` zone is used by
   * no location of the guide, so there is no cache here either.
   */
  private loadBalancer(): LoadBalancer {
    return new LoadBalancer(this, 'lb', {
      backend: this.api,
      tls: { secretName: `${this.node.id}-tls` },
      http2: true,
      apiRateLimit: { rate: 100, burst: 20, per: 'second' },
      loginRateLimit: { rate: 5, burst: 3, per: 'minute' },
      loginMatch: 'prefix',
      // The guide limits `location /api/`; `/` (which it does not proxy) keeps the same limit rather than none.
      routes: [{ pathPrefix: '/api/', backend: this.api }],
      maxFails: 3,
      failTimeout: Duration.seconds(30),
      keepalive: 32,
      // The guide's 60 s connect timeout would hold a request for a minute on a pod that is gone before trying the next.
      proxyTimeouts: { connect: Duration.seconds(2), send: Duration.seconds(60), read: Duration.seconds(60) },
      proxyBuffers: { headerBufferSize: Size.kibibytes(4), count: 8, bufferSize: Size.kibibytes(4) },
      health: 'backend',
    });
  }

  /** k8s/fastnext-deployment.yml: the backend Deployment, its HPA and PDB. */
  private backendApi(): ScaledApi {
    return new ScaledApi(this, 'api', {
      image: REFERENCE_IMAGE,
      port: 8000,
      minReplicas: 3,
      maxReplicas: 20,
      cpuUtilization: 70,
      memoryUtilization: 80,
      scaleUp: { stabilizationWindow: Duration.seconds(60), policies: [percentPer(50, 60), podsPer(2, 60)], selectPolicy: 'Max' },
      scaleDown: { stabilizationWindow: Duration.seconds(300), policies: [percentPer(10, 60), podsPer(1, 180)], selectPolicy: 'Min' },
      minAvailable: 2,
      resources: { cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '1', memoryLimit: '1Gi' },
      probeTimings: {
        liveness: { initialDelay: Duration.seconds(60), period: Duration.seconds(10), timeout: Duration.seconds(5), failureThreshold: 3 },
        readiness: { initialDelay: Duration.seconds(10), period: Duration.seconds(5), timeout: Duration.seconds(3), failureThreshold: 3 },
        startup: { initialDelay: Duration.seconds(0), period: Duration.seconds(10), timeout: Duration.seconds(3), failureThreshold: 30 },
      },
      database: this.db,
      databasePool: { primarySize: 20, primaryOverflow: 40, replicaSize: 10, replicaOverflow: 20, timeout: Duration.seconds(30) },
      cache: this.cache,
      metricsPrefix: 'fastnext',
      // The guide's names, so its commands work as written: `kubectl describe hpa backend-hpa -n fastnext`.
      names: { deployment: 'backend-api', autoscaler: 'backend-hpa', disruptionBudget: 'backend-pdb' },
      // 001's environment for the guide's own image, each value taken from the database, cache and autoscaler above.
      wiringEnv: {
        databaseHost: 'POSTGRES_SERVER', databasePort: 'POSTGRES_PORT', databaseName: 'POSTGRES_DB',
        cacheHost: 'REDIS_HOST', cachePort: 'REDIS_PORT', cacheEnabled: 'CACHE_ENABLED', cacheMaxSize: 'CACHE_MAX_SIZE',
        autoscalingEnabled: 'ENABLE_AUTO_SCALING', minReplicas: 'MIN_REPLICAS', maxReplicas: 'MAX_REPLICAS',
        cpuUtilization: 'TARGET_CPU_PERCENT', memoryUtilization: 'TARGET_MEMORY_PERCENT',
      },
      env: { CACHE_DEFAULT_TTL: '300' },
      secretEnv: referenceSecretEnv(this),
    });
  }
}
