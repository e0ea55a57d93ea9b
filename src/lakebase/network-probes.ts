import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { PgTarget } from './resolve-connection.ts';
import { tlsOptions } from './ssl.ts';

const timeoutMs = 5_000;

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs / 1000} s`)));
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Opens and closes a TCP connection to the host. */
export async function probeTcp(host: string, port: number): Promise<void> {
  const socket = await openSocket(host, port);
  socket.destroy();
}

/**
 * PostgreSQL's TLS handshake by hand: an SSLRequest, the server's one-byte answer, then TLS with the
 * sslmode's certificate checks. Returns the negotiated protocol (TLSv1.3...).
 */
export async function probeTls(target: PgTarget): Promise<string> {
  const options = tlsOptions(target.sslmode);
  if (options === false) throw new Error(`sslmode=${target.sslmode} does not use TLS`);
  const socket = await openSocket(target.host, target.port);
  try {
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(80877103, 4); // the SSLRequest code
    const answer = await new Promise<string>((resolve, reject) => {
      socket.once('data', (data) => resolve(data.subarray(0, 1).toString('latin1')));
      socket.once('error', reject);
      socket.write(request);
    });
    if (answer !== 'S') throw new Error('the server does not accept TLS connections');
    return await new Promise<string>((resolve, reject) => {
      const secure = tlsConnect({ ...options, socket, ...(isIP(target.host) === 0 ? { servername: target.host } : {}) });
      secure.once('secureConnect', () => {
        const protocol = secure.getProtocol() ?? 'TLS';
        secure.destroy();
        resolve(protocol);
      });
      secure.once('error', reject);
    });
  } finally {
    socket.destroy();
  }
}
