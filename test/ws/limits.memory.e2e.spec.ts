import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeCodes } from '../../src/ws/index.ts';
import { Client, eventually, type Instance, startChat, startInstance } from './ws-support.ts';

let instance: Instance | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await instance?.close();
  instance = undefined;
});

function connect(options: ConstructorParameters<typeof Client>[1] & { url?: string } = {}): Client {
  const client = new Client(options.url ?? instance!.url, options);
  clients.push(client);
  return client;
}

describe('who may connect', () => {
  it('closes a connection without identity with 4401 after an error frame that says why', async () => {
    instance = await startInstance();
    const client = connect({ user: null });
    expect(await client.closed).toEqual({ code: closeCodes.noIdentity, reason: 'LAKECHAT_ERR_AUTH_MISSING_IDENTITY' });
    expect(client.frames).toEqual([{ type: 'error', code: 'LAKECHAT_ERR_AUTH_MISSING_IDENTITY', message: 'No user identity on the request' }]);
    const malformed = connect({ user: null, headers: { 'x-forwarded-email': 'two words@x.com' } });
    expect(await malformed.closed).toEqual({ code: closeCodes.noIdentity, reason: 'LAKECHAT_ERR_AUTH_INVALID_IDENTITY' });
  });

  it('takes the Databricks Apps headers, and the user query parameter only where demo users are allowed', async () => {
    instance = await startInstance();
    await startChat(instance, 'carol@example.com', 'c1');
    const proxied = connect({ user: null, headers: { 'x-forwarded-email': 'Carol@Example.com' } });
    expect((await proxied.subscribe({ id: 's', scope: 'chat', chatId: 'c1' })).type).toBe('caught_up');
    const browser = connect({ user: null, url: `${instance.url}?user=carol@example.com` });
    expect((await browser.subscribe({ id: 's', scope: 'chat', chatId: 'c1' })).type).toBe('caught_up');
    await instance.close();

    instance = await startInstance({ env: { NODE_ENV: 'production' } });
    const refused = connect({ user: null, url: `${instance.url}?user=carol@example.com` });
    expect((await refused.closed).code).toBe(closeCodes.noIdentity);
    const demoHeader = connect({ user: 'carol@example.com' });
    expect((await demoHeader.closed).code).toBe(closeCodes.noIdentity);
    const proxiedInProduction = connect({ user: null, headers: { 'x-forwarded-email': 'carol@example.com' } });
    await proxiedInProduction.opened;
    proxiedInProduction.send({ type: 'ping' });
    await proxiedInProduction.next((frame) => frame.type === 'pong');
  });

  it('refuses a browser from another origin with 4403, and allows its own origin and the listed ones', async () => {
    instance = await startInstance({ env: { WS_ALLOWED_ORIGINS: 'https://app.example.com/' } });
    const foreign = connect({ headers: { origin: 'https://evil.example.net' } });
    expect(await foreign.closed).toEqual({ code: closeCodes.forbiddenOrigin, reason: 'LAKECHAT_ERR_WS_FORBIDDEN_ORIGIN' });
    expect(foreign.frames[0]).toMatchObject({ type: 'error', code: 'LAKECHAT_ERR_WS_FORBIDDEN_ORIGIN' });
    expect((await connect({ headers: { origin: 'null' } }).closed).code).toBe(closeCodes.forbiddenOrigin);
    for (const origin of [`http://127.0.0.1:${instance.port}`, 'https://APP.example.com']) {
      const client = connect({ headers: { origin } });
      await client.opened;
      client.send({ type: 'ping' });
      await client.next((frame) => frame.type === 'pong');
    }
  });

  it('closes a connection over the per-user limit with 4429, and lets another in once one leaves', async () => {
    instance = await startInstance({ env: { WS_MAX_CONNECTIONS_PER_USER: '2' } });
    const first = connect();
    const second = connect();
    await Promise.all([first.opened, second.opened]);
    await eventually('two connections', () => instance!.app.lakechatWs.stats().connections === 2);
    const third = connect();
    expect(await third.closed).toEqual({ code: closeCodes.tooManyConnections, reason: 'LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS' });
    expect(third.frames[0]).toMatchObject({ code: 'LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS', details: { max: 2 } });
    const otherUser = connect({ user: 'bob@example.com' });
    await otherUser.opened;
    first.close();
    await first.closed;
    await eventually('the first connection to be forgotten', () => instance!.app.lakechatWs.stats().connections === 2);
    const fourth = connect();
    await fourth.opened;
    fourth.send({ type: 'ping' });
    await fourth.next((frame) => frame.type === 'pong');
  });
});

