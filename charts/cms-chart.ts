import { Chart, ChartProps, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { LoadBalancer, Observability, PgReplicaSet, PodSecurityNamespace, RedisCluster, ScaledApi } from '../lib';
import { referenceSecretEnv, REFERENCE_IMAGE } from './reference-service';
import { percentPer, podsPer } from './scaling-policies';

/**
 * The multi-tenant headless CMS guide: nginx (least_conn) in front of a stateless API on port
 * 3000 with JWT auth, 3-10 pods on CPU 70% / memory 80% with a fast scale-up and a slow
 * scale-down, one PostgreSQL (read replicas are "future" there) and one Redis. docs/guide-charts.md
 * lists what differs from the guide and why.
 */
export class CmsChart extends Chart {
  public readonly namespaceObject: PodSecurityNamespace;
  public readonly db: PgReplicaSet;
  public readonly cache: RedisCluster;
  public readonly api: ScaledApi;
  public readonly lb: LoadBalancer;
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    this.namespaceObject = new PodSecurityNamespace(this, 'namespace');
    // Prisma's connection_limit=20 per pod at 10 pods needs 200 connections; the guide's max_connections=100 would refuse half of them.
    // One instance, as the guide's: no replica to promote, so Patroni (the default engine) would add only its API-server access.
    this.db = new PgReplicaSet(this, 'db', { engine: 'statefulset', replicas: 0, maxConnections: 250 });
    // The guide's Redis holds refresh tokens beside the cache: evicting one logs a user out, so at maxmemory writes fail instead
    // (the service then serves from the database and counts cache_errors_total; RedisMemoryHigh warns at 80% first).
    this.cache = new RedisCluster(this, 'cache', { mode: 'standalone', maxmemoryPolicy: 'noeviction' });
    this.api = this.contentApi();
    this.lb = new LoadBalancer(this, 'lb', {
      backend: this.api,
      tls: { secretName: `${id}-tls` },
      proxyTimeouts: { connect: Duration.seconds(5), send: Duration.seconds(10), read: Duration.seconds(10) },
      health: 'backend',
    });
    this.observability = new Observability(this, 'obs', { targets: [this.api, this.db, this.cache, this.lb] });
  }

  /** k8s/deployment.yaml and k8s/hpa.yaml: the API, its resources and its autoscaler. */
  private contentApi(): ScaledApi {
    return new ScaledApi(this, 'api', {
      image: REFERENCE_IMAGE,
      port: 3000,
      minReplicas: 3,
      maxReplicas: 10,
      cpuUtilization: 70,
      memoryUtilization: 80,
      scaleUp: { stabilizationWindow: Duration.seconds(0), policies: [percentPer(100, 15), podsPer(2, 15)], selectPolicy: 'Max' },
      scaleDown: { stabilizationWindow: Duration.seconds(300), policies: [percentPer(50, 60)] },
      resources: { cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '512Mi' },
      // The guide's timings, on probes that check the process (liveness) and the database (readiness) rather than /health.
      probeTimings: {
        liveness: { initialDelay: Duration.seconds(30), period: Duration.seconds(10) },
        readiness: { initialDelay: Duration.seconds(5), period: Duration.seconds(5) },
      },
      // Swarm's update_config `parallelism: 1, delay: 10s`: one new pod at a time, ready for 10 s before the next.
      rollout: { maxSurge: 1, maxUnavailable: 0, minReady: Duration.seconds(10) },
      database: this.db,
      databasePool: { primarySize: 20, timeout: Duration.seconds(10) },
      cache: this.cache,
      // The guide's JWT_SECRET is the key the reference service signs and verifies its write tokens with.
      secretEnv: referenceSecretEnv(this, { secretName: `${this.node.id}-api-secrets`, key: 'jwt-secret' }),
    });
  }
}
