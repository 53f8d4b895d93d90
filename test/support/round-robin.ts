import { AddressInfo, createServer, connect, Socket } from 'net';

/** A loopback TCP address that sends each new connection to the next of `ports` in turn, as kube-proxy balances a Service. */
export interface RoundRobinForwarder {
  readonly port: number;
  /** Connections sent to each of the ports, in their order. */
  readonly connections: number[];
  close(): Promise<void>;
}

/** Starts a {@link RoundRobinForwarder} on a free loopback port. */
export async function startRoundRobinForwarder(ports: number[]): Promise<RoundRobinForwarder> {
  const connections = ports.map(() => 0);
  const sockets = new Set<Socket>();
  let turn = 0;
  const server = createServer(client => {
    const i = turn++ % ports.length;
    connections[i]++;
    const upstream = connect(ports[i], '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () => new Promise<void>(resolve => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
