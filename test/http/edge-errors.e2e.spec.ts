/**
 * The edge of the HTTP server, over real sockets: every error it sends is in the envelope with a
 * catalogued code (long paths, malformed percent-encoding, oversized headers, malformed requests,
 * too-large bodies); state-changing requests must be JSON (a body-less cross-site POST creates
 * nothing); slow clients are timed out; a client that leaves mid-body is logged as what it is.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../src/errors.ts';
import { type AppUnderTest, memoryApp } from './app-under-test.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parse(text: string): RawResponse {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

describe('the HTTP edge', () => {
  let t: AppUnderTest | undefined;
  let lines: string[] = [];
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await t?.close();
    t = undefined;
  });

  async function listen(env: Record<string, string> = {}): Promise<number> {
    lines = [];
    t = await memoryApp({ env: { RATE_LIMIT_PER_SECOND: '0', ...env }, logLines: lines });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    return (t.app.server.address() as net.AddressInfo).port;
  }

  interface Client {
    socket: net.Socket;
    received(): string;
    /** Settles when the server (or the test) closes the connection. */
    ended: Promise<void>;
  }

  function connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('error', () => {});
      const ended = new Promise<void>((done) => socket.once('close', () => done()));
      socket.once('connect', () => resolve({ socket, received: () => received, ended }));
      socket.once('error', reject);
    });
  }

  /** One raw request; the whole answer once the server closes (Connection: close). */
  async function raw(port: number, text: string): Promise<RawResponse> {
    const client = await connect(port);
    client.socket.write(text);
    await client.ended;
    return parse(client.received());
  }

  function expectEnvelope(response: RawResponse, status: number, code: string): Record<string, unknown> {
    expect(response.status, response.body).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(response.body) as { error: { code: string; message: string; details?: Record<string, unknown> } };
    expect(body.error.code).toBe(code);
    expect(Object.keys(errorCatalogue)).toContain(body.error.code);
    expect(errorCatalogue[code as keyof typeof errorCatalogue].status).toBe(status);
    return body.error as Record<string, unknown>;
  }

  const request = (method: string, path: string, headers: Record<string, string> = {}, body = '') =>
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}${body === '' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`;

  describe('errors in the envelope, with catalogued codes', () => {
    it('a chat id of 128 characters is served; 129 is a validation error; a path far too long is a 414', async () => {
      const port = await listen();
      const user = { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' };
      const id = 'a'.repeat(128);
      expect((await raw(port, request('POST', '/api/chats', user, JSON.stringify({ id })))).status).toBe(201);
      expect((await raw(port, request('GET', `/api/chats/${id}`, user))).status).toBe(200);
      const long = expectEnvelope(await raw(port, request('GET', `/api/chats/${'a'.repeat(129)}`, user)), 400, 'LAKECHAT_ERR_HTTP_VALIDATION');
      expect(JSON.stringify(long.details)).toContain('params.chatId');
      expectEnvelope(await raw(port, request('GET', `/api/chats/${'a'.repeat(5_000)}`, user)), 414, 'LAKECHAT_ERR_HTTP_URI_TOO_LONG');
    });

    it('malformed percent-encoding in the path is a 400', async () => {
      const port = await listen();
      expectEnvelope(await raw(port, request('GET', '/api/chats/%E0%A4%A', { 'x-demo-user': 'a@x.com' })), 400, 'LAKECHAT_ERR_HTTP_BAD_REQUEST');
    });

    it('oversized headers are a 431', async () => {
      const port = await listen();
      expectEnvelope(await raw(port, request('GET', '/api/chats', { 'x-demo-user': 'a@x.com', 'x-big': 'a'.repeat(20_000) })), 431, 'LAKECHAT_ERR_HTTP_HEADERS_TOO_LARGE');
    });

    it('a request the HTTP parser refuses is a 400', async () => {
      const port = await listen();
      expectEnvelope(await raw(port, 'GET /api/chats HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 400, 'LAKECHAT_ERR_HTTP_BAD_REQUEST');
      expectEnvelope(await raw(port, 'BREW /api/chats HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'LAKECHAT_ERR_HTTP_BAD_REQUEST');
    });

    it('a body over the limit is a 413 that says the limit, like a message too large', async () => {
      const port = await listen({ HTTP_BODY_LIMIT_BYTES: '1024' });
      const body = JSON.stringify({ content: 'x'.repeat(2_000) });
      await raw(port, request('POST', '/api/chats', { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' }, '{"id":"c"}'));
      const error = expectEnvelope(
        await raw(port, request('POST', '/api/chats/c/messages', { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' }, body)),
        413,
        'LAKECHAT_ERR_HTTP_BODY_TOO_LARGE',
      );
      expect(error.details).toEqual({ maxBytes: 1024 });
    });
  });

  describe('state-changing requests must be JSON', () => {
    it.each([
      ['a body-less cross-site POST', 'POST', '/api/chats', {}, ''],
      ['a form POST', 'POST', '/api/chats', { 'content-type': 'application/x-www-form-urlencoded' }, 'id=c'],
      ['a text/plain POST', 'POST', '/api/chats', { 'content-type': 'text/plain' }, '{"id":"c"}'],
      ['a body-less DELETE', 'DELETE', '/api/chats', {}, ''],
      ['a body-less PATCH', 'PATCH', '/api/profile', {}, ''],
      ['a body-less PUT', 'PUT', '/api/profile', {}, ''],
    ])('refuses %s with 415, creating nothing', async (_name, method, path, headers, body) => {
      const port = await listen();
      await raw(port, request('POST', '/api/chats', { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' }, '{"id":"kept"}'));
      const before = (await t!.store.readAll()).events.length;
      expectEnvelope(await raw(port, request(method, path, { 'x-demo-user': 'a@x.com', ...headers }, body)), 415, 'LAKECHAT_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE');
      expect((await t!.store.readAll()).events.length).toBe(before);
    });

    it('accepts a body-less POST and DELETE that say application/json, and answers strangers 401 first', async () => {
      const port = await listen();
      const json = { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' };
      expect((await raw(port, request('POST', '/api/chats', json))).status).toBe(201);
      expect((await raw(port, request('DELETE', '/api/chats', json))).status).toBe(200);
      expect((await raw(port, request('POST', '/api/chats', { 'content-type': 'application/json; charset=utf-8', 'x-demo-user': 'a@x.com' }))).status).toBe(201);
      expect((await raw(port, request('POST', '/api/chats'))).status).toBe(401);
    });
  });

  describe('slow clients', () => {
    async function dribble(port: number, headers: string, everyMs: number): Promise<Client> {
      const client = await connect(port);
      client.socket.write(headers);
      const timer = setInterval(() => {
        if (!client.socket.destroyed) client.socket.write('x');
      }, everyMs);
      void client.ended.then(() => clearInterval(timer));
      return client;
    }

    async function closedWithin(client: Client, ms: number): Promise<boolean> {
      return Promise.race([client.ended.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
    }

    it('closes a connection whose body dribbles in slower than the request timeout, with a 408, signed in or not', async () => {
      const port = await listen({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '500' });
      const head = (user: Record<string, string>) =>
        `POST /api/chats/c/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nContent-Length: 100000\r\n${Object.entries(user)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')}\r\n{"content":"`;
      const signedIn = await dribble(port, head({ 'x-demo-user': 'a@x.com' }), 100);
      const stranger = await dribble(port, head({}), 100);
      expect(await closedWithin(signedIn, 15_000)).toBe(true);
      expect(await closedWithin(stranger, 15_000)).toBe(true);
      expect(signedIn.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(parse(signedIn.received()).body).toContain('LAKECHAT_ERR_HTTP_REQUEST_TIMEOUT');
      // The stranger had its 401 at once; the connection is closed all the same.
      expect(stranger.received()).toMatch(/^HTTP\/1\.1 (401|408) /);
    });

    it('closes a connection whose headers never end, and one that sends nothing', async () => {
      const port = await listen({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_CONNECTION_TIMEOUT_MS: '1000' });
      const headers = await dribble(port, 'GET /api/chats HTTP/1.1\r\nHost: x\r\nx-slow: ', 100);
      const silent = await connect(port);
      expect(await closedWithin(headers, 15_000)).toBe(true);
      expect(await closedWithin(silent, 15_000)).toBe(true);
    });

    it('keeps an ordinary request that is slow to answer but quick to send', async () => {
      const port = await listen({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '500' });
      const response = await raw(port, request('POST', '/api/chats', { 'x-demo-user': 'a@x.com', 'content-type': 'application/json' }, '{"id":"c"}'));
      expect(response.status).toBe(201);
    });
  });

  it('logs a client that leaves mid-body as a closed request at info level, not a 503 error', async () => {
    const port = await listen();
    const { socket } = await connect(port);
    socket.write('POST /api/chats HTTP/1.1\r\nHost: x\r\nx-demo-user: a@x.com\r\ncontent-type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":');
    for (const deadline = Date.now() + 5_000; !lines.some((line) => line.includes('incoming request')) && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    socket.destroy();
    const logged = () => lines.map((line) => JSON.parse(line) as { level: number; msg: string; code?: string });
    for (const deadline = Date.now() + 5_000; !logged().some((line) => line.code === 'LAKECHAT_ERR_HTTP_CLIENT_CLOSED') && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(logged().find((line) => line.code === 'LAKECHAT_ERR_HTTP_CLIENT_CLOSED')).toMatchObject({ level: 30 });
    expect(logged().filter((line) => line.level >= 50)).toEqual([]);
    expect(lines.join('\n')).not.toContain('STORE_UNAVAILABLE');
  });
});
