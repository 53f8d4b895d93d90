import { stringify } from 'yaml';
import { TlsFiles, withCertificateReload } from '../core/tls';
import { EXPORTER_LOOPBACK, PostgresConfOptions, postgresSettings } from './postgres-conf';

/** Patroni's timing: how long the leader lock lives, how often each member runs its loop, how long a store or PostgreSQL call may retry. */
export interface PatroniTiming {
  /** Seconds the leader lock lives without a renewal (`ttl`). */
  readonly ttl: number;
  /** Seconds between two runs of each member's HA loop (`loop_wait`). */
  readonly loopWait: number;
  /** Seconds a call to the store or PostgreSQL retries before the member gives up (`retry_timeout`). */
  readonly retryTimeout: number;
}

/** The defaults: a replica leads within {@link worstCasePromotionSeconds} (9.5 s) of the leader's loss. */
export const DEFAULT_PATRONI_TIMING: PatroniTiming = { ttl: 5, loopWait: 1, retryTimeout: 2 };

// Patroni 3.0 asks each other member's REST API for its WAL position before it takes the lock,
// with a fixed 2 s timeout (ha.py fetch_node_status): a member cut off costs that much.
const MEMBER_STATUS_TIMEOUT_SECONDS = 2;
// pg_ctl promote and the end of recovery: measured at 0.2-0.6 s on the loopback test (test/patroni.test.ts).
const PROMOTION_SECONDS = 1.5;

/**
 * The longest a cluster goes without a leader after the leader's loss, by Patroni's arithmetic:
 * the lock was renewed just before the loss and lives `ttl`; a replica notices at its next loop
 * (`loop_wait`), asks the other members for their positions (2 s for one that does not answer),
 * then promotes. 5 + 1 + 2 + 1.5 = 9.5 s at the defaults.
 */
export function worstCasePromotionSeconds(timing: PatroniTiming): number {
  return timing.ttl + timing.loopWait + MEMBER_STATUS_TIMEOUT_SECONDS + PROMOTION_SECONDS;
}

/**
 * What is wrong with `ttl` for the rest of the timing, or undefined. Patroni needs `loop_wait + 2 x retry_timeout <= ttl`:
 * a leader whose store call fails retries for `retry_timeout`, twice in the worst case, and must
 * still renew the lock before it expires, or it demotes without a failure.
 */
export function patroniTimingViolation(t: PatroniTiming): string | undefined {
  const needed = t.loopWait + 2 * t.retryTimeout;
  if (needed <= t.ttl) return undefined;
  return `must be at least loopWait + 2 x retryTimeout (${t.loopWait} + 2 x ${t.retryTimeout} = ${needed} s), or a leader retrying the store loses its lock without a failure`;
}

/**
 * Everything `renderPatroniConf` needs. What differs per member or per cluster comes from env, which
 * overrides the file: PATRONI_NAME, PATRONI_KUBERNETES_NAMESPACE, PATRONI_KUBERNETES_POD_IP, the
 * listen and connect addresses, and the credentials (PATRONI_SUPERUSER_PASSWORD, ...).
 */
export interface PatroniConfOptions {
  /** The cluster's name in the store, e.g. `hscale-db`. */
  readonly scope: string;
  /** Labels Patroni selects its pods and ConfigMaps by, beside `scopeLabel`. */
  readonly labels: Record<string, string>;
  /** The label whose value is `scope` on every member and ConfigMap. */
  readonly scopeLabel: string;
  readonly timing: PatroniTiming;
  /** Replicas that must confirm each commit (Patroni's `synchronous_mode` and `synchronous_node_count`); 0 is asynchronous. */
  readonly synchronousReplicas: number;
  /** With synchronous replicas: refuse commits rather than go asynchronous when no replica can confirm (`synchronous_mode_strict`). */
  readonly synchronousModeStrict: boolean;
  /** Bytes a replica may lag and still be promoted (`maximum_lag_on_failover`). */
  readonly maximumLagOnFailover: number;
  readonly dataDir: string;
  readonly binDir: string;
  /**
   * postgresql.conf settings, as for the statefulset engine; Patroni sets the addresses, pg_hba and the standby names itself.
   * With `tls`, the members also replicate and rewind over TLS, verifying the leader against its CA (`postgresql.authentication`).
   */
  readonly postgres: PostgresConfOptions;
  /** pg_hba.conf lines. */
  readonly hba: string[];
  /** A script Patroni runs once on the new cluster (creates the application role and database). */
  readonly postBootstrap: string;
  /** Where Patroni writes the passwords for the replication and rewind connections. */
  readonly pgpass: string;
}

