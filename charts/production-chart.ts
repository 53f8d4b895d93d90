import { Chart, ChartProps, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { GeneratedSecrets, LoadBalancer, Observability, PgReplicaSet, PodSecurityNamespace, RedisCluster, ScaledApi, WorkerPool, WorkerPoolProps, workerQueuesEnv } from '../lib';
import { referenceSecretEnv } from './reference-service';

/** The whole topology of the guides, wired together with the constructs' defaults. */
export class ProductionChart extends Chart {
  public readonly namespaceObject: PodSecurityNamespace;
  public readonly api: ScaledApi;
  public readonly lb: LoadBalancer;
  public readonly db: PgReplicaSet;
  public readonly cache: RedisCluster;
  public readonly queue: RedisCluster;
  public readonly workers: WorkerPool;
  public readonly observability: Observability;
  public readonly secrets: GeneratedSecrets;

  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    this.namespaceObject = new PodSecurityNamespace(this, 'namespace');
    this.db = new PgReplicaSet(this, 'db', { replicas: 2 });
    this.cache = new RedisCluster(this, 'cache', { shards: 3, replicasPerShard: 1, maxmemoryPolicy: 'allkeys-lru' });
    // The queues' own Redis, which never evicts (BullMQ requires it): the cache's LRU can never take a job or a lock.
    this.queue = new RedisCluster(this, 'queue', { mode: 'sentinel', replicas: 1, sentinels: 3, maxmemoryPolicy: 'noeviction' });
    // The reference worker (service/src/worker.ts) runs from the service's image; put your own worker here.
    // bet-intel's Celery pools map the same way: one pool per queue, e.g. queues ['ev_calculation'], concurrency 4.
    const jobs: WorkerPoolProps = {
      image: 'ghcr.io/hscale/reference-service:0.1.0',
      command: ['node', 'service/dist/worker.js'],
      queues: ['items'],
      concurrency: 4,
      attempts: 5,
      backoff: { type: 'exponential', delay: Duration.seconds(2) },
      jobTimeout: Duration.minutes(2),
      // Celery beat's nightly aggregation, as a CronJob: yesterday's item count, at 02:00 UTC.
      schedules: { aggregate: { cron: '0 2 * * *', name: 'items.aggregate' } },
      broker: this.queue,
      cache: this.cache,
      database: this.db,
    };
    const apiSecrets = referenceSecretEnv(this);
    this.api = new ScaledApi(this, 'api', {
      image: 'ghcr.io/hscale/reference-service:0.1.0',
      database: this.db,
      cache: this.cache,
      queueBroker: this.queue,
      // POST /api/v1/jobs accepts jobs for the pools' queues.
      env: workerQueuesEnv([jobs]),
      secretEnv: apiSecrets,
    });
    this.lb = new LoadBalancer(this, 'lb', { backend: this.api, tls: { secretName: 'hscale-tls' } });
    this.workers = new WorkerPool(this, 'jobs', jobs);
    this.observability = new Observability(this, 'obs', { targets: [this.api, this.db, this.cache, this.queue, this.lb, this.workers] });
    // Every credential but the TLS certificate is generated in the cluster, so the chart applies as it is.
    this.secrets = new GeneratedSecrets(this, 'secrets', {
      from: [this.db, this.cache, this.queue, this.observability],
      // The admin token and the key of the write tokens: random values, like the other credentials.
      secrets: Object.values(apiSecrets).map(({ secretName, key }) => ({ name: secretName, randomKeys: [key] })),
    });
  }
}
