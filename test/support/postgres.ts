import { join } from 'path';
import {
  PostgresConfOptions, renderPgHba, renderPostgresConf, renderPrimaryInitScript, renderReplicaInitScript, withPostgresCertificateReload,
} from '../../lib/postgres/postgres-conf';
import { initdb, PG_BIN, pgDirs, pgEnv, PgServer, startServer, writeShared } from '../../local/postgres-server';
import { freePort, ProcessGroup, run } from './processes';

// The server helpers are shared with `npm run local` (local/), which starts the same servers.
export { initdb, PG_BIN, pgDirs, pgEnv, startServer, writeShared } from '../../local/postgres-server';
export type { PgServer } from '../../local/postgres-server';


export const TEST_REPLICATION = { REPLICATION_USER: 'replicator', REPLICATION_PASSWORD: 'test-only-replication' };
export const TEST_APP = { APP_USER: 'app', APP_PASSWORD: 'test-only-app', APP_DATABASE: 'app' };
export const TEST_MONITOR = { MONITOR_USER: 'monitor', MONITOR_PASSWORD: 'test-only-monitor' };

function confOptions(port: number, socketDir: string, etcDir: string, standbyNames: string[], sync: Partial<PostgresConfOptions>): PostgresConfOptions {
  return {
    port, socketDir, hbaFile: join(etcDir, 'pg_hba.conf'), maxConnections: 100, sharedBuffers: '32MB', workMem: '4MB',
    walKeepSize: '64MB', maxSlotWalKeepSize: '256MB', maxWalSenders: 10, maxReplicationSlots: 10, synchronousReplicas: 0, standbyNames,
    synchronousCommit: 'on', parameters: { fsync: 'off' }, ...sync,
  };
}

/** A primary and replicas started as the pods start them, from the rendered configs and scripts. */
export interface ReplicatedPostgres {
  readonly primary: PgServer;
  readonly replicas: PgServer[];
  readonly slots: string[];
  /** Renders the configs again (e.g. with synchronous replication) into the primary's config dir. */
  rewritePrimaryConfig(sync: Partial<PostgresConfOptions>): void;
  /** Starts replica `i` again through its start script; resolves with what the script printed. */
  restartReplica(i: number): Promise<string>;
  /** `postgres://app:...@127.0.0.1:<primary>/app` and the replicas' `127.0.0.1:<port>` list. */
  readonly databaseUrl: string;
  readonly replicaHosts: string;
}

/** A container's command as it runs: unchanged, or (TLS) beside the certificate reload loop. */
type CommandWrapper = (command: string[]) => string[];

/**
 * A primary started the way the image's entrypoint does: initdb, the server with the configs
 * `writeConfigs` wrote (its command through `wrap`, with PGDATA set as in the pod), the rendered init script.
 */
async function startPrimary(group: ProcessGroup, writeConfigs: (port: number, socketDir: string, etcDir: string) => string, wrap: CommandWrapper = c => c) {
  const dirs = await pgDirs(group);
  const port = await freePort();
  const configFile = writeConfigs(port, dirs.socketDir, dirs.etcDir);
  await initdb(dirs.dataDir);
  const [command, ...args] = wrap([join(PG_BIN, 'postgres'), '-D', dirs.dataDir, '-c', `config_file=${configFile}`]);
  const server = await startServer(group, { port, dataDir: dirs.dataDir, socketDir: dirs.socketDir, command, args, env: { PGDATA: dirs.dataDir } });
  const initScript = join(dirs.etcDir, 'primary-init.sh');
  writeShared(initScript, renderPrimaryInitScript(), 0o755);
  await run('sh', [initScript], { asUser: 'postgres', env: pgEnv({ ...TEST_REPLICATION, ...TEST_APP, ...TEST_MONITOR, PGHOST: dirs.socketDir, PGPORT: String(port) }) });
  return { dirs, port, server };
}

