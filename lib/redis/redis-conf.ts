import { MaxmemoryPolicy } from '../core/endpoints';
import { backgroundReloadLoop, TlsFiles } from '../core/tls';
import { valuesOf } from '../core/validation';
import { REDIS_USERS } from './redis-acl';

/** When Redis fsyncs the append-only file. */
export type AppendFsync = 'always' | 'everysec' | 'no';
export const APPENDFSYNC_MODES = valuesOf<AppendFsync>({ always: true, everysec: true, no: true });

/** Everything `renderRedisConf` needs. */
export interface RedisConfOptions {
  readonly port: number;
  /** Addresses to listen on. */
  readonly bind: string;
  /** Data directory (AOF, RDB and nodes.conf). */
  readonly dir: string;
  /** Redis Cluster mode; otherwise a server on its own (standalone, or a Sentinel-managed master or replica). */
  readonly cluster: boolean;
  /** Milliseconds a node may be unreachable before it is failed over (cluster mode). */
  readonly clusterNodeTimeoutMs: number;
  /** Memory limit of the dataset in bytes. */
  readonly maxmemoryBytes: number;
  readonly maxmemoryPolicy: MaxmemoryPolicy;
  readonly appendonly: boolean;
  readonly appendfsync: AppendFsync;
  /** RDB save points, e.g. `['3600 1', '300 100']`; empty disables RDB snapshots. */
  readonly savePoints: string[];
  /** Seconds between TCP keepalive probes to clients, which also find dead peers. */
  readonly tcpKeepaliveSeconds: number;
  /** The server's certificate, key and CA: `port` serves TLS only, and replication (and the cluster bus) runs over TLS. @default - no TLS */
  readonly tls?: TlsFiles;
}

/** The port lines: `port` itself, or with `tls` no plain port at all and TLS on `port`. */
function portLines(port: number, tls: TlsFiles | undefined): string[] {
  return tls ? ['port 0', `tls-port ${port}`] : [`port ${port}`];
}

/**
 * TLS with the mounted files, TLS 1.2 and 1.3 only. Clients log in with their ACL user's password,
 * so none is asked for a certificate; a replica (and a Sentinel) connects to its master over TLS and
 * verifies it against the CA. Redis checks the chain, not the host name: the CA must sign only this
 * store's certificates (one CA per store, as cert-manager's self-signed issuer per store gives).
 */
function tlsLines(tls: TlsFiles): string[] {
  return [
    '',
    `tls-cert-file ${tls.certFile}`,
    `tls-key-file ${tls.keyFile}`,
    `tls-ca-cert-file ${tls.caFile}`,
    'tls-auth-clients no',
    'tls-protocols "TLSv1.2 TLSv1.3"',
    'tls-replication yes',
  ];
}

/**
 * Renders `redis.conf`. It holds no password and no host name: the start script
 * (`renderRedisStartScript`) appends the ACL file (`renderRedisAcl`), the replication login and
 * the announced host name at container start, from the Secret and the pod's own DNS name.
 */
export function renderRedisConf(o: RedisConfOptions): string {
  const lines = [
    '# Rendered by hscale renderRedisConf; edit the RedisCluster props, not this file.',
    ...portLines(o.port, o.tls),
    `bind ${o.bind}`,
    // Authentication is always on (the ACL file turns the default user off), so protected mode adds nothing but refusals.
    'protected-mode no',
    `dir ${o.dir}`,
    'daemonize no',
    'loglevel notice',
    'logfile ""',
    `tcp-keepalive ${o.tcpKeepaliveSeconds}`,
    'timeout 0',
    '',
    `maxmemory ${o.maxmemoryBytes}`,
    `maxmemory-policy ${o.maxmemoryPolicy}`,
    '',
    `appendonly ${o.appendonly ? 'yes' : 'no'}`,
    `appendfsync ${o.appendfsync}`,
    'appenddirname appendonlydir',
    `save "${o.savePoints.join(' ')}"`,
    'dbfilename dump.rdb',
    '',
    // A replica keeps answering reads while it resyncs, and refuses writes.
    'replica-serve-stale-data yes',
    'replica-read-only yes',
    'repl-diskless-sync yes',
  ];
  if (o.cluster) {
    lines.push(
      '',
      'cluster-enabled yes',
      'cluster-config-file nodes.conf',
      `cluster-node-timeout ${o.clusterNodeTimeoutMs}`,
      // Serve the slots that are up while another shard fails over.
      'cluster-require-full-coverage no',
      'cluster-allow-reads-when-down no',
      'cluster-replica-validity-factor 0',
      // Clients and nodes learn DNS names, which survive a pod's new IP, instead of stale pod IPs.
      'cluster-preferred-endpoint-type hostname',
    );
  }
  if (o.tls) lines.push(...tlsLines(o.tls), ...(o.cluster ? ['tls-cluster yes'] : []));
  return lines.join('\n') + '\n';
}