describe('reconnecting', () => {
  /** An upgrade request as a client sends it, answered with an HTTP status when refused before the upgrade. */
  function upgrade(user: string): Promise<{ status: number; retryAfter: string | null; body: any }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(instance!.url, { headers: { 'x-demo-user': user } });
      socket.on('open', () => {
        socket.terminate();
        resolve({ status: 101, retryAfter: null, body: null });
      });
      socket.on('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] ?? null, body: JSON.parse(text) }));
      });
      socket.on('error', (error) => {
        if (socket.readyState !== WebSocket.CLOSED) reject(error);
      });
    });
  }

  it('refuses a user who reconnects faster than WS_USER_CONNECTS_PER_SECOND with 429 before the upgrade, and lets another user in meanwhile', async () => {
    instance = await startInstance({ env: { WS_USER_CONNECTS_PER_SECOND: '1', WS_MAX_CONNECTIONS_PER_USER: '3' } });
    // The burst is the connection cap: a client reconnecting every connection at once gets in.
    for (let n = 0; n < 3; n++) expect((await upgrade('mallory@example.com')).status).toBe(101);
    const refused = await upgrade('mallory@example.com');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body.error).toMatchObject({ code: 'LAKECHAT_ERR_HTTP_RATE_LIMITED', details: { retryAfterSeconds: 1 } });
    expect((await upgrade('bob@example.com')).status).toBe(101);
    // A second later the user has a connection's worth again.
    await eventually('a token for the next connection', async () => ((await upgrade('mallory@example.com')).status === 101 ? true : undefined), 5_000);
  });
});

