import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { NginxConfOptions } from '../../lib/load-balancer/nginx-conf';
import { ProcessGroup, run, waitFor } from './processes';

// Shared with `npm run local`, which serves the chart's TLS Secret the same way.
export { selfSignedCertificate } from '../../local/cluster';

/** The in-cluster defaults of the LoadBalancer, with loopback ports and a temp dir substituted. */
export function loopbackNginxOptions(dir: string, ports: { http: number; status: number; tls?: number }, backends: number[]): NginxConfOptions {
  return {
    upstreamServers: backends.map(port => ({ address: `127.0.0.1:${port}`, resolve: false })),
    httpPort: ports.http,
    statusPort: ports.status,
    tls: ports.tls ? { port: ports.tls, certificatePath: join(dir, 'tls.crt'), keyPath: join(dir, 'tls.key') } : undefined,
    apiRateLimit: { rate: 100, per: 'second', burst: 20 },
    loginRateLimit: { rate: 5, per: 'minute', burst: 3 },
    loginPath: '/api/v1/auth/login',
    websocketPath: '/ws',
    maxFails: 3,
    failTimeoutSeconds: 10,
    keepalive: 32,
    nextUpstreamTries: 3,
    nextUpstreamConditions: ['error', 'timeout', 'http_502', 'http_503'],
    writeResendConditions: ['error', 'timeout', 'non_idempotent'],
    proxyTimeouts: { connectSeconds: 2, sendSeconds: 30, readSeconds: 30 },
    websocketReadTimeoutSeconds: 3600,
    clientMaxBodySize: '1m',
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