/** Everything `renderSentinelConf` needs. */
export interface SentinelConfOptions {
  readonly port: number;
  readonly bind: string;
  readonly dir: string;
  /** Name clients ask the Sentinels for. */
  readonly masterName: string;
  /** Sentinels that must agree the master is down. */
  readonly quorum: number;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
  /** Replicas that resync with a new master at once. */
  readonly parallelSyncs: number;
  /** The Sentinel's certificate, key and CA: clients and Sentinels reach it over TLS only, and it reaches Redis over TLS. @default - no TLS */
  readonly tls?: TlsFiles;
}

/**
 * Renders the base of `sentinel.conf`. The master's address and the password are not known
 * here: the Sentinel start script appends `sentinel monitor` (the current master, asked from
 * the other Sentinels, else the first pod), then `renderSentinelMasterSettings`, then the
 * Sentinel's own `requirepass` and its login to Redis (`sentinel auth-user`/`auth-pass`), into a
 * writable copy that Sentinel rewrites as it learns.
 */
export function renderSentinelConf(o: SentinelConfOptions): string {
  return [
    '# Rendered by hscale renderSentinelConf; edit the RedisCluster props, not this file.',
    ...portLines(o.port, o.tls),
    `bind ${o.bind}`,
    'protected-mode no',
    `dir ${o.dir}`,
    'daemonize no',
    'logfile ""',
    // Pods change IPs: Sentinels resolve and announce DNS names.
    'sentinel resolve-hostnames yes',
    'sentinel announce-hostnames yes',
    ...(o.tls ? tlsLines(o.tls) : []),
  ].join('\n') + '\n';
}

/** The per-master settings that must follow the `sentinel monitor` line. */
export function renderSentinelMasterSettings(o: SentinelConfOptions): string {
  return [
    `sentinel down-after-milliseconds ${o.masterName} ${o.downAfterMs}`,
    `sentinel failover-timeout ${o.masterName} ${o.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${o.masterName} ${o.parallelSyncs}`,
  ].join('\n') + '\n';
}

/** Refuses a password in `variable` that would break the double-quoted config line it goes into. */
function checkQuotable(variable: string): string[] {
  return [
    `: "\${${variable}:?${variable} must be set from the Secret}"`,
    `case "$${variable}" in`,
    '  *\\"*|*\\\\*|*"',
    `"*) echo "${variable} must not contain a double quote, a backslash or a newline" >&2; exit 1 ;;`,
    'esac',
  ];
}

/**
 * Writes the ACL file (`renderRedisAcl`) with the sha256 of each user's password from its env var
 * in place of the `#{<ENV>}` placeholder, and points redis.conf at it: the password itself is
 * written nowhere. A placeholder whose env var is unset stops the start.
 */
const WRITE_ACL_FILE = [
  'acl="$RUN_DIR/users.acl"',
  'cp "$CONF_DIR/users.acl" "$acl"',
  'for variable in $(sed -n \'s/.*#{\\([A-Z_]*\\)}.*/\\1/p\' "$acl"); do',
  '  eval "value=\\${$variable:?$variable must be set from the Secret}"',
  '  sum=$(printf %s "$value" | sha256sum | cut -c1-64)',
  '  sed -i "s/#{$variable}/#$sum/" "$acl"',
  'done',
  'echo "aclfile $acl" >> "$conf"',
];

/** TLS of the scripts: the files their redis-cli verifies servers with, and how often a server's start script checks them for a renewal. */
export interface RedisScriptTls {
  readonly files: TlsFiles;
  readonly checkSeconds: number;
}

