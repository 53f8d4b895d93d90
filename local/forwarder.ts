import { createConnection, createServer, Server, Socket } from 'net';
import { POD_NETWORK_ADDRESS } from './loopback';

/** A pod's port that a forwarder sends connections to. */
export interface ForwarderTarget {
  readonly pod: string;
  readonly port: number;
}

/**
 * A ClusterIP Service (or a pod's DNS name) on loopback: a TCP forwarder to the ports of the pods
 * it selects, new connections spread round-robin, as kube-proxy does over a Service's Endpoints.
 * Its targets change when the runbook's `kubectl patch service` step repoints it, or when a pod's
 * runtime label changes (a Patroni member's role); with no target it refuses connections, as a
 * Service without endpoints does. Connections already open stay on their pod, as with kube-proxy.
 * It connects from `POD_NETWORK_ADDRESS`, as traffic from another pod would.
 */
export class Forwarder {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private next = 0;
  /** Resolves once it listens: it starts listening when made, since a config may name it before anything starts. */
  public readonly listening: Promise<void>;

  constructor(
    /** `<service>.<namespace>`. */
    public readonly service: string,
    public readonly servicePort: number,
    /** The loopback port it listens on. */
    public readonly port: number,
    private targets: ForwarderTarget[],
  ) {
    this.server = createServer(client => this.forward(client));
    this.listening = new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
  }

  /** The pods it sends new connections to, in order. */
  public get targetPods(): string[] {
    return this.targets.map(t => t.pod);
  }

  /** Sends new connections to one other pod (the runbook's selector patch). */
  public repoint(pod: string, port: number): void {
    this.retarget([{ pod, port }]);
  }

  /** Sends new connections to these pods (the Service's Endpoints now); none refuses them. */
  public retarget(targets: ForwarderTarget[]): void {
    this.targets = targets;
  }

  private forward(client: Socket): void {
    const target = this.targets[this.next++ % Math.max(1, this.targets.length)];
    if (!target) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: target.port, localAddress: POD_NETWORK_ADDRESS });
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
