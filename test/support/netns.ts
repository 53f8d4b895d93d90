import { mkdirSync, rmSync, writeFileSync } from 'fs';
import { connect, createServer, Socket } from 'net';
import { join } from 'path';
import { ProcessGroup, run } from './processes';

/** One pod's network: its own network namespace, joined to the node's bridge by a veth pair. */
export interface PodNetns {
  /** The network namespace (`ip netns exec <name> ...`). */
  readonly name: string;
  /** The pod's address on the bridge. */
  readonly address: string;
  /** The argv prefix that runs a command inside the namespace. */
  readonly exec: string[];
  /** Takes the pod's link down (cut: nothing in or out, packets dropped, no reset) or up again. */
  cut(down: boolean): Promise<void>;
}

/** A bridge with one namespace per pod, as a node's CNI plugin makes it; the host is on the bridge too. */
export interface PodNetwork {
  /** The bridge's network, e.g. `10.214.37.0/24`, for pg_hba. */
  readonly cidr: string;
  /** The host's address on the bridge: what the pods reach host services at. */
  readonly gateway: string;
  readonly pods: PodNetns[];
}

/** Interface names must fit IFNAMSIZ (15); the pid keeps two runs on one machine apart. */
const PREFIX = `hsp${process.pid}`;

/** A /24 in 10.214.0.0/16 that no interface of this machine uses yet. */
async function freeSubnet(): Promise<string> {
  const used = await run('ip', ['-4', '-o', 'addr', 'show']);
  for (let i = 0; i < 250; i++) {
    const subnet = `10.214.${(process.pid + i) % 250}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error('no free /24 left in 10.214.0.0/16');
}

/**
 * Makes `count` pod namespaces on a new bridge (the host at .1, pod i at .(i + 2)). Inside them,
 * `gatewayNames` resolve to the host (`ip netns exec` mounts /etc/netns/<name>/hosts over /etc/hosts),
 * so a pod can reach a host service by a name its certificate carries. All of it is removed at cleanup.
 */
export async function startPodNetwork(group: ProcessGroup, count: number, gatewayNames: string[] = []): Promise<PodNetwork> {
  const subnet = await freeSubnet();
  const bridge = `${PREFIX}b`;
  const gateway = `${subnet}.1`;
  const pods = Array.from({ length: count }, (_, i) => podNetns(`${PREFIX}m${i}`, `${PREFIX}v${i}`, `${subnet}.${i + 2}`));
  group.onCleanup(async () => {
    for (const pod of pods) {
      await run('ip', ['netns', 'del', pod.name]).catch(() => undefined);
      rmSync(join('/etc/netns', pod.name), { recursive: true, force: true });
    }
    await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  });
  await ip(['link', 'add', bridge, 'type', 'bridge'], ['addr', 'add', `${gateway}/24`, 'dev', bridge], ['link', 'set', bridge, 'up']);
  for (const [i, pod] of pods.entries()) {
    const hostLink = `${PREFIX}v${i}`;
    await ip(['netns', 'add', pod.name], ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name],
      ['link', 'set', hostLink, 'master', bridge, 'up'], ['-n', pod.name, 'addr', 'add', `${pod.address}/24`, 'dev', 'eth0'],
      ['-n', pod.name, 'link', 'set', 'eth0', 'up'], ['-n', pod.name, 'link', 'set', 'lo', 'up']);
    mkdirSync(join('/etc/netns', pod.name), { recursive: true });
    writeFileSync(join('/etc/netns', pod.name, 'hosts'), `127.0.0.1 localhost\n${gateway} ${gatewayNames.join(' ')}\n`);
  }
  return { cidr: `${subnet}.0/24`, gateway, pods };
}

function podNetns(name: string, hostLink: string, address: string): PodNetns {
  return {
    name, address,
    exec: ['ip', 'netns', 'exec', name],
    cut: down => ip(['link', 'set', hostLink, down ? 'down' : 'up']),
  };
}

async function ip(...commands: string[][]): Promise<void> {
  for (const args of commands) await run('ip', args);
}

/** Forwards TCP from `listen` to `target` (e.g. the API server on 127.0.0.1, for the pods on the bridge), until cleanup. */
export async function forwardTcp(group: ProcessGroup, listen: { host: string; port: number }, target: { host: string; port: number }): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer(client => {
    const upstream = connect(target.port, target.host);
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => { sockets.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listen.port, listen.host, resolve));
  group.onCleanup(async () => {
    sockets.forEach(s => s.destroy());
    await new Promise<void>(resolve => server.close(() => resolve()));
  });
}
