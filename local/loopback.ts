/**
 * The rewrites that turn a config rendered for the cluster into one for loopback. They change
 * addresses, ports and paths only; every other line is the chart's.
 */
import { parse, stringify } from 'yaml';

/** A host name of the cluster (`<service>.<namespace>.svc.cluster.local`, `<pod>.<service>.<namespace>...`), optionally with a port. */
export const CLUSTER_HOST = /\b([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)\.svc\.cluster\.local(:(\d+)(?!\d))?/g;

/** `key = value` lines of postgresql.conf set to new values; keys the file lacks are appended. */
export function withPostgresSettings(conf: string, settings: Record<string, string>): string {
  let result = conf;
  for (const [key, value] of Object.entries(settings)) {
    const line = new RegExp(`^${key.replace('.', '\\.')}\\s*=.*$`, 'm');
    result = line.test(result) ? result.replace(line, `${key} = ${value}`) : `${result.trimEnd()}\n${key} = ${value}\n`;
  }
  return result;
}

/** postgresql.conf on a loopback port; shared_buffers sized for a laptop running three servers. */
export function loopbackPostgresConf(conf: string, port: number): string {
  return withPostgresSettings(conf, { listen_addresses: "'127.0.0.1'", port: String(port), shared_buffers: "'128MB'" });
}

/**
 * The source address of traffic between pods on loopback. Every Service, and every pod host of a
 * server that admits clients by source address (pg_hba.conf), is a forwarder that connects from
 * it; a pod's own processes connect from 127.0.0.1. The two stay apart as in a pod, so a chart
 * line for the pod networks never admits a pod's own loopback clients.
 */
export const POD_NETWORK_ADDRESS = '127.0.0.2';

/**
 * pg_hba.conf with every pod network replaced by the pod network of loopback, `POD_NETWORK_ADDRESS`
 * (duplicate lines dropped). Loopback lines stay as the chart has them: a chart without one fails
 * locally as it would in the cluster.
 */
export function loopbackPgHba(hba: string): string {
  const lines = hba.split('\n').map(line => line.replace(/\b(?!127\.)\d+\.\d+\.\d+\.\d+\/\d+\b/, `${POD_NETWORK_ADDRESS}/32`));
  return lines.filter((line, i) => line.trim() === '' || line.startsWith('#') || lines.indexOf(line) === i).join('\n');
}

/**
 * Patroni's patroni.yml on loopback (its paths and in-pod addresses are rewritten as every file's):
 * its pg_hba lines as `loopbackPgHba` makes them, this machine's PostgreSQL binaries for `bin_dir`,
 * `shared_buffers` 128MB as in `loopbackPostgresConf`. Patroni takes its listen and connect
 * addresses from env, which the local stack rewrites.
 */
export function loopbackPatroniConf(yml: string, binDir: string): string {
  const config = parse(yml);
  const header = yml.split('\n').filter((line, i, lines) => line.startsWith('#') && lines.slice(0, i).every(l => l.startsWith('#')));
  config.postgresql.bin_dir = binDir;
  config.postgresql.pg_hba = loopbackPgHba((config.postgresql.pg_hba as string[]).join('\n')).split('\n');
  config.postgresql.parameters = { ...config.postgresql.parameters, shared_buffers: '128MB' };
  return `${[...header, ''].join('\n')}${stringify(config, { version: '1.1' })}`;
}

/** redis.conf (or sentinel.conf) on a loopback port, bound to loopback only. */
export function loopbackRedisConf(conf: string, port: number): string {
  return conf.replace(/^port \d+$/m, `port ${port}`).replace(/^bind .*$/m, 'bind 127.0.0.1');
}

export interface NginxLoopback {
  /** The local port of an in-pod listen port. */
  readonly port: (inPod: number) => number;
  /** The `127.0.0.1:<port>` of every pod behind a headless Service host and port. */
  readonly endpoints: (host: string, port: number) => string[];
  /** Where `/dev/stdout` logs go: a supervisor's pipes are sockets, which nginx cannot open by that path. */
  readonly logFile: string;
  /** Whether the local nginx knows `http2 on;` (1.25.1 and later); if not, a server's listens get `http2` instead. @default true */
  readonly http2Directive?: boolean;
}

/** nginx before 1.25.1 (Debian 12 has 1.22) has no `http2 on;`: each such server's `listen` lines get `http2` instead, the same setting. */
export function listenHttp2(conf: string): string {
  const lines = conf.split('\n');
  const isHttp2On = (line: string) => /^\s*http2 on;\s*$/.test(line);
  for (let i = lines.findIndex(isHttp2On); i !== -1; i = lines.findIndex(isHttp2On)) {
    const start = lines.slice(0, i).map(line => /^\s*server\s*\{/.test(line)).lastIndexOf(true);
    let depth = 0;
    for (let j = Math.max(start, 0); j < lines.length; j++) {
      depth += (lines[j].match(/\{/g) ?? []).length - (lines[j].match(/\}/g) ?? []).length;
      lines[j] = lines[j].replace(/^(\s*listen [^;]*);/, '$1 http2;');
      if (depth <= 0 && j > start) break;
    }
    lines.splice(i, 1);
  }
  return lines.join('\n');
}

/**
 * nginx.conf on loopback: each `listen <port>` on 127.0.0.1 and a local port, the `resolve`
 * upstream of a headless Service expanded to one `server` per local pod (what the resolver would
 * have found), the cluster DNS resolver dropped, logs to stdout written to a file, and
 * `http2 on;` in the older `listen ... http2` form where the local nginx predates it.
 */
export function loopbackNginxConf(conf: string, loopback: NginxLoopback): string {
  const local = conf
    .replace(/ \/dev\/stdout\b/g, ` ${loopback.logFile}`)
    .replace(/^(\s*)resolver(_timeout)? .*\n/gm, '')
    .replace(/^(\s*)listen (\d+)( [^;]*)?;/gm, (_, indent: string, port: string, rest = '') =>
      `${indent}listen 127.0.0.1:${loopback.port(Number(port))}${rest};`)
    .replace(/^(\s*)server (\S+)\.svc\.cluster\.local:(\d+) resolve( [^;]*)?;/gm, (_, indent: string, host: string, port: string, params = '') =>
      loopback.endpoints(host, Number(port)).map(address => `${indent}server ${address}${params};`).join('\n'));
  return loopback.http2Directive ?? true ? local : listenHttp2(local);
}
