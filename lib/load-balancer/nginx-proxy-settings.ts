import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct } from 'constructs';
import { propError, requireOneOf, requireWholeDuration } from '../core/validation';
import {
  NGINX_NEXT_UPSTREAM_CONDITIONS, NginxNextUpstreamCondition, NginxProxyBuffers, NginxProxyTimeouts,
} from './nginx-conf';
import { LoadBalancerHealth, LoadBalancerProps, ProxyBuffers, ProxyCache } from './props';

/** The proxy cache of nginx mode, in nginx's units; its emptyDir is sized from `maxSizeMib`. */
export interface NginxCacheSettings {
  readonly keysZoneMib: number;
  readonly maxSizeMib: number;
  readonly inactiveSeconds: number;
}

/** How nginx mode proxies: retries, timeouts, buffers, HTTP/2, cache and health. */
export interface NginxProxySettings {
  readonly nextUpstreamConditions: NginxNextUpstreamCondition[];
  /** Writes to the backend follow `nextUpstreamConditions` when absent. */
  readonly writeResendConditions?: NginxNextUpstreamCondition[];
  readonly proxyTimeouts: NginxProxyTimeouts;
  /** nginx's defaults when absent. */
  readonly proxyBuffers?: NginxProxyBuffers;
  readonly websocketReadTimeoutSeconds: number;
  readonly http2: boolean;
  /** No cache when absent. */
  readonly proxyCache?: NginxCacheSettings;
  readonly health: LoadBalancerHealth;
}

/** Retrying a pod that failed or is draining; writes are resent apart (`resendWrites`), on failures alone. */
export const DEFAULT_NEXT_UPSTREAM_CONDITIONS: NginxNextUpstreamCondition[] = ['error', 'timeout', 'http_502', 'http_503'];

/** Validates the proxy props of nginx mode; `memoryLimitMib` bounds the cache's keys zone. */
export function resolveNginxProxySettings(scope: Construct, props: LoadBalancerProps, memoryLimitMib: number): NginxProxySettings {
  if (props.http2 && !props.tls) {
    throw propError(scope, 'http2', true, 'needs \'tls\': HTTP/2 is served on the TLS listener only');
  }
  const timeouts = props.proxyTimeouts ?? {};
  const nextUpstreamConditions = resolveNextUpstream(scope, props.nextUpstreamOn ?? DEFAULT_NEXT_UPSTREAM_CONDITIONS);
  return {
    nextUpstreamConditions,
    writeResendConditions: resolveWriteResend(scope, props.resendWrites, nextUpstreamConditions),
    proxyTimeouts: {
      connectSeconds: requireWholeDuration(scope, 'proxyTimeouts.connect', timeouts.connect ?? Duration.seconds(2), 'seconds', 1, 75),
      sendSeconds: requireWholeDuration(scope, 'proxyTimeouts.send', timeouts.send ?? Duration.seconds(30), 'seconds', 1, 3600),
      readSeconds: requireWholeDuration(scope, 'proxyTimeouts.read', timeouts.read ?? Duration.seconds(30), 'seconds', 1, 3600),
    },
    proxyBuffers: props.proxyBuffers && resolveProxyBuffers(scope, props.proxyBuffers),
    websocketReadTimeoutSeconds: requireWholeDuration(scope, 'websocketReadTimeout', props.websocketReadTimeout ?? Duration.hours(1), 'seconds', 1, 86400),
    http2: props.http2 ?? false,
    proxyCache: props.proxyCache && resolveProxyCache(scope, props.proxyCache, memoryLimitMib),
    health: requireOneOf(scope, 'health', props.health ?? 'nginx', ['nginx', 'backend']),
  };
}

function resolveNextUpstream(scope: Construct, conditions: NginxNextUpstreamCondition[]): NginxNextUpstreamCondition[] {
  const listed = conditions.join(' ');
  conditions.forEach((condition, i) => requireOneOf(scope, `nextUpstreamOn[${i}]`, condition, NGINX_NEXT_UPSTREAM_CONDITIONS));
  if (conditions.length === 0 || new Set(conditions).size !== conditions.length) {
    throw propError(scope, 'nextUpstreamOn', listed, 'must list one or more conditions, each once');
  }
  if (conditions.includes('off') && conditions.length > 1) {
    throw propError(scope, 'nextUpstreamOn', listed, 'must hold \'off\' alone or not at all');
  }
  if (conditions.length === 1 && conditions[0] === 'non_idempotent') {
    throw propError(scope, 'nextUpstreamOn', listed, 'must also hold the conditions to retry on: \'non_idempotent\' only extends them to POST, LOCK and PATCH');
  }
  return conditions;
}