/** `lines` with every redis-cli over TLS, verifying the server against the CA, when there is `tls`. */
function withCli(lines: string[], tls: RedisScriptTls | undefined): string[] {
  return tls ? lines.map(line => line.replace(/\bredis-cli /g, `redis-cli --tls --cacert ${tls.files.caFile} `)) : lines;
}

/**
 * With TLS, the loop that has redis-server read renewed files again: CONFIG SET of a TLS file
 * reloads it even when the name is unchanged, and a pair that does not load leaves the old one serving.
 */
function redisCertificateReload(tls: RedisScriptTls): string[] {
  const { certFile, keyFile, caFile } = tls.files;
  const reload = `REDISCLI_AUTH="$REDIS_CERTIFICATES_PASSWORD" redis-cli --user ${REDIS_USERS.certificates} -p "$REDIS_PORT" `
    + `config set tls-cert-file ${certFile} tls-key-file ${keyFile} tls-ca-cert-file ${caFile}`;
  return withCli([backgroundReloadLoop({ files: [certFile, keyFile, caFile], reload, intervalSeconds: tls.checkSeconds })], tls);
}

/**
 * With TLS, the loop that restarts a Sentinel on renewed files: Sentinel has no CONFIG SET of its
 * TLS files, so it exits and the kubelet starts it again (it asks its peers for the master). Each
 * waits 30 s per ordinal first, so the Sentinels do not all restart at once and a quorum stays.
 */
function sentinelCertificateReload(tls: RedisScriptTls): string[] {
  const { certFile, keyFile, caFile } = tls.files;
  const reload = 'sleep $(( ${POD_NAME##*-} * 30 )); kill $$';
  return [backgroundReloadLoop({ files: [certFile, keyFile, caFile], reload, intervalSeconds: tls.checkSeconds })];
}

/**
 * Asks each Sentinel in $SENTINEL_HOSTS for the master, logged in with $SENTINEL_PASSWORD (they
 * `requirepass` it: without it each answers NOAUTH); prints `host port`, or nothing.
 */
const ASK_SENTINELS = [
  'current_master() {',
  '  for sentinel in $SENTINEL_HOSTS; do',
  '    answer=$(REDISCLI_AUTH="$SENTINEL_PASSWORD" redis-cli -h "${sentinel%:*}" -p "${sentinel##*:}" --raw sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr -d \'\\r\' | tr \'\\n\' \' \' | sed \'s/ *$//\')',
  '    case "$answer" in',
  '      *" "[0-9]*) echo "$answer"; return 0 ;;',
  '    esac',
  '  done',
  '}',
];

/**
 * Cluster mode: nodes.conf keeps each peer's last IP, and Redis connects to peers by IP only (the
 * announced host name is for clients). When every pod restarts at once (a node-pool upgrade, a
 * zone lost) every IP changes and no node can reach another. So a node that was already a member
 * asks its own server to MEET each peer at the address its stable DNS name has now: the handshake
 * answers with a node id it knows, and Redis moves that peer to the new address (the peers learn
 * ours from its pings). A fresh node never meets anyone: joining it is the create Job's call.
 * Runs in the background until every peer is connected at its current address, bounded by
 * MEET_SECONDS; `exec` then makes redis-server its parent.
 */
const MEET_PEERS_AFTER_START = [
  ': "${REDIS_NODES:?}"',
  'data_dir=$(sed -n \'s/^dir //p\' "$conf")',
  'if [ "$(grep -cv -e \'^vars \' -e \' myself,\' -e \'^$\' "$data_dir/nodes.conf" 2>/dev/null)" -gt 0 ] 2>/dev/null; then',
  '  (',
  '    export REDISCLI_AUTH="$REDIS_OPERATOR_PASSWORD"',
  '    deadline=$(( $(date +%s) + ${MEET_SECONDS:-300} ))',
  '    while [ "$(date +%s)" -lt "$deadline" ]; do',
  '      sleep 2',
  '      pending=0',
  '      for node in $REDIS_NODES; do',
  '        [ "$node" = "$ANNOUNCE_HOST:$REDIS_PORT" ] && continue',
  '        ip=$(getent hosts "${node%:*}" | awk \'{ print $1; exit }\')',
  '        address="${ip:-${node%:*}}:${node##*:}"',
  '        if ! redis-cli --user operator -p "$REDIS_PORT" cluster nodes 2>/dev/null | grep -q " $address@[^ ]* [^ ]*\\(master\\|slave\\).* connected"; then',
  '          pending=1',
  '          redis-cli --user operator -p "$REDIS_PORT" cluster meet "${address%:*}" "${address##*:}" >/dev/null 2>&1 || true',
  '        fi',
  '      done',
  '      [ "$pending" = 0 ] && exit 0',
  '    done',
  '    echo "gave up meeting the peers after ${MEET_SECONDS:-300} s" >&2',
  '  ) &',
  'fi',
];

