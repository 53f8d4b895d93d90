import { TlsFiles, withCertificateReload } from '../core/tls';
import { valuesOf } from '../core/validation';

/** How far a commit waits for the synchronous standby (`synchronous_commit`). */
export type SynchronousCommit = 'on' | 'remote_write' | 'remote_apply';
export const SYNCHRONOUS_COMMIT_LEVELS = valuesOf<SynchronousCommit>({ 'on': true, 'remote_write': true, 'remote_apply': true });

/** Everything `renderPostgresConf` needs. */
export interface PostgresConfOptions {
  readonly port: number;
  /** Directory of the Unix socket. */
  readonly socketDir: string;
  /** Path of pg_hba.conf. */
  readonly hbaFile: string;
  readonly maxConnections: number;
  /** e.g. `512MB`. */
  readonly sharedBuffers: string;
  /** e.g. `4MB`. */
  readonly workMem: string;
  /** WAL kept for replicas that fall behind beyond their slot, e.g. `1GB`. */
  readonly walKeepSize: string;
  /** WAL a replication slot may hold before the primary invalidates it, e.g. `4GB`. */
  readonly maxSlotWalKeepSize: string;
  readonly maxWalSenders: number;
  readonly maxReplicationSlots: number;
  /** Replicas that must confirm a commit; 0 is asynchronous replication. */
  readonly synchronousReplicas: number;
  /** `application_name`s of the replicas that may confirm. */
  readonly standbyNames: string[];
  readonly synchronousCommit: SynchronousCommit;
  /** Further parameters, by name. */
  readonly parameters: Record<string, string>;
  /** The server's certificate, key and CA: TLS on, at least TLS 1.2. @default - no TLS */
  readonly tls?: TlsFiles;
}

/**
 * With TLS, `command` (the container's, which ends in the postmaster) beside the loop that has
 * PostgreSQL re-read renewed files: `pg_ctl reload` signals the postmaster of $PGDATA, which loads
 * ssl_cert_file, ssl_key_file and ssl_ca_file again for new connections; a pair that does not load
 * leaves the old one serving. PGDATA and pg_ctl come from the container's env and PATH.
 */
export function withPostgresCertificateReload(command: string[], tls: TlsFiles, intervalSeconds: number): string[] {
  return withCertificateReload(command, {
    files: [tls.certFile, tls.keyFile, tls.caFile], reload: 'pg_ctl reload -D "$PGDATA"', intervalSeconds,
  });
}

