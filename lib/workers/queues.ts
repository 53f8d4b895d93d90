import { Construct } from 'constructs';
import { IQueueBroker } from '../core/endpoints';
import { propError, requireIntInRange } from '../core/validation';

// The queue props of a WorkerPool, apart from the construct, so the API's env (workerQueuesEnv)
// and the pool read them the same way.

/**
 * The key prefix the reference service gives BullMQ by default (`QUEUE_PREFIX`, read in
 * service/src/queue/settings.ts): hash-tagged, so each queue's keys share a Redis Cluster slot,
 * as BullMQ's scripts need.
 */
export const BULLMQ_PREFIX = '{hscale}';

/** The Redis list holding a queue's waiting jobs, as BullMQ stores it under `prefix`: what KEDA reads. */
export function bullmqWaitList(queue: string, prefix = BULLMQ_PREFIX): string {
  return `${prefix}:${queue}:wait`;
}

/** A queue with a concurrency of its own, e.g. `{ name: 'invoices', concurrency: 2 }` beside `'emails'` at the pool's. */
export interface WorkerQueue {
  /** Name of the queue. */
  readonly name: string;
  /** Jobs of this queue each worker pod runs at once (`WORKER_QUEUE_CONCURRENCY`). @default - the pool's `concurrency` */
  readonly concurrency?: number;
}

/** The props naming a pool's queues and where their keys live. */
export interface WorkerQueueProps {
  /** Queues the workers take jobs from, by name or with a concurrency of their own; injected as `WORKER_QUEUES`. */
  readonly queues: Array<string | WorkerQueue>;
  /**
   * Key prefix of the queues, as the image gives BullMQ (`QUEUE_PREFIX`); KEDA reads
   * `<prefix>:<queue>:wait`. On a Redis Cluster it must hold a `{hash tag}`. @default '{hscale}'
   */
  readonly queuePrefix?: string;
}

/** The queues of a pool, validated. */
export interface ResolvedQueues {
  readonly queues: string[];
  /** The queues with a concurrency of their own. */
  readonly queueConcurrency: Record<string, number>;
  readonly queuePrefix: string;
}

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const QUEUE_RULE = 'must be 1-100 letters, digits or \'._-\', starting with a letter or a digit (BullMQ refuses \':\'; the key prefix carries the hash tag)';

function queueNames(props: WorkerQueueProps): string[] {
  return props.queues.map(q => (typeof q === 'string' ? q : q.name));
}

/** Validates the queues of the pool `scope` on `broker`. */
export function resolveQueues(scope: Construct, props: WorkerQueueProps, broker: Pick<IQueueBroker, 'mode' | 'queuePrefixes'>): ResolvedQueues {
  const queues = queueNames(props);
  if (queues.length === 0) throw propError(scope, 'queues', queues, 'must name at least one queue');
  queues.forEach((queue, i) => {
    if (!QUEUE_NAME.test(queue)) throw propError(scope, `queues[${i}]`, queue, QUEUE_RULE);
  });
  const repeated = queues.find((queue, i) => queues.indexOf(queue) !== i);
  if (repeated !== undefined) throw propError(scope, 'queues', repeated, 'is listed twice; name each queue once');
  const queueConcurrency = Object.fromEntries(props.queues.flatMap((q, i) => (typeof q === 'string' || q.concurrency === undefined
    ? [] : [[q.name, requireIntInRange(scope, `queues[${i}].concurrency`, q.concurrency, 1, 1000)]])));
  return { queues, queueConcurrency, queuePrefix: resolveQueuePrefix(scope, props.queuePrefix ?? BULLMQ_PREFIX, broker) };
}

function resolveQueuePrefix(scope: Construct, prefix: string, broker: Pick<IQueueBroker, 'mode' | 'queuePrefixes'>): string {
  if (!/^[^\s:]{1,64}$/.test(prefix)) throw propError(scope, 'queuePrefix', prefix, 'must be 1-64 characters without spaces or \':\'');
  // BullMQ's scripts touch several keys of a queue at once: on a Redis Cluster they must hash to one slot.
  if (broker.mode === 'cluster' && !/\{[^}]+\}/.test(prefix)) {
    throw propError(scope, 'queuePrefix', prefix, 'must hold a hash tag such as \'{jobs}\' on a Redis Cluster broker, so each queue\'s keys share a slot');
  }
  // The broker's KEDA user reads the lists under its queuePrefixes only: another prefix would scale on refusals.
  if (!broker.queuePrefixes.includes(prefix)) {
    throw propError(scope, 'queuePrefix', prefix, `must be one of the broker's queuePrefixes (${broker.queuePrefixes.join(', ')}), which its KEDA user may read`);
  }
  return prefix;
}

/** The env of a worker or an API that uses these queues: `WORKER_QUEUES`, `QUEUE_PREFIX` and the per-queue concurrencies. */
export function queueEnv(resolved: ResolvedQueues): Array<{ name: string; value: string }> {
  const concurrency = Object.entries(resolved.queueConcurrency).map(([queue, n]) => `${queue}=${n}`).join(',');
  return [
    { name: 'WORKER_QUEUES', value: resolved.queues.join(',') },
    { name: 'QUEUE_PREFIX', value: resolved.queuePrefix },
    ...(concurrency ? [{ name: 'WORKER_QUEUE_CONCURRENCY', value: concurrency }] : []),
  ];
}

/**
 * The env of an API that enqueues for `pools` (give it in ScaledApi's `env`): `WORKER_QUEUES`, the
 * queues it accepts jobs for, and `QUEUE_PREFIX`, which must be the pools' one.
 */
export function workerQueuesEnv(pools: WorkerQueueProps[]): Record<string, string> {
  const queues = [...new Set(pools.flatMap(queueNames))];
  const prefixes = [...new Set(pools.map(p => p.queuePrefix ?? BULLMQ_PREFIX))];
  if (prefixes.length > 1) throw new Error(`workerQueuesEnv: the pools use several queue prefixes (${prefixes.join(', ')}); an API enqueues under one`);
  return queues.length > 0 ? { WORKER_QUEUES: queues.join(','), QUEUE_PREFIX: prefixes[0] } : {};
}