describe('limits on a connection', () => {
  it('closes with 1009 on a frame over WS_MAX_PAYLOAD_BYTES', async () => {
    instance = await startInstance({ env: { WS_MAX_PAYLOAD_BYTES: '2048' } });
    await startChat(instance, 'alice@example.com', 'c1');
    const client = connect();
    await client.opened;
    client.send({ type: 'post', id: 'm1', chatId: 'c1', content: 'x'.repeat(1_500) });
    await client.next((frame) => frame.type === 'ack');
    client.send({ type: 'post', id: 'm2', chatId: 'c1', content: 'x'.repeat(3_000) });
    expect((await client.closed).code).toBe(closeCodes.messageTooBig);
  });

  it('answers posts beyond WS_POSTS_PER_SECOND with LAKECHAT_ERR_WS_RATE_LIMITED and a retry delay', async () => {
    instance = await startInstance({ env: { WS_POSTS_PER_SECOND: '3' } });
    await startChat(instance, 'alice@example.com', 'c1');
    const client = connect();
    await client.opened;
    for (let n = 0; n < 6; n++) client.send({ type: 'post', id: `m${n}`, chatId: 'c1', content: `message ${n}` });
    await client.until(() => (client.frames.length === 6 ? true : undefined), 'six answers');
    const limited = client.errors();
    // Three at once (the burst); a token may come back while the six are read.
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(limited.length).toBeLessThanOrEqual(3);
    for (const frame of limited) {
      expect(frame.code).toBe('LAKECHAT_ERR_WS_RATE_LIMITED');
      expect(frame.details.retryAfterMs).toBeGreaterThan(0);
    }
    expect(limited.map((frame) => frame.id)).toEqual(['m3', 'm4', 'm5'].slice(3 - limited.length));
  });

  it('answers signals beyond WS_SIGNALS_PER_SECOND with LAKECHAT_ERR_WS_RATE_LIMITED', async () => {
    instance = await startInstance({ env: { WS_SIGNALS_PER_SECOND: '2' } });
    await startChat(instance, 'alice@example.com', 'c1');
    const client = connect();
    await client.opened;
    for (let n = 0; n < 5; n++) client.send({ type: 'signal', id: `g${n}`, chatId: 'c1', kind: 'typing' });
    await client.until(() => (client.errors().length >= 2 ? true : undefined), 'rate-limited signals');
    expect(client.errors()[0]).toMatchObject({ code: 'LAKECHAT_ERR_WS_RATE_LIMITED' });
  });

  it('refuses a subscription beyond WS_MAX_SUBSCRIPTIONS, and takes one again after an unsubscribe', async () => {
    instance = await startInstance({ env: { WS_MAX_SUBSCRIPTIONS: '2' } });
    const client = connect();
    await client.opened;
    expect((await client.subscribe({ id: 'a', scope: 'user' })).type).toBe('caught_up');
    expect((await client.subscribe({ id: 'b', scope: 'user' })).type).toBe('caught_up');
    expect(await client.subscribe({ id: 'c', scope: 'user' })).toMatchObject({
      type: 'error',
      id: 'c',
      code: 'LAKECHAT_ERR_WS_TOO_MANY_SUBSCRIPTIONS',
      details: { max: 2 },
    });
    client.send({ type: 'unsubscribe', id: 'a' });
    await client.next((frame) => frame.type === 'unsubscribed');
    expect((await client.subscribe({ id: 'c', scope: 'user' })).type).toBe('caught_up');
  });

  it('refuses a signal too large to relay with LAKECHAT_ERR_WS_SIGNAL_TOO_LARGE', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    const client = connect();
    await client.opened;
    client.send({ type: 'signal', id: 'big', chatId: 'c1', kind: 'delta', data: { text: 'é'.repeat(4_000) } });
    expect(await client.next((frame) => frame.type === 'error')).toMatchObject({
      id: 'big',
      code: 'LAKECHAT_ERR_WS_SIGNAL_TOO_LARGE',
      details: { maxBytes: 7_999 },
    });
    client.send({ type: 'signal', id: 'fits', chatId: 'c1', kind: 'delta', data: { text: 'é'.repeat(3_000) } });
    client.send({ type: 'ping' });
    await client.next((frame) => frame.type === 'pong');
    expect(client.errors()).toHaveLength(1);
  });

  it('answers subscribes beyond WS_SUBSCRIBES_PER_SECOND with LAKECHAT_ERR_WS_RATE_LIMITED, starting no read for them', async () => {
    instance = await startInstance({ env: { WS_SUBSCRIBES_PER_SECOND: '3', WS_MAX_SUBSCRIPTIONS: '3' } });
    const client = connect();
    await client.opened;
    // A burst of the subscription cap (3), then three a second: subscribe and unsubscribe six times.
    for (let n = 0; n < 6; n++) {
      client.send({ type: 'subscribe', id: `s${n}`, scope: 'user', after: null });
      client.send({ type: 'unsubscribe', id: `s${n}` });
    }
    const answered = () => client.frames.filter((frame) => frame.type === 'unsubscribed' || frame.code === 'LAKECHAT_ERR_WS_UNKNOWN_SUBSCRIPTION').length;
    await client.until(() => (answered() === 6 ? true : undefined), 'an answer to each unsubscribe');
    const limited = client.errors().filter((frame) => frame.code === 'LAKECHAT_ERR_WS_RATE_LIMITED');
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(limited.length).toBeLessThanOrEqual(3);
    for (const frame of limited) expect(frame).toMatchObject({ code: 'LAKECHAT_ERR_WS_RATE_LIMITED', details: { retryAfterMs: expect.any(Number) } });
    // Each refused subscribe's unsubscribe finds nothing to end.
    expect(client.errors().filter((frame) => frame.code === 'LAKECHAT_ERR_WS_UNKNOWN_SUBSCRIPTION')).toHaveLength(limited.length);
  });

  it("bounds one user's signals across all their connections (WS_USER_SIGNALS_PER_SECOND), not theirs alone per connection", async () => {
    instance = await startInstance({ env: { WS_SIGNALS_PER_SECOND: '0', WS_USER_SIGNALS_PER_SECOND: '4' } });
    await startChat(instance, 'alice@example.com', 'c1');
    await startChat(instance, 'bob@example.com', 'b1');
    const flooders = [connect(), connect(), connect()];
    const other = connect({ user: 'bob@example.com' });
    for (const client of [...flooders, other]) await client.opened;
    for (const [i, client] of flooders.entries()) for (let n = 0; n < 4; n++) client.send({ type: 'signal', id: `g${i}-${n}`, chatId: 'c1', kind: 'typing' });
    for (let n = 0; n < 4; n++) other.send({ type: 'signal', id: `b${n}`, chatId: 'b1', kind: 'typing' });
    for (const client of [...flooders, other]) {
      client.send({ type: 'ping' });
      await client.next((frame) => frame.type === 'pong');
    }
    const limited = flooders.flatMap((client) => client.errors());
    // Twelve sent, four (and a token that came back) allowed across the three connections.
    expect(limited.length).toBeGreaterThanOrEqual(7);
    for (const frame of limited) expect(frame.code).toBe('LAKECHAT_ERR_WS_RATE_LIMITED');
    // Another user's budget is their own.
    expect(other.errors()).toEqual([]);
  });

  it('refuses a signal whose data nests 20,000 deep as a bad frame (LAKECHAT_ERR_WS_INVALID_FRAME), counted toward the 1008 close', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    const client = connect();
    await client.opened;
    const deep = `{"type":"signal","id":"deep","chatId":"c1","kind":"delta","data":{"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`;
    client.send(deep);
    expect(await client.next((frame) => frame.type === 'error')).toMatchObject({ id: 'deep', code: 'LAKECHAT_ERR_WS_INVALID_FRAME' });
    // 33 levels is one too many; 32 are relayed.
    const nested = (levels: number): unknown => (levels === 1 ? {} : { a: nested(levels - 1) });
    client.send({ type: 'signal', id: 'd33', chatId: 'c1', kind: 'delta', data: nested(33) });
    expect(await client.next((frame) => frame.id === 'd33')).toMatchObject({ code: 'LAKECHAT_ERR_WS_INVALID_FRAME' });
    client.send({ type: 'signal', id: 'd32', chatId: 'c1', kind: 'delta', data: nested(32) });
    client.send({ type: 'ping', id: 'p' });
    await client.next((frame) => frame.type === 'pong');
    expect(client.errors().map((frame) => frame.id)).toEqual(['deep', 'd33']);
    for (let n = 0; n < 60; n++) client.send(deep);
    expect(await client.closed).toEqual({ code: closeCodes.policyViolation, reason: 'LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES' });
    expect(client.errors().every((frame) => frame.code === 'LAKECHAT_ERR_WS_INVALID_FRAME')).toBe(true);
  });

  it('closes with 1008 a connection that keeps sending frames it has been told are wrong', async () => {
    instance = await startInstance();
    const client = connect();
    await client.opened;
    for (let n = 0; n < 80; n++) client.send('not json');
    const closed = await client.closed;
    expect(closed).toEqual({ code: closeCodes.policyViolation, reason: 'LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES' });
    // The burst (50), perhaps a token or two that came back, then nothing more.
    expect(client.errors().length).toBeGreaterThanOrEqual(50);
    expect(client.errors().length).toBeLessThan(60);
  });
});

