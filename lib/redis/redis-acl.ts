/** A Redis ACL user that `renderRedisAcl` writes, with the env var its password comes from at container start. */
export interface RedisAclUser {
  /** The user name clients send with AUTH. */
  readonly name: string;
  /** The env var holding its password in every container that writes the ACL file. */
  readonly passwordEnv: string;
  /** Its key of the password Secret (the app user's is the `passwordSecret` prop's own key). */
  readonly secretKey: string;
  /** Its rules after `on`, the password and `resetkeys resetchannels -@all`. */
  readonly rules: string;
}

/** Everything `renderRedisAcl` needs. */
export interface RedisAclOptions {
  /** The mode's peers decide the users: replicas log in as `replication`, the cluster-create Job as `operator`, Sentinels as `sentinel`. */
  readonly mode: 'cluster' | 'sentinel' | 'standalone';
  /** Key prefixes of the queues (BullMQ's `prefix`, hash tag included): the only keys KEDA may read. */
  readonly queuePrefixes: string[];
  /** TLS on: the `certificates` user, which the Redis container's reload loop logs in as to have renewed files read (CONFIG SET). @default false */
  readonly tls?: boolean;
}

/**
 * Commands no client of this topology needs and no one but an operator at a shell should run:
 * configuration, persistence, replication and cluster changes, ACLs, modules, debugging, and
 * whole-keyspace commands (KEYS, FLUSHALL). INFO, which BullMQ reads for the server's version
 * and eviction policy, is the one `@dangerous` command given back to the app.
 */
const APP_RULES = '~* +@all -@dangerous +info';

/** Users whose names the other modules need (the client env, the exporter, KEDA, the scripts). */
export const REDIS_USERS = {
  app: 'app',
  exporter: 'exporter',
  keda: 'keda',
  replication: 'replication',
  operator: 'operator',
  sentinel: 'sentinel',
  certificates: 'certificates',
} as const;

/**
 * Every user of a Redis node, its password env and Secret key, and its rules. The Secret keys are
 * what `GeneratedSecrets` fills and what a hand-made Secret must hold.
 */
export function redisAclUsers(o: RedisAclOptions): RedisAclUser[] {
  // A key pattern is a glob: a prefix's own glob characters are escaped so it matches only itself.
  const queueKeys = o.queuePrefixes.map(prefix => `%R~${prefix.replace(/[*?[\]\\]/g, c => `\\${c}`)}:*`).join(' ');
  const users: RedisAclUser[] = [
    // The API and the workers: the cache's keys and BullMQ's, through its Lua scripts and blocking pops.
    { name: REDIS_USERS.app, passwordEnv: 'REDIS_PASSWORD', secretKey: 'password', rules: APP_RULES },
    // redis_exporter: INFO, ROLE and the latency and slow-log summaries; no key, and no CONFIG GET (it returns masterauth).
    {
      name: REDIS_USERS.exporter, passwordEnv: 'REDIS_EXPORTER_PASSWORD', secretKey: 'exporter-password',
      rules: '+ping +info +role +client|setname +cluster|info +slowlog|get +slowlog|len +latency|latest +latency|histogram',
    },
    // KEDA's Redis scaler: the length of the queues' wait lists; the cluster's slot map to find them.
    {
      name: REDIS_USERS.keda, passwordEnv: 'REDIS_KEDA_PASSWORD', secretKey: 'keda-password',
      rules: `+ping +llen +cluster|slots +cluster|shards ${queueKeys}`,
    },
  ];
  const peers: RedisAclUser[] = [
    // A replica's link to its master (masteruser): the replication stream and nothing else.
    { name: REDIS_USERS.replication, passwordEnv: 'REDIS_REPLICATION_PASSWORD', secretKey: 'replication-password', rules: '+ping +psync +replconf' },
    // The cluster-create Job and a restarted node's peer meeting: cluster commands and INFO, no key.
    { name: REDIS_USERS.operator, passwordEnv: 'REDIS_OPERATOR_PASSWORD', secretKey: 'operator-password', rules: '+ping +info +cluster' },
    // Sentinels: watch, announce on their hello channel, reconfigure replicas and fail over (Redis's own list).
    {
      name: REDIS_USERS.sentinel, passwordEnv: 'REDIS_SENTINEL_USER_PASSWORD', secretKey: 'sentinel-user-password',
      rules: '&__sentinel__:hello +ping +info +role +multi +exec +slaveof +replicaof +config|rewrite +client|setname +client|kill +script|kill +subscribe +publish',
    },
  ];
  if (o.tls) {
    // The Redis container's reload loop: CONFIG SET of the renewed TLS files. No other pod holds its password.
    users.push({ name: REDIS_USERS.certificates, passwordEnv: 'REDIS_CERTIFICATES_PASSWORD', secretKey: 'certificates-password', rules: '+config|set' });
  }
  const needed: Record<RedisAclOptions['mode'], string[]> = {
    cluster: [REDIS_USERS.replication, REDIS_USERS.operator],
    sentinel: [REDIS_USERS.replication, REDIS_USERS.sentinel],
    standalone: [],
  };
  return [...users, ...peers.filter(u => needed[o.mode].includes(u.name))];
}

/**
 * Renders the ACL file of a Redis node: `default` off, and one user per client kind with only the
 * commands and keys it needs. Each password is a placeholder `#{<ENV>}` that the start script
 * replaces with the sha256 of the env var's value, so neither the ConfigMap nor the file holds a
 * password. (Redis reads no comment in an ACL file, so this one carries none.)
 */
export function renderRedisAcl(o: RedisAclOptions): string {
  return [
    'user default off resetpass resetkeys resetchannels -@all',
    ...redisAclUsers(o).map(u => `user ${u.name} on #{${u.passwordEnv}} resetkeys resetchannels -@all ${u.rules}`),
  ].join('\n') + '\n';
}
