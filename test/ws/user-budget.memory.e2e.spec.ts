import { afterEach, describe, expect, it } from 'vitest';
import { closeCodes } from '../../src/ws/index.ts';
import { Client, eventually, type Frame, type Instance, startChat, startInstance } from './ws-support.ts';

/**
 * Issue 12: what one user's frames may cost the instance is bounded per user, whatever the number
 * of their connections (a user's connections share one budget per kind of frame that costs work),
 * and a connection closed for flooding is cut off rather than read to the end.
 */

let instance: Instance | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await instance?.close();
  instance = undefined;
});

async function connect(user: string): Promise<Client> {
  const client = new Client(instance!.url, { user });
  clients.push(client);
  await client.opened;
  return client;
}

/** Sends a ping and waits for its pong: every frame sent before it has been answered. */
async function settled(client: Client, id: string): Promise<void> {
  client.send({ type: 'ping', id });
  await client.next((frame) => frame.type === 'pong' && frame.id === id, 15_000);
}

const rateLimited = (frames: readonly Frame[]) => frames.filter((frame) => frame.type === 'error' && frame.code === 'LAKECHAT_ERR_WS_RATE_LIMITED');

/**
 * The bystander: subscribed to their own chat, posting over the WebSocket one post after another,
 * each acked and delivered live to the subscription, for as long as `attack` runs. A post refused
 * by the bystander's own budget is sent again after the delay it was told, as a client would.
 */
async function bystanderThroughout(bystander: Client, attack: Promise<unknown>): Promise<number> {
  let running = true;
  void attack.finally(() => (running = false));
  let posted = 0;
  while (running || posted < 5) {
    const id = `b-${posted}`;
    bystander.send({ type: 'post', id, chatId: 'b1', content: `still here ${posted}` });
    const from = bystander.frames.length;
    const ack = await bystander.next((frame) => frame.id === id, 15_000, from);
    if (ack.type === 'error' && ack.code === 'LAKECHAT_ERR_WS_RATE_LIMITED') {
      await new Promise((resolve) => setTimeout(resolve, ack.details.retryAfterMs));
      continue;
    }
    expect(ack).toMatchObject({ type: 'ack', id });
    await bystander.next((frame) => frame.type === 'event' && frame.subscription === 'mine' && frame.data.messageId === ack.messageId, 15_000);
    posted++;
  }
  await attack;
  return posted;
}