describe('heartbeats', () => {
  it('terminates a client that does not answer pings (4002) and frees its connection', async () => {
    instance = await startInstance({ env: { WS_HEARTBEAT_INTERVAL_MS: '100' } });
    const healthy = connect();
    const silent = connect({ autoPong: false });
    await Promise.all([healthy.opened, silent.opened]);
    await silent.subscribe({ id: 's', scope: 'user' });
    let pings = 0;
    healthy.socket.on('ping', () => pings++);
    expect(await silent.closed).toEqual({ code: closeCodes.heartbeatMissed, reason: 'LAKECHAT_ERR_WS_HEARTBEAT_MISSED' });
    await eventually('the silent connection to be freed', () => {
      const stats = instance!.app.lakechatWs.stats();
      return stats.connections === 1 && stats.subscriptions === 0;
    });
    await eventually('a few pings', () => pings >= 3);
    expect(healthy.socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe('closing the app', () => {
  it('closes every client with 1012 and refuses none silently', async () => {
    instance = await startInstance();
    const clientsOpen = [connect(), connect({ user: 'bob@example.com' })];
    await Promise.all(clientsOpen.map((client) => client.opened));
    await clientsOpen[0]!.subscribe({ id: 's', scope: 'user' });
    await instance.close();
    for (const client of clientsOpen) {
      expect(await client.closed).toEqual({ code: closeCodes.serverRestarting, reason: 'LAKECHAT_ERR_WS_SERVER_RESTARTING' });
    }
  });
});