/** A primary with the rendered postgresql.conf and the given pg_hba.conf (e.g. a chart's own, unchanged). */
export async function startSingleServer(group: ProcessGroup, hba: string, conf: Partial<PostgresConfOptions> = {}): Promise<PgServer> {
  return (await startPrimary(group, (port, socketDir, etcDir) => {
    const configFile = join(etcDir, 'postgresql.conf');
    writeShared(configFile, renderPostgresConf(confOptions(port, socketDir, etcDir, [], conf)));
    writeShared(join(etcDir, 'pg_hba.conf'), hba);
    return configFile;
  })).server;
}

/**
 * Starts a primary the way the image's entrypoint does (initdb, the server with the rendered
 * postgresql.conf and pg_hba.conf, the rendered init script) and `replicas` replicas, each
 * bootstrapped by the rendered replica script pointed at loopback; `conf` overrides the test's
 * rendering options. With `conf.tls` every server runs beside the rendered certificate reload
 * loop, as the statefulset engine's containers do, checking every second (60 s in a pod).
 */
export async function startReplicatedPostgres(group: ProcessGroup, replicaCount: number, conf: Partial<PostgresConfOptions> = {}): Promise<ReplicatedPostgres> {
  const slots = Array.from({ length: replicaCount }, (_, i) => `test_db_replica_${i}`);
  const writeConfigs = (port: number, socketDir: string, etcDir: string, sync: Partial<PostgresConfOptions> = {}) => {
    const configFile = join(etcDir, 'postgresql.conf');
    writeShared(configFile, renderPostgresConf(confOptions(port, socketDir, etcDir, slots, { ...conf, ...sync })));
    writeShared(join(etcDir, 'pg_hba.conf'), renderPgHba({
      replicationUser: TEST_REPLICATION.REPLICATION_USER, replicationNetworks: ['127.0.0.1/32'], clientNetworks: ['127.0.0.1/32'],
      requireTls: conf.tls !== undefined,
    }));
    return configFile;
  };
  const tls = conf.tls;
  const wrap: CommandWrapper = command => tls ? withPostgresCertificateReload(command, tls, 1) : command;
  const { dirs, port, server: primary } = await startPrimary(group, writeConfigs, wrap);

  const replicas: PgServer[] = [];
  const starts: Array<() => Promise<{ server: PgServer; output: () => string }>> = [];
  for (const slot of slots) {
    const replicaDirs = await pgDirs(group);
    const replicaPort = await freePort();
    const replicaConfig = writeConfigs(replicaPort, replicaDirs.socketDir, replicaDirs.etcDir);
    const script = join(replicaDirs.etcDir, 'replica-init.sh');
    writeShared(script, renderReplicaInitScript(), 0o755);
    const start = async () => {
      let output = () => '';
      const [command, ...args] = wrap(['sh', script]);
      const server = await startServer(group, {
        port: replicaPort, dataDir: replicaDirs.dataDir, socketDir: replicaDirs.socketDir, command, args,
        env: {
          ...TEST_REPLICATION, PGDATA: replicaDirs.dataDir, PRIMARY_HOST: '127.0.0.1', PRIMARY_PORT: String(port),
          SLOT_NAME: slot, CONFIG_FILE: replicaConfig, WAIT_SECONDS: '60',
          // As the statefulset engine sets them with `tls`.
          ...(conf.tls ? { PGSSLMODE: 'verify-full', PGSSLROOTCERT: conf.tls.caFile } : {}),
        },
        onOutput: read => { output = read; },
      });
      return { server, output };
    };
    replicas.push((await start()).server);
    starts.push(start);
  }
  return {
    primary,
    replicas,
    slots,
    rewritePrimaryConfig: sync => { writeConfigs(port, dirs.socketDir, dirs.etcDir, sync); },
    restartReplica: async i => {
      const { server, output } = await starts[i]();
      replicas[i] = server;
      return output();
    },
    databaseUrl: `postgres://${TEST_APP.APP_USER}:${TEST_APP.APP_PASSWORD}@127.0.0.1:${port}/${TEST_APP.APP_DATABASE}`,
    replicaHosts: replicas.map(r => `127.0.0.1:${r.port}`).join(','),
  };
}