/**
 * The start script of a Redis pod. Env: CONF_DIR (rendered redis.conf and users.acl), RUN_DIR
 * (writable), the password env of every user in users.acl, ANNOUNCE_HOST (the pod's DNS name),
 * REDIS_PORT; in sentinel mode also SENTINEL_HOSTS (`host:port ...`), SENTINEL_PASSWORD,
 * MASTER_NAME, INITIAL_MASTER_HOST (pod 0) and optionally INITIAL_MASTER_PORT (default
 * REDIS_PORT); in cluster mode also REDIS_NODES (`host:port` of every node, by stable DNS name)
 * and optionally MEET_SECONDS.
 */
export function renderRedisStartScript(mode: 'cluster' | 'sentinel' | 'standalone', tls?: RedisScriptTls): string {
  const lines = [
    '#!/bin/sh',
    '# Rendered by hscale renderRedisStartScript: writes the ACL users\' password hashes, the',
    '# replication login and the pod\'s DNS name beside a writable copy of redis.conf, then runs redis-server.',
    'set -eu',
    ': "${ANNOUNCE_HOST:?}" "${REDIS_PORT:?}" "${CONF_DIR:?}" "${RUN_DIR:?}"',
    'conf="$RUN_DIR/redis.conf"',
    'cp "$CONF_DIR/redis.conf" "$conf"',
    ...WRITE_ACL_FILE,
  ];
  if (mode !== 'standalone') {
    // A replica logs in to its master as the replication user, which may do nothing else.
    lines.push(
      ...checkQuotable('REDIS_REPLICATION_PASSWORD'),
      'printf \'masteruser replication\\nmasterauth "%s"\\n\' "$REDIS_REPLICATION_PASSWORD" >> "$conf"',
    );
  }
  if (mode === 'cluster') {
    lines.push('echo "cluster-announce-hostname $ANNOUNCE_HOST" >> "$conf"', ...withCli(MEET_PEERS_AFTER_START, tls));
  } else if (mode === 'sentinel') {
    lines.push(
      ': "${SENTINEL_HOSTS:?}" "${SENTINEL_PASSWORD:?}" "${MASTER_NAME:?}" "${INITIAL_MASTER_HOST:?}"',
      ...withCli(ASK_SENTINELS, tls),
      // After a failover the first pod is no longer the master: follow whoever the Sentinels name.
      'master=$(current_master || true)',
      'if [ -z "$master" ]; then master="$INITIAL_MASTER_HOST ${INITIAL_MASTER_PORT:-$REDIS_PORT}"; fi',
      'if [ "$master" != "$ANNOUNCE_HOST $REDIS_PORT" ]; then',
      '  echo "replicaof $master" >> "$conf"',
      'fi',
      'echo "replica-announce-ip $ANNOUNCE_HOST" >> "$conf"',
    );
  }
  lines.push(...(tls ? redisCertificateReload(tls) : []), 'exec redis-server "$conf"');
  return lines.join('\n') + '\n';
}

/**
 * The start script of a Sentinel pod. Env: CONF_DIR (sentinel.conf and sentinel-master.conf),
 * RUN_DIR, SENTINEL_PASSWORD (what clients and Sentinels send a Sentinel), REDIS_SENTINEL_USER_PASSWORD
 * (the `sentinel` ACL user's on Redis), ANNOUNCE_HOST, SENTINEL_PORT, REDIS_PORT, SENTINEL_HOSTS (the other
 * Sentinels), MASTER_NAME, INITIAL_MASTER_HOST, QUORUM.
 */
