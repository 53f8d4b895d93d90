import { existsSync } from 'fs';
import { join } from 'path';
import { Container } from './chart';
import { LocalPod } from './cluster';
import { KUBECONFIG_CONTEXT, podKubeconfig } from './patroni';
import { PG_BIN } from './postgres-server';

/** The repository root: the reference service runs from its service/dist here. */
export const REPO_ROOT = join(__dirname, '..');

/** A binary the local stack runs, and the Debian package that installs it. */
export interface Binary {
  readonly binary: string;
  readonly aptPackage: string;
}

/** How a container of the chart runs here: the command line, and as whom. */
export interface LocalCommand {
  readonly command: string;
  readonly args: string[];
  readonly asUser?: string;
  readonly cwd?: string;
  /** Env beside the container's, for what the kubelet gives a pod besides its env (a ServiceAccount token). */
  readonly env?: Record<string, string>;
}

/** A local stand-in for a container image: the binaries it needs and how a container of it becomes a command. */
export interface ImageStandIn {
  readonly image: RegExp;
  readonly binaries: Binary[];
  command(pod: LocalPod, container: Container): LocalCommand;
}

const POSTGRES: Binary[] = ['postgres', 'initdb', 'pg_ctl', 'pg_basebackup', 'psql', 'pg_isready']
  .map(binary => ({ binary, aptPackage: 'postgresql' }));

/** `--web.listen-address` on loopback and the port standing for the container's `metrics` port. */
const listenOnMetricsPort = (pod: LocalPod) => `--web.listen-address=127.0.0.1:${pod.namedPort('metrics')}`;

const rewritten = (pod: LocalPod, words: string[] = []) => words.map(word => pod.rewrite(word));

/** The images the charts of this repository use; the first that matches a container's image runs it. */
export const IMAGE_STAND_INS: ImageStandIn[] = [
  {
    image: /^postgres:/,
    binaries: POSTGRES,
    // The image's entrypoint runs `postgres` from its args; the replica's command is the chart's script.
    command: (pod, c) => {
      const [command, ...args] = rewritten(pod, c.command ?? c.args);
      return { command: command === 'postgres' ? join(PG_BIN, 'postgres') : command, args, asUser: 'postgres' };
    },
  },
  {
    image: /(^|\/)patroni:/,
    binaries: [{ binary: 'patroni', aptPackage: 'patroni' }, ...POSTGRES],
    // The chart's command (Patroni through the launcher in its ConfigMap), as postgres. Its kubeconfig stands for the pod's mounted ServiceAccount token.
    command: (pod, c) => {
      const [command, ...args] = rewritten(pod, c.command);
      return { command, args, asUser: 'postgres', env: { KUBECONFIG: podKubeconfig(pod), PATRONI_KUBERNETES_CONTEXT: KUBECONFIG_CONTEXT } };
    },
  },
  {
    image: /^redis:/,
    binaries: [{ binary: 'redis-server', aptPackage: 'redis-server' }, { binary: 'redis-cli', aptPackage: 'redis-tools' }],
    command: (pod, c) => {
      const [command, ...args] = rewritten(pod, [...(c.command ?? []), ...(c.args ?? [])]);
      return { command, args };
    },
  },
  {
    image: /(^|\/)nginx(-unprivileged)?:/,
    binaries: [{ binary: 'nginx', aptPackage: 'nginx' }, { binary: 'openssl', aptPackage: 'openssl' }],
    // The image reads /etc/nginx/nginx.conf: name the mounted copy and a prefix in the pod's dir.
    command: (pod, c) => {
      const [command, ...args] = rewritten(pod, c.command).map(word =>
        word.replace(/\bexec nginx\b/, `exec nginx -p ${pod.dir} -c ${pod.localPath('/etc/nginx/nginx.conf')}`));
      return { command, args };
    },
  },
  {
    image: /postgres-exporter:/,
    binaries: [{ binary: 'prometheus-postgres-exporter', aptPackage: 'prometheus-postgres-exporter' }],
    command: pod => ({ command: 'prometheus-postgres-exporter', args: [listenOnMetricsPort(pod)] }),
  },
  {
    image: /redis_exporter:/,
    binaries: [{ binary: 'prometheus-redis-exporter', aptPackage: 'prometheus-redis-exporter' }],
    command: pod => ({ command: 'prometheus-redis-exporter', args: [listenOnMetricsPort(pod)] }),
  },
  {
    image: /nginx-prometheus-exporter:/,
    binaries: [{ binary: 'prometheus-nginx-exporter', aptPackage: 'prometheus-nginx-exporter' }],
    command: (pod, c) => ({
      command: 'prometheus-nginx-exporter',
      args: [...rewritten(pod, c.args).filter(a => !a.startsWith('--web.listen-address')), listenOnMetricsPort(pod)],
    }),
  },
  {
    image: /reference-service:/,
    binaries: [{ binary: 'node', aptPackage: 'nodejs' }],
    // The image's CMD is the API; the workers name their command. Both run from service/dist (npm run build).
    command: (pod, c) => {
      const [command, ...args] = c.command ?? ['node', 'service/dist/server.js'];
      if (!existsSync(join(REPO_ROOT, 'service', 'dist', 'server.js'))) throw new Error('service/dist is missing: run npm run build first');
      return { command: command === 'node' ? process.execPath : command, args: rewritten(pod, args), cwd: REPO_ROOT };
    },
  },
];

/** The stand-in of a container's image; throws naming the image when there is none. */
export function standIn(container: Container): ImageStandIn {
  const found = IMAGE_STAND_INS.find(s => s.image.test(container.image));
  if (!found) throw new Error(`no local stand-in for the image '${container.image}' (container '${container.name}'): add one to local/images.ts`);
  return found;
}
