import { Socket } from 'net';
import { join } from 'path';
import { Manifest } from './manifest-checks';
import { writeShared } from './postgres';
import { freePort, ProcessGroup, waitFor } from './processes';

/**
 * The CloudNativePG operator's PgBouncer settings that a Pooler's `parameters` do not name
 * (pkg/management/pgbouncer/config: `defaultPgBouncerParameters`); its
 * `ignore_startup_parameters` is joined in front of the Pooler's, never replaced by it.
 */
const OPERATOR_DEFAULTS: Record<string, string> = { log_stats: '0', ignore_startup_parameters: 'extra_float_digits,options' };

/**
 * pgbouncer.ini as the operator writes it for `pooler` (a synthesized Pooler object): its pool
 * mode and parameters over the operator's defaults, with loopback in place of the operator's
 * addresses, paths, TLS and auth_query (a user list with the application's password here).
 */
export function operatorPgbouncerIni(pooler: Manifest, local: { listenPort: number; serverPort: number; authFile: string }): string {
  const own: Record<string, string> = pooler.spec.pgbouncer.parameters ?? {};
  const parameters: Record<string, string> = { ...OPERATOR_DEFAULTS, ...own };
  if (own.ignore_startup_parameters) parameters.ignore_startup_parameters = `${OPERATOR_DEFAULTS.ignore_startup_parameters},${own.ignore_startup_parameters}`;
  const lines = Object.keys(parameters).sort().map(key => `${key} = ${parameters[key]}`);
  return [
    '[databases]',
    `* = host=127.0.0.1 port=${local.serverPort}`,
    '',
    '[pgbouncer]',
    `pool_mode = ${pooler.spec.pgbouncer.poolMode}`,
    'listen_addr = 127.0.0.1',
    `listen_port = ${local.listenPort}`,
    'unix_socket_dir =',
    'auth_type = md5',
    `auth_file = ${local.authFile}`,
    ...lines,
    '',
  ].join('\n');
}

/** A PgBouncer on a free loopback port, run as `postgres` with the operator's settings for `pooler`, in front of `serverPort`. */
export async function startPgbouncer(group: ProcessGroup, pooler: Manifest, serverPort: number, user: { name: string; password: string }) {
  const dir = group.tempDir('hscale-pgbouncer-');
  const listenPort = await freePort();
  const authFile = join(dir, 'userlist.txt');
  writeShared(authFile, `"${user.name}" "${user.password}"\n`);
  const ini = join(dir, 'pgbouncer.ini');
  writeShared(ini, operatorPgbouncerIni(pooler, { listenPort, serverPort, authFile }));
  const { child, output } = group.spawn('pgbouncer', [ini], { asUser: 'postgres' });
  await waitFor(`PgBouncer on ${listenPort}`, () => new Promise<boolean>(resolve => {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${output()}`);
    const socket = new Socket();
    socket.once('error', () => resolve(false)).connect(listenPort, '127.0.0.1', () => { socket.destroy(); resolve(true); });
  }));
  return { port: listenPort, output };
}