export function renderSentinelStartScript(tls?: RedisScriptTls): string {
  return [
    '#!/bin/sh',
    '# Rendered by hscale renderSentinelStartScript: monitors the current master (asked from the',
    '# other Sentinels, else the first Redis pod) with the password from the Secret.',
    'set -eu',
    ...checkQuotable('SENTINEL_PASSWORD'),
    ...checkQuotable('REDIS_SENTINEL_USER_PASSWORD'),
    ': "${ANNOUNCE_HOST:?}" "${SENTINEL_PORT:?}" "${REDIS_PORT:?}" "${CONF_DIR:?}" "${RUN_DIR:?}"',
    ': "${SENTINEL_HOSTS:?}" "${MASTER_NAME:?}" "${INITIAL_MASTER_HOST:?}" "${QUORUM:?}"',
    ...withCli(ASK_SENTINELS, tls),
    'master=$(current_master || true)',
    'if [ -z "$master" ]; then master="$INITIAL_MASTER_HOST ${INITIAL_MASTER_PORT:-$REDIS_PORT}"; fi',
    'conf="$RUN_DIR/sentinel.conf"',
    'cp "$CONF_DIR/sentinel.conf" "$conf"',
    '{',
    '  echo "sentinel announce-ip $ANNOUNCE_HOST"',
    '  echo "sentinel announce-port $SENTINEL_PORT"',
    '  echo "sentinel monitor $MASTER_NAME $master $QUORUM"',
    '  cat "$CONF_DIR/sentinel-master.conf"',
    // Clients and the other Sentinels log in with SENTINEL_PASSWORD; this Sentinel logs in to Redis as its sentinel user.
    '  printf \'requirepass "%s"\\nsentinel sentinel-pass "%s"\\n\' "$SENTINEL_PASSWORD" "$SENTINEL_PASSWORD"',
    '  echo "sentinel auth-user $MASTER_NAME sentinel"',
    '  printf \'sentinel auth-pass %s "%s"\\n\' "$MASTER_NAME" "$REDIS_SENTINEL_USER_PASSWORD"',
    '} >> "$conf"',
    ...(tls ? sentinelCertificateReload(tls) : []),
    'exec redis-server "$conf" --sentinel',
  ].join('\n') + '\n';
}

/**
 * The readiness check of a Redis container: a master that answers is ready; a replica only once
 * its link to the master is up and no full sync is in progress, so a replica still loading the
 * master's data counts as unavailable (the PDB then holds back the next eviction). It logs in
 * as the exporter user, which may read INFO and nothing else. Env: REDIS_EXPORTER_PASSWORD; the
 * port is the argument.
 */
export function renderRedisReadinessCheck(port: number, tls?: RedisScriptTls): string {
  return withCli([
    `info=$(REDISCLI_AUTH="$REDIS_EXPORTER_PASSWORD" redis-cli --user exporter -p ${port} info replication | tr -d '\r') || exit 1`,
    'case "$info" in *role:master*) exit 0 ;; esac',
    'case "$info" in *master_link_status:up*master_sync_in_progress:0*) exit 0 ;; esac',
    'exit 1',
  ], tls).join('\n');
}

/** The create script's functions that read an existing cluster and join a blank node to it. */
const CLUSTER_JOIN_FUNCTIONS = [
  '# Replicas attach through gossip after a create or a join returns: wait until every one is seen.',
  'formed() {',
  '  [ "$(info "$first" cluster_state)" = ok ] &&',
  '    [ "$(cli "$first" cluster nodes | grep -v fail | grep -c slave)" -ge "$replicas" ]',
  '}',
  '# Masters serving slots, not failed.',
  'masters() { cli "$first" cluster nodes | awk \'$3 ~ /master/ && $3 !~ /fail/ && NF >= 9\' | wc -l; }',
  'join() {',
  '  shards=$(( total - replicas ))',
  '  if [ "$(masters)" -lt "$shards" ]; then',
  '    echo "$1 is blank, and the cluster has $(masters) masters serving slots of the $shards asked for: adding a master (more shards) or replacing one lost with no replica is done by hand (docs/runbooks/alerts.md#redisclusterslotsfailed)" >&2',
  '    exit 1',
  '  fi',
  '  # Every member forgets the failed node that announced this host name (the pod before its volume was lost).',
  '  for id in $(cli "$first" cluster nodes | awk -v h="${1%:*}" \'$3 ~ /(^|,)fail(,|$)/ { n = split($2, a, ","); if (a[n] == h) print $1 }\'); do',
  '    echo "forgetting $id, the failed node $1 was"',
  '    for peer in $REDIS_NODES; do [ "$peer" = "$1" ] || cli "$peer" cluster forget "$id" >/dev/null; done',
  '  done',
  '  echo "joining $1 as a replica of the master with the fewest"',
  '  redis-cli --user operator --cluster add-node "$(address "$1")" "$(address "$first")" --cluster-slave',
  '}',
];