// Settings Patroni owns: it sets them from its own config (addresses, ports, pg_hba, the standby
// names of synchronous_mode), so a value here would be ignored or fight it.
const PATRONI_OWNED = new Set(['listen_addresses', 'port', 'hba_file', 'synchronous_standby_names', 'cluster_name']);

// Settings Patroni passes on the postgres command line from the cluster-wide (store) config only; a
// member's local value is ignored. They are written at bootstrap; later changes go through
// `patronictl edit-config` (docs/postgres-failover.md).
const CLUSTER_WIDE = new Set([
  'max_connections', 'max_locks_per_transaction', 'max_worker_processes', 'max_prepared_transactions', 'wal_level',
  'wal_log_hints', 'track_commit_timestamp', 'max_wal_senders', 'max_replication_slots', 'wal_keep_size',
]);

/** Renders Patroni's YAML config: the Kubernetes store, the timing, synchronous mode, pg_rewind, and PostgreSQL's settings. */
export function renderPatroniConf(o: PatroniConfOptions): string {
  const settings = postgresSettings(o.postgres).filter(s => !PATRONI_OWNED.has(s.name));
  const parameters = (keep: (name: string) => boolean) => Object.fromEntries(settings.filter(s => keep(s.name)).map(s => [s.name, s.value]));
  const config = {
    scope: o.scope,
    kubernetes: {
      labels: o.labels,
      scope_label: o.scopeLabel,
      role_label: 'role',
      // ConfigMaps, not Endpoints, hold the leader lock: the -rw Service then keeps its selector
      // (role=master), and Endpoints with a pod's address are written by no one but the cluster.
      use_endpoints: false,
    },
    bootstrap: {
      dcs: {
        ttl: o.timing.ttl, loop_wait: o.timing.loopWait, retry_timeout: o.timing.retryTimeout,
        maximum_lag_on_failover: o.maximumLagOnFailover,
        synchronous_mode: o.synchronousReplicas > 0,
        synchronous_mode_strict: o.synchronousReplicas > 0 && o.synchronousModeStrict,
        synchronous_node_count: Math.max(1, o.synchronousReplicas),
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: { ...parameters(name => CLUSTER_WIDE.has(name)), wal_log_hints: 'on' },
        },
      },
      // Checksums also let pg_rewind run; they catch a torn page on the replicas too.
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
      post_bootstrap: o.postBootstrap,
    },
    postgresql: memberPostgresql(o, parameters(name => !CLUSTER_WIDE.has(name))),
  };
  return `# Rendered by hscale renderPatroniConf; edit the PgReplicaSet props, not this file.\n${stringify(config, { version: '1.1' })}`;
}

/** The member's own `postgresql` section: paths, how it rejoins and clones, TLS, its local parameters and pg_hba. */
function memberPostgresql(o: PatroniConfOptions, localParameters: Record<string, string>): Record<string, unknown> {
  return {
    data_dir: o.dataDir,
    bin_dir: o.binDir,
    pgpass: o.pgpass,
    use_unix_socket: true,
    // A replica's Patroni reads its own timeline over a replication connection to itself (IDENTIFY_SYSTEM):
    // on the socket, which pg_hba admits; over TCP it would come from 127.0.0.1, which no pod network
    // is, be refused, and every replica's GET /metrics would carry 'patroni_postgres_timeline None',
    // which Prometheus refuses with the whole scrape.
    use_unix_socket_repl: true,
    // A failed leader rejoins as a replica: pg_rewind when its timeline forked, a fresh clone
    // when that fails, rather than a member that stays down until someone wipes its volume.
    remove_data_directory_on_rewind_failure: true,
    remove_data_directory_on_diverged_timelines: true,
    // A new or re-cloned replica's pg_basebackup asks the leader for an immediate checkpoint: the
    // default spread one waits up to checkpoint_completion_target x checkpoint_timeout (97 s seen
    // on the test's freshly bootstrapped leader) before the copy starts.
    basebackup: [{ checkpoint: 'fast' }],
    ...(o.postgres.tls ? { authentication: memberTlsAuthentication(o.postgres.tls) } : {}),
    parameters: {
      // After a failover the other replicas' first START_REPLICATION on the new leader fails until
      // Patroni has made their slots there, and PostgreSQL tries again only after this interval:
      // at its 5 s default a synchronous cluster ran 5.3-6.6 s with no synchronous standby after
      // each leader kill (local-patroni), committing on the new leader alone; at 1 s, 3.2 s.
      wal_retrieve_retry_interval: '1s',
      ...localParameters,
    },
    pg_hba: o.hba,
  };
}