describe("one user's budget across all their connections", () => {
  it('holds a user spreading subscribes over many connections to WS_USER_SUBSCRIBES_PER_SECOND in total, while another user posts and receives normally', async () => {
    // No limit per connection: only the user's budget (1 a second, burst 9: three times the subscription cap) holds them.
    instance = await startInstance({ env: { WS_SUBSCRIBES_PER_SECOND: '0', WS_USER_SUBSCRIBES_PER_SECOND: '1', WS_MAX_SUBSCRIPTIONS: '3' } });
    await startChat(instance, 'alice@example.com', 'a1');
    await startChat(instance, 'bob@example.com', 'b1');
    const bystander = await connect('bob@example.com');
    expect((await bystander.subscribe({ id: 'mine', scope: 'chat', chatId: 'b1' })).type).toBe('caught_up');
    const started = performance.now();
    const spread = await Promise.all(Array.from({ length: 8 }, () => connect('alice@example.com')));
    const attack = (async () => {
      for (const [c, client] of spread.entries()) {
        for (let n = 0; n < 10; n++) {
          client.send({ type: 'subscribe', id: `s${c}-${n}`, scope: 'chat', chatId: 'a1', after: null });
          client.send({ type: 'unsubscribe', id: `s${c}-${n}` });
        }
      }
      for (const [c, client] of spread.entries()) await settled(client, `p${c}`);
    })();
    const posted = await bystanderThroughout(bystander, attack);
    const elapsedS = (performance.now() - started) / 1_000;

    const frames = spread.flatMap((client) => client.frames);
    const accepted = frames.filter((frame) => frame.type === 'unsubscribed').length;
    const refused = rateLimited(frames).length;
    // 80 subscribes on 8 connections: the burst (9) and one a second since, in total; each other one refused.
    expect(accepted).toBeGreaterThanOrEqual(9);
    expect(accepted).toBeLessThanOrEqual(9 + Math.ceil(elapsedS));
    expect(accepted + refused).toBe(80);
    for (const frame of rateLimited(frames)) expect(frame.details.retryAfterMs).toBeGreaterThan(0);
    // Another user's budget is their own: every post acked and delivered, none refused.
    expect(posted).toBeGreaterThanOrEqual(5);
    expect(bystander.errors()).toEqual([]);
  });

  it("holds a user's signals over many connections to WS_USER_SIGNALS_PER_SECOND in total, and delivers only those, while another user posts and receives normally", async () => {
    instance = await startInstance({ env: { WS_SIGNALS_PER_SECOND: '0', WS_USER_SIGNALS_PER_SECOND: '2' } });
    await startChat(instance, 'alice@example.com', 'a1');
    await startChat(instance, 'bob@example.com', 'b1');
    const bystander = await connect('bob@example.com');
    expect((await bystander.subscribe({ id: 'mine', scope: 'chat', chatId: 'b1' })).type).toBe('caught_up');
    // Alice's own listener: every signal accepted from her other connections reaches it.
    const listener = await connect('alice@example.com');
    expect((await listener.subscribe({ id: 'typing', scope: 'chat', chatId: 'a1' })).type).toBe('caught_up');
    const started = performance.now();
    const spread = await Promise.all(Array.from({ length: 8 }, () => connect('alice@example.com')));
    const attack = (async () => {
      for (const [c, client] of spread.entries()) for (let n = 0; n < 5; n++) client.send({ type: 'signal', id: `g${c}-${n}`, chatId: 'a1', kind: 'typing' });
      for (const [c, client] of spread.entries()) await settled(client, `p${c}`);
    })();
    const posted = await bystanderThroughout(bystander, attack);
    await settled(listener, 'listener');
    const elapsedS = (performance.now() - started) / 1_000;

    const refused = rateLimited(spread.flatMap((client) => client.frames)).length;
    const delivered = listener.frames.filter((frame) => frame.type === 'signal').length;
    expect(delivered).toBeGreaterThanOrEqual(2);
    expect(delivered).toBeLessThanOrEqual(2 + Math.ceil(2 * elapsedS));
    expect(delivered + refused).toBe(40);
    expect(posted).toBeGreaterThanOrEqual(5);
    expect(bystander.errors()).toEqual([]);
  });

  it('holds a user posting over many connections to WS_USER_POSTS_PER_SECOND in total, while another user posts and receives normally', async () => {
    instance = await startInstance({ env: { WS_POSTS_PER_SECOND: '0', WS_USER_POSTS_PER_SECOND: '2' } });
    await startChat(instance, 'alice@example.com', 'a1');
    await startChat(instance, 'bob@example.com', 'b1');
    const bystander = await connect('bob@example.com');
    expect((await bystander.subscribe({ id: 'mine', scope: 'chat', chatId: 'b1' })).type).toBe('caught_up');
    const started = performance.now();
    const spread = await Promise.all(Array.from({ length: 6 }, () => connect('alice@example.com')));
    const attack = (async () => {
      for (const [c, client] of spread.entries()) for (let n = 0; n < 4; n++) client.send({ type: 'post', id: `m${c}-${n}`, chatId: 'a1', content: `flood ${n}` });
      for (const [c, client] of spread.entries())
        await client.until(() => (client.frames.filter((frame) => frame.id?.startsWith(`m${c}-`)).length === 4 ? true : undefined), 'an answer to each post', 15_000);
    })();
    const posted = await bystanderThroughout(bystander, attack);
    const elapsedS = (performance.now() - started) / 1_000;

    const frames = spread.flatMap((client) => client.frames);
    const acked = frames.filter((frame) => frame.type === 'ack').length;
    expect(acked).toBeGreaterThanOrEqual(2);
    expect(acked).toBeLessThanOrEqual(2 + Math.ceil(2 * elapsedS));
    expect(acked + rateLimited(frames).length).toBe(24);
    // What was acked is what was stored: the chat holds exactly the acked posts.
    const messages = await instance.http('alice@example.com', 'GET', '/api/chats/a1/messages');
    expect((messages.body as { messages: unknown[] }).messages).toHaveLength(acked);
    // The bystander posted throughout, refused only by its own budget (2 a second, which it keeps to).
    expect(posted).toBeGreaterThanOrEqual(5);
    expect(bystander.errors().filter((frame) => frame.code !== 'LAKECHAT_ERR_WS_RATE_LIMITED')).toEqual([]);
  });
  it('gives a user who closes every connection and reconnects what was left of their budget, not a new one', async () => {
    instance = await startInstance({ env: { WS_SIGNALS_PER_SECOND: '0', WS_USER_SIGNALS_PER_SECOND: '1' } });
    await startChat(instance, 'alice@example.com', 'a1');
    const started = performance.now();
    let accepted = 0;
    for (let round = 0; round < 4; round++) {
      const client = await connect('alice@example.com');
      client.send({ type: 'signal', id: `g${round}`, chatId: 'a1', kind: 'typing' });
      await settled(client, 'p');
      if (client.errors().length === 0) accepted++;
      client.close();
      await client.closed;
      await eventually('the connection to be gone', () => (instance!.app.lakechatWs.stats().connections === 0 ? true : undefined));
    }
    // One at once (the burst), then one a second: four fresh budgets would have taken all four.
    expect(accepted).toBeLessThanOrEqual(1 + Math.floor((performance.now() - started) / 1_000));
  });
});

describe('a flooding connection', () => {
  it('is closed with 1008 and cut off: it holds no place of its user even when its client never answers the close', async () => {
    instance = await startInstance({ env: { WS_MAX_CONNECTIONS_PER_USER: '1' } });
    const flooder = await connect('alice@example.com');
    for (let n = 0; n < 80; n++) flooder.send('not json');
    // The client stops reading: it will never answer the server's close frame.
    flooder.socket.pause();
    await eventually('the server to let the flooding connection go', () => (instance!.app.lakechatWs.stats().connections === 0 ? true : undefined), 10_000);
    // The user's only place is free again at once (the close handshake would have held it for 30 s).
    const next = await connect('alice@example.com');
    await settled(next, 'p');
    flooder.socket.resume();
    expect(await flooder.closed).toMatchObject({ code: closeCodes.policyViolation });
  });

  it('tells a client it was closed for flooding with 1008 and LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES, whatever it sent after', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'a1');
    const flooder = await connect('alice@example.com');
    const signal = JSON.stringify({ type: 'signal', chatId: 'a1', kind: 'delta', data: { text: 'x'.repeat(200) } });
    for (let n = 0; n < 2_000; n++) flooder.send(signal);
    expect(await flooder.closed).toEqual({ code: closeCodes.policyViolation, reason: 'LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES' });
    // Refused up to the bad-frame burst, then nothing more was read or answered.
    expect(rateLimited(flooder.frames).length).toBeLessThan(60);
  });
});
