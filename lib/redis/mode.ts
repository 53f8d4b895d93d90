import * as k8s from 'cdk8s-plus-27/lib/imports/k8s';
import { Construct } from 'constructs';
import { KedaTrigger, NetworkLink } from '../core/endpoints';
import { PlanningModeModule } from '../core/mode';
import { PodNetworkPolicy } from '../core/pod-network-policy';
import { RedisClusterProps, RedisClusterSettings, RedisTopologyBase } from './settings';

/**
 * One way of running Redis, in its own file and registered in `modes.ts`, on the one mode shape of
 * every construct (lib/core/mode.ts): `resolve` validates the props only this mode reads (`ownProps`,
 * each `@onlyWhen mode=...` in RedisClusterProps) into its topology; `plan` says what it adds to the
 * objects RedisCluster builds for every mode (the ConfigMap, the data StatefulSet with its exporter,
 * its Services, PDB and NetworkPolicy); `build` makes what only this mode has.
 */
export type RedisModeModule<T extends RedisTopologyBase> = PlanningModeModule<RedisClusterProps, T, RedisClusterSettings, RedisModePlan, RedisModeObjects, RedisSharedObjects>;

/** A mode's part of one RedisCluster, known before any object is created. */
export interface RedisModePlan {
  /** Whether redis.conf turns Redis Cluster on. */
  readonly clusterEnabled: boolean;
  /** Ports the Redis pods use between themselves, the Redis port first; empty when one pod has no peer. */
  readonly peerPorts: number[];
  /** Whether every master has replicas, so one without is alerted on. */
  readonly replicated: boolean;
  /** Ports of the Redis container besides `redis`. */
  readonly extraRedisPorts: k8s.ContainerPort[];
  /** Files of the ConfigMap after `redis.conf`: the Redis pods' `start.sh` first, then the mode's own. */
  readonly configFiles: Record<string, string>;
  /** Env of the Redis container after the shared env. */
  readonly redisEnv: k8s.EnvVar[];
  /** `host:port` of every Sentinel; empty when the mode has none. */
  readonly sentinelHosts: string[];
  /** The master name the Sentinels know, when the mode has Sentinels. */
  readonly masterName?: string;
}

/** The RedisCluster as a mode's `build` sees it: its settings and the shared objects the mode's own objects refer to. */
export interface RedisSharedObjects {
  /** The RedisCluster, scope of the mode's objects. */
  readonly scope: Construct;
  /** The RedisCluster's settings, the mode's topology among them. */
  readonly settings: RedisClusterSettings;
  /** `host:port` of every Redis pod. */
  readonly nodes: string[];
  /** Labels of the Redis pods. */
  readonly podSelector: Record<string, string>;
  /** The Redis pods' NetworkPolicy, which the mode opens to its own pods. */
  readonly networkPolicy: PodNetworkPolicy;
  readonly configMap: k8s.KubeConfigMap;
  readonly configHash: string;
}

/** What a mode built, and how clients reach it. */
export interface RedisModeObjects {
  /** Env a client container needs. */
  readonly clientEnv: k8s.EnvVar[];
  /** The pods and ports a client opens connections to. */
  readonly clientLinks: NetworkLink[];
  /** The KEDA trigger that reads a list's length, as a queue broker's autoscaled workers need it. */
  listLengthTrigger(listName: string, listLength: number): KedaTrigger;
  /** The Job that creates a Redis Cluster. */
  readonly createJob?: k8s.KubeJob;
  /** RE2 patterns matching the names of every Job the mode makes, this version's and earlier ones' (a name carries a hash of its spec). */
  readonly jobNamePatterns?: string[];
  /** The create Job's NetworkPolicy: it reaches the nodes' Redis port and DNS, and nothing reaches it. */
  readonly createJobNetworkPolicy?: PodNetworkPolicy;
  /** The Sentinels' StatefulSet, headless Service, PDB and NetworkPolicy. */
  readonly sentinelStatefulSet?: k8s.KubeStatefulSet;
  readonly sentinelService?: k8s.KubeService;
  readonly sentinelDisruptionBudget?: k8s.KubePodDisruptionBudget;
  readonly sentinelNetworkPolicy?: PodNetworkPolicy;
}
