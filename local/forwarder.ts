import { createConnection, createServer, Server, Socket } from 'net';
import { POD_NETWORK_ADDRESS } from './loopback';

/**
 * A ClusterIP Service (or a pod's DNS name) on loopback: a TCP forwarder to one pod's port, which
 * the runbook's `kubectl patch service` step repoints. Connections already open stay on their pod,
 * as with kube-proxy. It connects from `POD_NETWORK_ADDRESS`, as traffic from another pod would.
 */
export class Forwarder {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Resolves once it listens: it starts listening when made, since a config may name it before anything starts. */
  public readonly listening: Promise<void>;

  constructor(
    /** `<service>.<namespace>`. */
    public readonly service: string,
    public readonly servicePort: number,
    /** The loopback port it listens on. */
    public readonly port: number,
    private target: { pod: string; port: number },
  ) {
    this.server = createServer(client => this.forward(client));
    this.listening = new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
  }

  public get targetPod(): string {
    return this.target.pod;
  }

  /** Sends new connections to another pod (the runbook's selector patch). */
  public repoint(pod: string, port: number): void {
    this.target = { pod, port };
  }

  private forward(client: Socket): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.target.port, localAddress: POD_NETWORK_ADDRESS });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  }

  public async close(): Promise<void> {
    await this.listening.catch(() => undefined);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }
}
