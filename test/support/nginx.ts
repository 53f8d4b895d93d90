import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { ScaledApi } from '../../lib';
import { NginxConfOptions } from '../../lib/load-balancer/nginx-conf';
import { nginxMode } from '../../lib/load-balancer/nginx-mode';
import { ProcessGroup, run, waitFor } from './processes';

// Shared with `npm run local`, which serves the chart's TLS Secret the same way.
export { selfSignedCertificate } from '../../local/cluster';

/**
 * The LoadBalancer's defaults as its nginx mode resolves them (so a changed default reaches these
 * tests), with loopback ports, loopback backends and a temp dir substituted.
 */
export function loopbackNginxOptions(dir: string, ports: { http: number; status: number; tls?: number }, backends: number[]): NginxConfOptions {
  const chart = Testing.chart();
  const defaults = nginxMode.resolve(chart, { backend: new ScaledApi(chart, 'api', { image: 'example/api:1.0.0' }) });
  return {
    upstreamServers: backends.map(port => ({ address: `127.0.0.1:${port}`, resolve: false })),
    httpPort: ports.http,
    statusPort: ports.status,
    tls: ports.tls ? { port: ports.tls, certificatePath: join(dir, 'tls.crt'), keyPath: join(dir, 'tls.key') } : undefined,
    apiRateLimit: defaults.apiRateLimit,
    loginRateLimit: defaults.loginRateLimit,
    loginPath: defaults.loginPath,
    websocketPath: defaults.websocketPath,
    maxFails: defaults.maxFails,
    failTimeoutSeconds: defaults.failTimeoutSeconds,
    keepalive: defaults.keepalive,
    nextUpstreamTries: defaults.nextUpstreamTries,
    nextUpstreamConditions: defaults.nextUpstreamConditions,
    writeResendConditions: defaults.writeResendConditions,
    proxyTimeouts: defaults.proxyTimeouts,
    websocketReadTimeoutSeconds: defaults.websocketReadTimeoutSeconds,
    clientMaxBodySize: defaults.clientMaxBodySize,
    accessLog: join(dir, 'access.log'),
    writableDir: dir,
  };
}

/** Writes the config and runs `nginx -t` on it; resolves with nginx's output, rejects when the test fails. */
export async function nginxTest(dir: string, conf: string): Promise<string> {
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return run('nginx', ['-t', '-p', dir, '-c', file]).catch(error => {
    throw new Error(`nginx -t rejected the config:\n${(error as Error).message}\n--- nginx.conf ---\n${conf}`);
  });
}

/** Starts nginx in the foreground with `conf` and waits until its /health answers. */
export async function startNginx(group: ProcessGroup, dir: string, conf: string, httpPort: number): Promise<void> {
  await nginxTest(dir, conf);
  const nginx = group.spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
  await waitFor('nginx to answer /health', async () => {
    if (nginx.child.exitCode !== null) throw new Error(`nginx exited: ${nginx.output()}`);
    return (await fetch(`http://127.0.0.1:${httpPort}/health`)).ok;
  });
}


/** How the local nginx is told to serve HTTP/2: the `http2` directive exists from nginx 1.25.1 on. */
export function localHttp2Syntax(): 'directive' | 'listen-parameter' {
  const version = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr);
  if (!version) throw new Error('cannot read the version of the local nginx');
  const [major, minor, patch] = version.slice(1).map(Number);
  return major * 1e6 + minor * 1e3 + patch >= 1025001 ? 'directive' : 'listen-parameter';
}