const PG_SIZE_UNITS: Record<string, number> = { kB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/** Bytes of a PostgreSQL memory or size setting with its unit (`128kB`, `4MB`, `1GB`, `2TB`), or undefined. */
export function parsePgSize(value: string): number | undefined {
  const match = /^(\d+)\s*(kB|MB|GB|TB)$/.exec(value.trim());
  return match ? Number(match[1]) * PG_SIZE_UNITS[match[2]] : undefined;
}

/** PostgreSQL parameter names: lower case words joined by underscores or dots (extensions). */
export const PARAMETER_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$/;

function quote(value: string): string {
  return `'${value.replace(/'/g, '\'\'')}'`;
}

/** One PostgreSQL setting; `text` values are single-quoted in postgresql.conf. */
export interface PostgresSetting {
  readonly name: string;
  readonly value: string;
  readonly text: boolean;
}

/** The settings `renderPostgresConf` writes, in order, with raw values (Patroni's config takes them as YAML). */
export function postgresSettings(o: PostgresConfOptions): PostgresSetting[] {
  const raw = (name: string, value: string) => ({ name, value, text: false });
  const text = (name: string, value: string) => ({ name, value, text: true });
  return [
    text('listen_addresses', '*'),
    raw('port', String(o.port)),
    text('unix_socket_directories', o.socketDir),
    text('hba_file', o.hbaFile),
    raw('max_connections', String(o.maxConnections)),
    text('shared_buffers', o.sharedBuffers),
    text('work_mem', o.workMem),
    raw('password_encryption', 'scram-sha-256'),
    text('shared_preload_libraries', 'pg_stat_statements'),
    raw('pg_stat_statements.track', 'all'),
    // Streaming replication: each replica holds a physical slot, so the primary keeps its WAL.
    raw('wal_level', 'replica'),
    raw('max_wal_senders', String(o.maxWalSenders)),
    raw('max_replication_slots', String(o.maxReplicationSlots)),
    text('wal_keep_size', o.walKeepSize),
    // A slot whose replica is down or gone holds WAL until this bound, then is invalidated (the
    // replica re-clones): the primary's disk never fills with WAL for a replica that is not coming back.
    text('max_slot_wal_keep_size', o.maxSlotWalKeepSize),
    raw('hot_standby', 'on'),
    // Replicas report their oldest snapshot, so the primary's vacuum does not cancel their queries
    // (the reads the API sends them). A dead replica's slot keeps that snapshot's xmin and holds
    // vacuum back only until max_slot_wal_keep_size invalidates it, which releases its xmin too.
    raw('hot_standby_feedback', 'on'),
    raw('synchronous_commit', o.synchronousReplicas > 0 ? o.synchronousCommit : 'on'),
    text('synchronous_standby_names', o.synchronousReplicas > 0 ? `ANY ${o.synchronousReplicas} (${o.standbyNames.join(', ')})` : ''),
    text('log_destination', 'stderr'),
    raw('logging_collector', 'off'),
    raw('log_min_duration_statement', '1000'),
    raw('log_checkpoints', 'on'),
    raw('log_connections', 'off'),
    ...(o.tls ? tlsSettings(o.tls) : []),
    ...Object.entries(o.parameters).map(([name, value]) => text(name, value)),
  ];
}

/** TLS on with the mounted certificate, key and CA; TLS 1.0 and 1.1 refused. */
function tlsSettings(tls: TlsFiles): PostgresSetting[] {
  return [
    { name: 'ssl', value: 'on', text: false },
    { name: 'ssl_cert_file', value: tls.certFile, text: true },
    { name: 'ssl_key_file', value: tls.keyFile, text: true },
    { name: 'ssl_ca_file', value: tls.caFile, text: true },
    { name: 'ssl_min_protocol_version', value: 'TLSv1.2', text: true },
  ];
}

/** Renders `postgresql.conf` for the primary and the replicas (a replica ignores what it does not use). */
export function renderPostgresConf(o: PostgresConfOptions): string {
  return [
    '# Rendered by hscale renderPostgresConf; edit the PgReplicaSet props, not this file.',
    ...postgresSettings(o).map(s => `${s.name} = ${s.text ? quote(s.value) : s.value}`),
    '',
  ].join('\n');
}

/** The address the in-pod metrics exporter connects from. */
export const EXPORTER_LOOPBACK = '127.0.0.1/32';

/** Everything `renderPgHba` needs. */
export interface PgHbaOptions {
  /** Role that replicas connect as. */
  readonly replicationUser: string;
  /** Networks the replica pods connect from (the NetworkPolicy narrows it to the replica pods). */
  readonly replicationNetworks: string[];
  /** Networks clients connect from. */
  readonly clientNetworks: string[];
  /** Whether replicas and clients must use TLS (`hostssl`): a plain connection from their networks matches no line and is refused. @default false */
  readonly requireTls?: boolean;
}

/**
 * Renders `pg_hba.conf`: peer on the socket for the container's own scripts, scram-sha-256 everywhere
 * else. The metrics exporter sidecar connects over the pod's loopback (`127.0.0.1`, which no pod
 * network covers) as whatever role it is given; that role needs `pg_monitor` to read the statistics,
 * so the loopback line admits the members of `pg_monitor` (`+pg_monitor`) and no one else. The
 * image's superuser (`postgres`) is refused over TCP from anywhere: only the container's own
 * scripts need it, on the socket. With `requireTls`, replicas and clients are admitted over TLS only
 * (`hostssl`); the exporter's loopback line stays `host`, as that connection never leaves the pod.
 */
export function renderPgHba(o: PgHbaOptions): string {
  const remote = o.requireTls ? 'hostssl' : 'host   ';
  return [
    '# Rendered by hscale renderPgHba.',
    '# TYPE  DATABASE     USER  ADDRESS  METHOD',
    'local   all          all            peer',
    'host    all          postgres     all  reject',
    `host    all          +pg_monitor  ${EXPORTER_LOOPBACK}  scram-sha-256`,
    ...o.replicationNetworks.map(network => `${remote} replication  ${o.replicationUser}  ${network}  scram-sha-256`),
    ...o.clientNetworks.map(network => `${remote} all          all  ${network}  scram-sha-256`),
    '',
  ].join('\n');
}

/**
 * The primary's init script (run once by the image's entrypoint on an empty data directory,
 * from /docker-entrypoint-initdb.d): creates the replication role, the application role and
 * database, and the monitoring role (a `pg_monitor` member, which reads statistics and no table)
 * from the Secret's values in env. psql reads the passwords with `\getenv`, so they appear on no
 * command line. Env: REPLICATION_USER, REPLICATION_PASSWORD, APP_USER, APP_PASSWORD,
 * APP_DATABASE, MONITOR_USER, MONITOR_PASSWORD; PGHOST/PGPORT for the local server.
 */
export function renderPrimaryInitScript(): string {
  return `#!/bin/sh
# Rendered by hscale renderPrimaryInitScript.
set -eu
: "\${REPLICATION_USER:?}" "\${REPLICATION_PASSWORD:?}" "\${APP_USER:?}" "\${APP_PASSWORD:?}" "\${APP_DATABASE:?}" "\${MONITOR_USER:?}" "\${MONITOR_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname postgres <<'SQL'
\\getenv replication_user REPLICATION_USER
\\getenv replication_pw REPLICATION_PASSWORD
\\getenv app_user APP_USER
\\getenv app_pw APP_PASSWORD
\\getenv app_database APP_DATABASE
\\getenv monitor_user MONITOR_USER
\\getenv monitor_pw MONITOR_PASSWORD
SELECT format('CREATE ROLE %I', :'replication_user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'replication_user') \\gexec
SELECT format('ALTER ROLE %I WITH REPLICATION LOGIN PASSWORD %L', :'replication_user', :'replication_pw') \\gexec
SELECT format('CREATE ROLE %I', :'app_user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'app_user', :'app_pw') \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'app_database', :'app_user') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_database') \\gexec
-- The exporter sidecars read statistics as a role of their own; the application role is not a pg_monitor member.
SELECT format('CREATE ROLE %I', :'monitor_user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_user') \\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'monitor_user', :'monitor_pw') \\gexec
SELECT format('GRANT pg_monitor TO %I', :'monitor_user') \\gexec
SQL
psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname "$APP_DATABASE" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
`;
}

/**
 * A replica's start script. On an empty data directory it waits for the primary, creates (or
 * reuses) the physical replication slot named after the pod, and clones the primary with
 * `pg_basebackup -R -S <slot> -X stream`; a data directory that exists is left alone, so a
 * restart resumes streaming from its slot. Then it runs postgres with `cluster_name` set to the
 * slot, which is the `application_name` that `synchronous_standby_names` lists.
 * Env: PGDATA, PRIMARY_HOST, PRIMARY_PORT, REPLICATION_USER, REPLICATION_PASSWORD, POD_NAME (or
 * SLOT_NAME), CONFIG_FILE, WAIT_SECONDS.
 */
export function renderReplicaInitScript(): string {
  return `#!/bin/sh
# Rendered by hscale renderReplicaInitScript.
set -eu
: "\${PGDATA:?}" "\${PRIMARY_HOST:?}" "\${PRIMARY_PORT:?}" "\${REPLICATION_USER:?}" "\${REPLICATION_PASSWORD:?}" "\${CONFIG_FILE:?}"
# One slot per pod, named after it: slot names allow only lower case letters, digits and underscores.
SLOT_NAME="\${SLOT_NAME:-$(echo "\${POD_NAME:?}" | tr - _)}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  export PGPASSWORD="$REPLICATION_PASSWORD"
  deadline=$(( $(date +%s) + \${WAIT_SECONDS:-600} ))
  until pg_isready --quiet --host "$PRIMARY_HOST" --port "$PRIMARY_PORT"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "the primary $PRIMARY_HOST:$PRIMARY_PORT never answered" >&2; exit 1; fi
    sleep 2
  done
  psql --no-psqlrc -v ON_ERROR_STOP=1 --host "$PRIMARY_HOST" --port "$PRIMARY_PORT" --username "$REPLICATION_USER" --dbname postgres \\
    --set slot="$SLOT_NAME" <<'SQL'
SELECT pg_create_physical_replication_slot(:'slot') WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot');
SQL
  rm -rf "$PGDATA.partial"
  pg_basebackup --host "$PRIMARY_HOST" --port "$PRIMARY_PORT" --username "$REPLICATION_USER" --pgdata "$PGDATA.partial" \\
    --write-recovery-conf --slot "$SLOT_NAME" --wal-method stream --checkpoint fast --no-password
  # Renamed only when complete: an interrupted clone is redone instead of started half-copied.
  rmdir "$PGDATA" 2>/dev/null || true
  mv "$PGDATA.partial" "$PGDATA"
  echo "cloned the primary into $PGDATA"
else
  echo "$PGDATA exists: resuming streaming from slot $SLOT_NAME"
fi
exec postgres -D "$PGDATA" -c config_file="$CONFIG_FILE" -c cluster_name="$SLOT_NAME"
`;
}
