/**
 * The pure functions that write what a server reads (nginx.conf, redis.conf, sentinel.conf,
 * postgresql.conf, pg_hba.conf, Prometheus rules and configuration, Grafana dashboards) and what a
 * chart needs before it applies (`externalRequirements`, `renderApplySteps`).
 *
 * @packageDocumentation
 */

// `hscale/render`: the pure functions that write what a server reads (nginx.conf, redis.conf,
// sentinel.conf, postgresql.conf, pg_hba.conf, Patroni's patroni.yml, Prometheus rules and configuration, Grafana
// dashboards, the metrics adapter's rules) and what must exist before a chart applies. The
// constructs put their output in ConfigMaps; users feed it to their own servers and tests.
// The scripts the pods run (start, init, cluster-create, secret generation) are internal: they
// are written for the pods the constructs build. etc/render.api.md is the report of this file.

// Types of the renderers' options that `hscale` exports too, so each subpath is complete alone.
export type { MaxmemoryPolicy, MetricsEndpoint, QueueBacklog, WantedPods } from './core/endpoints';
export type { AppendFsync } from './redis/redis-conf';
export type { TlsFiles } from './core/tls';
export { renderCertificateReloadLoop } from './core/tls';
export type { CertificateReloadOptions } from './core/tls';
export type { SynchronousCommit } from './postgres/postgres-conf';

export { API_UPSTREAM, NGINX_HEALTH_PATH, renderNginxConf } from './load-balancer/nginx-conf';
export type {
  NginxConfOptions, NginxExtraUpstream, NginxNextUpstreamCondition, NginxProxyBuffers, NginxProxyCache, NginxProxyTimeouts, NginxRateLimit,
  NginxRoute, NginxTls, NginxUpstreamServer,
} from './load-balancer/nginx-conf';

export { renderRedisConf, renderSentinelConf, renderSentinelMasterSettings } from './redis/redis-conf';
export type { RedisConfOptions, SentinelConfOptions } from './redis/redis-conf';
export { redisAclUsers, renderRedisAcl } from './redis/redis-acl';
export type { RedisAclOptions, RedisAclUser } from './redis/redis-acl';

export { renderPgHba, renderPostgresConf } from './postgres/postgres-conf';
export type { PgHbaOptions, PostgresConfOptions } from './postgres/postgres-conf';
export { DEFAULT_PATRONI_TIMING, patroniTimingViolation, renderPatroniConf, renderPatroniHba, worstCasePromotionSeconds } from './postgres/patroni-conf';
export type { PatroniConfOptions, PatroniHbaOptions, PatroniTiming } from './postgres/patroni-conf';

export { renderAlertRules, renderGuideRecordingRules, renderRecordingRules } from './observability/rules';
export type { AlertRule, AlertThresholds, MonitoredEndpoint, RecordingRule, RuleGroup } from './observability/rules';
export { renderDashboards } from './observability/dashboards';
export { renderPrometheusConfig } from './observability/prometheus-config';
export type { PrometheusConfigOptions } from './observability/prometheus-config';

export { renderAdapterRules } from './api/metrics-adapter-rules';
export type { AdapterRateMetric, AdapterRule } from './api/metrics-adapter-rules';

export { externalRequirements, renderApplySteps } from './cluster/requirements';
export type { AddonRequirement, ChartRequirements, CreatedSecret, KubeObject, OperatorRequirement, SecretRequirement } from './cluster/requirements';
