/**
 * The rewrites that turn a config rendered for the cluster into one for loopback. They change
 * addresses, ports and paths only; every other line is the chart's.
 */

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
}

/**
 * nginx.conf on loopback: each `listen <port>` on 127.0.0.1 and a local port, the `resolve`
 * upstream of a headless Service expanded to one `server` per local pod (what the resolver would
 * have found), the cluster DNS resolver dropped, logs to stdout written to a file.
 */
export function loopbackNginxConf(conf: string, loopback: NginxLoopback): string {
  return conf
    .replace(/ \/dev\/stdout\b/g, ` ${loopback.logFile}`)
    .replace(/^(\s*)resolver(_timeout)? .*\n/gm, '')
    .replace(/^(\s*)listen (\d+)( [^;]*)?;/gm, (_, indent: string, port: string, rest = '') =>
      `${indent}listen 127.0.0.1:${loopback.port(Number(port))}${rest};`)
    .replace(/^(\s*)server (\S+)\.svc\.cluster\.local:(\d+) resolve( [^;]*)?;/gm, (_, indent: string, host: string, port: string, params = '') =>
      loopback.endpoints(host, Number(port)).map(address => `${indent}server ${address}${params};`).join('\n'));
}