/**
 * The cluster-create Job's script: waits until every node answers, then creates the cluster
 * with `redis-cli --cluster create` unless it exists, and waits until it is formed. On an existing
 * cluster it joins the blank nodes (no slots, knowing no peer: a pod whose volume was lost, or a
 * replica `replicasPerShard` added) as replicas of the masters with the fewest, after every member
 * forgets the failed node that announced the same host name; an unchanged cluster it leaves
 * alone. It adds no master: more shards, or a master lost with no replica, are refused with a
 * pointer to the runbook. Env: REDIS_NODES (`host:port ...`), REPLICAS_PER_SHARD,
 * REDIS_OPERATOR_PASSWORD, WAIT_SECONDS.
 */
export function renderClusterCreateScript(tls?: RedisScriptTls): string {
  return withCli([
    '#!/bin/sh',
    '# Rendered by hscale renderClusterCreateScript.',
    'set -eu',
    ': "${REDIS_NODES:?}" "${REPLICAS_PER_SHARD:?}" "${REDIS_OPERATOR_PASSWORD:?}"',
    // The operator user: cluster commands, INFO and PING, and no key.
    'export REDISCLI_AUTH="$REDIS_OPERATOR_PASSWORD"',
    'deadline=$(( $(date +%s) + ${WAIT_SECONDS:-300} ))',
    'cli() { node=$1; shift; redis-cli --user operator -h "${node%:*}" -p "${node##*:}" "$@" 2>/dev/null | tr -d \'\\r\'; }',
    'info() { cli "$1" cluster info | sed -n "s/^$2://p"; }',
    // redis-cli --cluster wants addresses; the nodes announce their DNS names afterwards.
    'address() { ip=$(getent hosts "${1%:*}" | awk \'{ print $1; exit }\'); echo "${ip:-${1%:*}}:${1##*:}"; }',
    'wait_until() {',
    '  until eval "$2"; do',
    '    if [ "$(date +%s)" -ge "$deadline" ]; then echo "timed out waiting for $1" >&2; exit 1; fi',
    '    sleep 1',
    '  done',
    '}',
    ...CLUSTER_JOIN_FUNCTIONS,
    'addresses="" blank="" member=""',
    'for node in $REDIS_NODES; do',
    '  wait_until "$node to answer" \'[ "$(cli "$node" ping)" = PONG ]\'',
    '  addresses="$addresses $(address "$node")"',
    '  if [ "$(info "$node" cluster_slots_assigned)" = 0 ] && [ "$(info "$node" cluster_known_nodes)" = 1 ]; then blank="$blank $node"; else member=${member:-$node}; fi',
    'done',
    'total=$(echo $REDIS_NODES | wc -w)',
    'replicas=$(( total - total / (REPLICAS_PER_SHARD + 1) ))',
    'if [ -n "$member" ]; then',
    '  first=$member',
    '  echo "the cluster exists ($member knows $(info "$member" cluster_known_nodes) nodes)"',
    '  [ -z "$blank" ] && echo "every node is a member: nothing to create or join"',
    '  for node in $blank; do join "$node"; done',
    '  wait_until "the cluster to be formed" formed',
    '  exit 0',
    'fi',
    'first=${REDIS_NODES%% *}',
    'echo "creating the cluster of$addresses"',
    '# shellcheck disable=SC2086',
    'redis-cli --user operator --cluster create $addresses --cluster-replicas "$REPLICAS_PER_SHARD" --cluster-yes',
    'wait_until "the cluster to be formed" formed',
    'echo "cluster created"',
  ], tls).join('\n') + '\n';
}
