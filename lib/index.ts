/**
 * cdk8s constructs for a horizontally scaled web API (ScaledApi, LoadBalancer, PgReplicaSet,
 * RedisCluster, WorkerPool, Observability, GeneratedSecrets, PodSecurityNamespace and
 * HorizontalScalingTopology, which composes them), their props and the contracts between them.
 *
 * @packageDocumentation
 */

// The public API of `hscale`, by name: the constructs, their props, and the contracts users
// implement or pass. Everything else in lib/ is internal and may change in any release; the
// config renderers are `hscale/render` (lib/render.ts), the manifest checks `hscale/testing`.
// etc/hscale.api.md is the report of this file; a test fails when the two differ.

// The contracts between constructs, which a user's own construct may implement.
export type {
  DatabaseConnectionPool, GeneratedSecretSpec, IClientAccessible, ICacheEndpoint, IDatabaseEndpoint, ILoadBalancerBackend, IMetricsTarget, IQueueBroker,
  ISecretConsumer, MaxmemoryPolicy, MetricsEndpoint, NetworkLink, PodPeer, QueueBacklog, WantedPods,
} from './core/endpoints';
export type { GuideMetrics } from './core/container-env';
export type { SecretKeyRef, SecretRef } from './core/secret-refs';
export type { ImageContract, MetricsExpectation, ProbeExpectation } from './core/image-contract';
export type { StoreTls } from './core/tls';
export type { Quantity } from './core/validation';
export type { ContainerResources, Placement } from './core/pod-defaults';
export type { PodOptions } from './core/pod-options';
export type { RolloutPolicy } from './core/rollout';
export { PodNetworkPolicy } from './core/pod-network-policy';
export type { PodNetworkPolicyProps } from './core/pod-network-policy';

export { ScaledApi } from './api/scaled-api';
export type { ScaledApiNames } from './api/object-names';
export type { WiringEnv } from './core/wiring-env';
export type {
  DatabasePool, PodMetricTarget, ProbePaths, ProbeTiming, ProbeTimings, ScaledApiProps, ScalingPolicy, ScalingRules,
} from './api/scaled-api';

// workerQueuesEnv tells a ScaledApi which queues the WorkerPools drain, for a user who composes
// them without HorizontalScalingTopology (as the charts in charts/ do).
export { WorkerPool, workerQueuesEnv } from './workers/worker-pool';
export type { JobBackoff, WorkerAutoscalerKind, WorkerPoolProps, WorkerSchedule } from './workers/worker-pool';
export type { WorkerQueue, WorkerQueueProps } from './workers/queues';

export { RedisCluster } from './redis/redis-cluster';
export type { AppendFsync } from './redis/redis-conf';
export type { RedisClusterProps, RedisMode, RedisSavePoint } from './redis/settings';

export { PgReplicaSet } from './postgres/pg-replica-set';
export type { PatroniProps, PgEngine, PgReplicaSetProps } from './postgres/pg-replica-set';
export type { PgServices } from './postgres/engine';
export type { PgAccessMode } from './postgres/settings';
export type { SynchronousCommit } from './postgres/postgres-conf';

export { LoadBalancer } from './load-balancer/load-balancer';
export type { NginxNextUpstreamCondition } from './load-balancer/nginx-conf';
export type {
  CertificateFromIssuer, GatewayReference, LoadBalancerHealth, LoadBalancerTls, LoadBalancerMode, LoadBalancerProps, LoadBalancerRoute, LoginMatch, NextUpstreamCondition, ProxyBuffers,
  ProxyCache, ProxyTimeouts, RateLimit, RateLimitUnit,
} from './load-balancer/props';

export { Observability } from './observability/observability';
export type { GuideMetricsRecording, ObservabilityMode, ObservabilityProps, ReferenceGroups } from './observability/settings';
export type { AlertRule, MonitoredEndpoint, RecordingRule, RuleGroup } from './observability/rules';
export type { StandalonePrometheus, StandaloneServer } from './observability/mode';

export { GeneratedSecrets } from './secrets/generated-secrets';
export type { GeneratedSecretsProps } from './secrets/generated-secrets';

export { PodSecurityNamespace } from './cluster/pod-security-namespace';
export type { PodSecurityLevel, PodSecurityNamespaceProps } from './cluster/pod-security-namespace';

export { HorizontalScalingTopology } from './topology';
export type { HorizontalScalingTopologyProps } from './topology';