/** The pod failed to answer: a write it got may or may not have been applied, so only a deduping backend may get it again. */
const FAILED_TO_ANSWER: NginxNextUpstreamCondition[] = ['error', 'timeout'];

function resolveWriteResend(scope: Construct, resendWrites: boolean | undefined, conditions: NginxNextUpstreamCondition[]): NginxNextUpstreamCondition[] | undefined {
  const listed = conditions.join(' ');
  const decided = conditions.find(condition => condition === 'off' || condition === 'non_idempotent');
  if (decided) {
    if (resendWrites) throw propError(scope, 'resendWrites', true, `must be left unset: 'nextUpstreamOn' (${listed}) holds '${decided}', which already decides for writes`);
    return undefined;
  }
  const failedToAnswer = conditions.filter(condition => FAILED_TO_ANSWER.includes(condition));
  if (failedToAnswer.length === 0) {
    if (resendWrites) throw propError(scope, 'resendWrites', true, `needs 'error' or 'timeout' in 'nextUpstreamOn' (${listed}): the failures a write is resent on`);
    return undefined;
  }
  return resendWrites === false ? undefined : [...failedToAnswer, 'non_idempotent'];
}

function resolveProxyBuffers(scope: Construct, buffers: ProxyBuffers): NginxProxyBuffers {
  const headerBufferKib = wholeKib(scope, 'proxyBuffers.headerBufferSize', buffers.headerBufferSize);
  const sizeKib = wholeKib(scope, 'proxyBuffers.bufferSize', buffers.bufferSize);
  const count = wholeNumber(scope, 'proxyBuffers.count', buffers.count, 'buffers', 2, 1024);
  // nginx refuses a config whose default proxy_busy_buffers_size (twice the larger buffer) is not below all buffers but one.
  const busyKib = 2 * Math.max(headerBufferKib, sizeKib);
  if (busyKib >= (count - 1) * sizeKib) {
    throw propError(scope, 'proxyBuffers.count', count,
      `must make (count - 1) x bufferSize exceed twice the larger buffer (${busyKib} KiB), as nginx requires`);
  }
  return { headerBufferKib, count, sizeKib };
}

function resolveProxyCache(scope: Construct, cache: ProxyCache, memoryLimitMib: number): NginxCacheSettings {
  const keysZoneMib = wholeMib(scope, 'proxyCache.keysZoneSize', cache.keysZoneSize ?? Size.mebibytes(100), 1024);
  if (keysZoneMib > memoryLimitMib / 2) {
    throw propError(scope, 'proxyCache.keysZoneSize', `${keysZoneMib}Mi`,
      `must be at most half of 'resources.memoryLimit' (${memoryLimitMib}Mi): the keys live in nginx's memory`);
  }
  return {
    keysZoneMib,
    maxSizeMib: wholeMib(scope, 'proxyCache.maxSize', cache.maxSize ?? Size.gibibytes(1), 1024 * 1024),
    inactiveSeconds: requireWholeDuration(scope, 'proxyCache.inactive', cache.inactive ?? Duration.minutes(60), 'seconds', 1, 30 * 86400),
  };
}

function wholeNumber(scope: Construct, prop: string, value: number, unit: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw propError(scope, prop, value, `must be a whole number of ${unit} from ${min} to ${max}`);
  }
  return value;
}

function wholeKib(scope: Construct, prop: string, size: Size, maxKib = 1024): number {
  return wholeNumber(scope, prop, size.toKibibytes({ rounding: SizeRoundingBehavior.NONE }), 'KiB', 1, maxKib);
}

/** `client_max_body_size` in nginx's units: `m` when whole MiB, else `k`. Never 0 (no limit). */
export function resolveClientMaxBodySize(scope: Construct, size: Size | undefined): string {
  const kib = wholeKib(scope, 'clientMaxBodySize', size ?? Size.mebibytes(1), 1024 * 1024 * 1024);
  return kib % 1024 === 0 ? `${kib / 1024}m` : `${kib}k`;
}

function wholeMib(scope: Construct, prop: string, size: Size, maxMib: number): number {
  return wholeNumber(scope, prop, size.toMebibytes({ rounding: SizeRoundingBehavior.NONE }), 'MiB', 1, maxMib);
}
