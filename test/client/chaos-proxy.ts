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

/**
 * A TCP proxy on 127.0.0.1 in front of one server that cuts each WebSocket connection right after
 * passing on the first `ack` frame the server sent on it: everything else the client had in flight on
 * that connection is lost with it. The cut depends on traffic only, never on time, so a run is the same
 * every time. Server frames are unmasked (and the server does not compress), so they are read as they pass.
 */
export interface AckCutProxy {
  port: number;
  /** Connections accepted, and connections cut after an ack. */
  stats(): { accepted: number; cut: number };
  close(): Promise<void>;
}

export async function startAckCutProxy(upstreamPort: number): Promise<AckCutProxy> {
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
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
    track(upstream);
    downstream.pipe(upstream);
    let pending = Buffer.alloc(0);
    let headerDone = false;
    let done = false;
    upstream.on('data', (chunk: Buffer) => {
      if (done) return;
      pending = Buffer.concat([pending, chunk]);
      if (!headerDone) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        downstream.write(pending.subarray(0, end + 4));
        pending = pending.subarray(end + 4);
        headerDone = true;
      }
      // One frame at a time: [FIN/opcode][length (7 bits, or 126 + 16 bits, or 127 + 64 bits)][payload].
      for (;;) {
        if (pending.length < 2) return;
        const short = pending[1]! & 0x7f;
        const headerBytes = short === 126 ? 4 : short === 127 ? 10 : 2;
        if (pending.length < headerBytes) return;
        const length = short === 126 ? pending.readUInt16BE(2) : short === 127 ? Number(pending.readBigUInt64BE(2)) : short;
        if (pending.length < headerBytes + length) return;
        const frame = pending.subarray(0, headerBytes + length);
        pending = pending.subarray(headerBytes + length);
        downstream.write(frame);
        if (frame.subarray(headerBytes).toString('utf8').includes('"type":"ack"')) {
          done = true;
          cut += 1;
          // Once the ack is handed to the client's side, both ends go, as a network failure would.
          downstream.end(() => {
            downstream.destroy();
            upstream.destroy();
          });
          return;
        }
      }
    });
    const end = (): void => {
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
