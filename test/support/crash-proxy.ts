import { createConnection, createServer, Server, Socket } from 'net';

/**
 * A TCP proxy on a loopback port in front of a server, that can die the way a SIGKILLed server
 * does: every connection reset and the port refusing new ones. `crashOn(marker)` makes it die
 * the moment a client sends bytes containing `marker`, so a test can hit a narrow window (such
 * as a driver's first query on a new connection) every time rather than by chance.
 */
export class CrashProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private marker?: string;
  /** Times the proxy died. */
  public crashes = 0;

  private constructor(public readonly port: number, private readonly target: number) {}

  public static async start(port: number, target: number): Promise<CrashProxy> {
    const proxy = new CrashProxy(port, target);
    await proxy.revive();
    return proxy;
  }

  /** Dies at the next client bytes that contain `marker`. */
  public crashOn(marker: string): void {
    this.marker = marker;
  }

  /** Listens again (after a crash); nothing when it listens already. */
  public async revive(): Promise<void> {
    if (this.server) return;
    const server = createServer(client => this.pipe(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  public get listening(): boolean {
    return this.server !== undefined;
  }

  /** Resets every connection and stops listening: a port that refuses, as after a SIGKILL. */
  public crash(): void {
    this.crashes++;
    this.marker = undefined;
    this.server?.close();
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private pipe(client: Socket): void {
    const upstream = createConnection(this.target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', chunk => {
      if (this.marker && chunk.includes(this.marker)) this.crash();
      else upstream.write(chunk);
    });
    upstream.on('data', chunk => client.write(chunk));
  }
}
