import { Chart, ChartProps, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { LoadBalancer, Observability, PgReplicaSet, PodSecurityNamespace, RedisCluster, ScaledApi } from '../lib';
import { adminTokenEnv, REFERENCE_IMAGE } from './reference-service';

/**
 * The multi-tenant headless CMS guide: nginx (least_conn) in front of a stateless API on port
 * 3000 with JWT auth, 3-10 pods on CPU 70% / memory 80% with a fast scale-up and a slow
 * scale-down, one PostgreSQL (read replicas are "future" there) and one Redis. README "Guide
 * charts" lists what differs from the guide and why.
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
    this.db = new PgReplicaSet(this, 'db', { replicas: 0, maxConnections: 250 });
    this.cache = new RedisCluster(this, 'cache', { mode: 'standalone' });
    this.api = new ScaledApi(this, 'api', {
      image: REFERENCE_IMAGE,
      port: 3000,
      minReplicas: 3,
      maxReplicas: 10,
      cpuUtilization: 70,
      memoryUtilization: 80,
      resources: { cpuRequest: '250m', memoryRequest: '256Mi', cpuLimit: '500m', memoryLimit: '512Mi' },
      database: this.db,
      cache: this.cache,
      secretEnv: { ...adminTokenEnv(this), JWT_SECRET: { secretName: `${id}-api-secrets`, key: 'jwt-secret' } },
    });
    this.lb = new LoadBalancer(this, 'lb', {
      backend: this.api,
      tls: { secretName: `${id}-tls` },
      proxyTimeouts: { connect: Duration.seconds(5), send: Duration.seconds(10), read: Duration.seconds(10) },
      health: 'backend',
    });
    this.observability = new Observability(this, 'obs', { targets: [this.api, this.db, this.cache, this.lb] });
  }
}
