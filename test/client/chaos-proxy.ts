import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of several servers: each connection goes to one of them at
 * random, and is cut (both sides destroyed, as a network failure would) at a random time within
 * [minLifeMs, maxLifeMs] after it was accepted.
 */
export interface ChaosProxy {
  port: number;
  /** Connections accepted, and connections cut by the proxy. */
  stats(): { accepted: number; cut: number };
  close(): Promise<void>;
}

export async function startChaosProxy(upstreamPorts: number[], options: { minLifeMs: number; maxLifeMs: number }): Promise<ChaosProxy> {
  let accepted = 0;
  let cut = 0;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server = net.createServer((downstream) => {
    accepted += 1;
    track(downstream);
    const port = upstreamPorts[Math.floor(Math.random() * upstreamPorts.length)]!;
    const upstream = net.connect({ host: '127.0.0.1', port });
    track(upstream);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    const life = options.minLifeMs + Math.random() * (options.maxLifeMs - options.minLifeMs);
    const timer = setTimeout(() => {
      cut += 1;
      downstream.destroy();
      upstream.destroy();
    }, life);
    const end = (): void => {
      clearTimeout(timer);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.once('close', end);
    upstream.once('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    stats: () => ({ accepted, cut }),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