/**
 * The TLS of a member's connections to the leader (`postgresql.authentication`; the user names and
 * passwords come from env, which Patroni merges into it): replication (pg_basebackup, streaming, which
 * Patroni writes into primary_conninfo) and pg_rewind's, each `verify-full` against the CA, so a member
 * streams only from a server whose certificate names the leader's connect address.
 */
function memberTlsAuthentication(tls: TlsFiles): Record<'replication' | 'rewind', { sslmode: string; sslrootcert: string }> {
  // Two objects: one shared would be a YAML alias, one dict in Patroni, into which it merges both users' env.
  const verified = () => ({ sslmode: 'verify-full', sslrootcert: tls.caFile });
  return { replication: verified(), rewind: verified() };
}

/**
 * With TLS, `command` (the member container's, which ends in Patroni) beside the loop that has PostgreSQL
 * re-read renewed files: SIGHUP to Patroni, its documented reload (what `patronictl reload` and
 * `POST /reload` do), which re-reads patroni.yml and then always runs `pg_ctl reload`, so the postmaster
 * loads ssl_cert_file, ssl_key_file and ssl_ca_file again for new connections; a pair that does not load
 * leaves the old one serving. The shell `exec`s the interpreter, which runs Patroni's main in that process: `$$` is Patroni.
 */
export function withPatroniCertificateReload(command: string[], tls: TlsFiles, intervalSeconds: number): string[] {
  return withCertificateReload(command, { files: [tls.certFile, tls.keyFile, tls.caFile], reload: 'kill -HUP $$', intervalSeconds });
}

/** Everything `renderPatroniHba` needs. */
export interface PatroniHbaOptions {
  /** Networks the members and the clients connect from (the NetworkPolicies narrow them to the pods). */
  readonly networks: string[];
  /** The superuser, which only the member's own Patroni uses, over the socket. */
  readonly superuser: string;
  /** Whether members and clients must use TLS (`hostssl`): a plain connection from their networks matches no line and is refused. @default false */
  readonly requireTls?: boolean;
}

/**
 * pg_hba.conf lines of a Patroni member: peer on the socket (Patroni itself, as the superuser),
 * replication on the socket with a password (the member's Patroni asking its own PostgreSQL for its
 * timeline), the exporter on loopback as a `pg_monitor` member, the superuser refused over the
 * network, then scram-sha-256 for replication (replicas and pg_rewind's `IDENTIFY_SYSTEM`) and for
 * every other role (clients, and the rewind role, which reads the leader's files through `postgres`).
 * With `requireTls` those two are `hostssl`; the socket and the exporter's loopback line never leave the pod.
 */
export function renderPatroniHba(o: PatroniHbaOptions): string[] {
  const remote = o.requireTls ? 'hostssl' : 'host';
  return [
    'local all all peer',
    'local replication all scram-sha-256',
    `host all +pg_monitor ${EXPORTER_LOOPBACK} scram-sha-256`,
    `host all ${o.superuser} all reject`,
    ...o.networks.map(network => `${remote} replication all ${network} scram-sha-256`),
    ...o.networks.map(network => `${remote} all all ${network} scram-sha-256`),
  ];
}
