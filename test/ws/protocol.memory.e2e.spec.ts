import { afterEach, describe, expect, it } from 'vitest';
import { compareCursors } from '../../src/event-store/index.ts';
import { Client, type Instance, startChat, startInstance } from './ws-support.ts';

let instance: Instance | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await instance?.close();
  instance = undefined;
});

async function open(options: ConstructorParameters<typeof Client>[1] = {}): Promise<Client> {
  const client = await Client.open(instance!.url, options);
  clients.push(client);
  return client;
}

describe('the WebSocket protocol (in memory)', () => {
  it('replays a chat from the beginning, says caught_up, then pushes new events live', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    await instance.http('alice@example.com', 'POST', '/api/chats/c1/messages', { content: 'before' });
    const client = await open();
    const caughtUp = await client.subscribe({ id: 's1', scope: 'chat', chatId: 'c1', after: null });
    expect(caughtUp.type).toBe('caught_up');
    const history = client.events('s1');
    expect(history.map((event) => event.eventType)).toEqual(['ChatStarted', 'MessagePosted']);
    // Where the replay stopped: at or past the last event it sent (it may have read other streams' events).
    expect(compareCursors(caughtUp.cursor, history[1]!.cursor)).toBeGreaterThanOrEqual(0);
    expect(history[1]).toMatchObject({ type: 'event', subscription: 's1', version: 2, data: { chatId: 'c1', content: 'before' } });
    expect(typeof history[1]!.position).toBe('number');
    expect(Date.parse(history[1]!.recordedAt)).not.toBeNaN();

    await instance.http('alice@example.com', 'POST', '/api/chats/c1/messages', { content: 'after' });
    const live = await client.next((frame) => frame.type === 'event' && frame.data.content === 'after');
    expect(client.frames.indexOf(live)).toBeGreaterThan(client.frames.indexOf(caughtUp));
  });

  it('acks a post with the message id, its position and cursor, and acks a repeated id without posting again', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    const client = await open();
    await client.subscribe({ id: 's1', scope: 'chat', chatId: 'c1' });
    client.send({ type: 'post', id: 'm-1', chatId: 'c1', content: 'hello' });
    const ack = await client.next((frame) => frame.type === 'ack');
    expect(ack).toMatchObject({ id: 'm-1', position: 1, version: 2, duplicate: false });
    const event = await client.next((frame) => frame.type === 'event' && frame.eventType === 'MessagePosted');
    expect(event.cursor).toBe(ack.cursor);
    expect(event.data).toMatchObject({ messageId: ack.messageId, role: 'user', content: 'hello', clientMessageId: 'm-1' });

    client.send({ type: 'post', id: 'm-1', chatId: 'c1', content: 'hello' });
    const again = await client.next((frame) => frame.type === 'ack' && frame !== ack);
    expect(again).toMatchObject({ id: 'm-1', messageId: ack.messageId, position: 1, cursor: ack.cursor, duplicate: true });
    client.send({ type: 'ping', id: 'p' });
    await client.next((frame) => frame.type === 'pong');
    expect(client.events('s1').filter((frame) => frame.eventType === 'MessagePosted')).toHaveLength(1);
    const messages = await instance.http('alice@example.com', 'GET', '/api/chats/c1/messages');
    expect(messages.body.messages).toHaveLength(1);
  });

  it('answers a post to a missing chat, an empty post and an unknown role with error frames that carry the id', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    const client = await open();
    client.send({ type: 'post', id: 'a', chatId: 'nope', content: 'x' });
    client.send({ type: 'post', id: 'b', chatId: 'c1', content: '' });
    client.send({ type: 'post', id: 'c', chatId: 'c1', content: 'x', role: 'king' });
    await client.until(() => (client.errors().length === 3 ? true : undefined), 'three errors');
    const byId = Object.fromEntries(client.errors().map((frame) => [frame.id, frame.code]));
    expect(byId).toEqual({ a: 'LAKECHAT_ERR_CHAT_NOT_FOUND', b: 'LAKECHAT_ERR_WS_INVALID_FRAME', c: 'LAKECHAT_ERR_WS_INVALID_FRAME' });
  });

  it('answers pings with pongs', async () => {
    instance = await startInstance();
    const client = await open();
    client.send({ type: 'ping' });
    client.send({ type: 'ping', id: 'x' });
    await client.until(() => (client.frames.length === 2 ? true : undefined), 'two pongs');
    expect(client.frames).toEqual([{ type: 'pong' }, { type: 'pong', id: 'x' }]);
  });

  it('answers malformed frames with error frames and keeps the connection', async () => {
    instance = await startInstance();
    const client = await open();
    client.send('{not json');
    client.send('[1,2]');
    client.send({ type: 'dance', id: 'd1' });
    client.send({ nothing: true });
    client.send({ type: 'subscribe', id: 's1', scope: 'chat' });
    client.send({ type: 'subscribe', id: 's2', scope: 'user', chatId: 'c1' });
    client.send({ type: 'subscribe', id: 's3', scope: 'galaxy' });
    client.send({ type: 'unsubscribe' });
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await client.until(() => (client.errors().length === 9 ? true : undefined), 'nine errors');
    expect(client.errors().map((frame) => [frame.code, frame.id])).toEqual([
      ['LAKECHAT_ERR_WS_INVALID_JSON', undefined],
      ['LAKECHAT_ERR_WS_INVALID_JSON', undefined],
      ['LAKECHAT_ERR_WS_UNKNOWN_TYPE', 'd1'],
      ['LAKECHAT_ERR_WS_UNKNOWN_TYPE', undefined],
      ['LAKECHAT_ERR_WS_INVALID_FRAME', 's1'],
      ['LAKECHAT_ERR_WS_INVALID_FRAME', 's2'],
      ['LAKECHAT_ERR_WS_INVALID_FRAME', 's3'],
      ['LAKECHAT_ERR_WS_INVALID_FRAME', undefined],
      ['LAKECHAT_ERR_WS_BINARY_FRAME', undefined],
    ]);
    expect(client.errors()[2]!.details).toEqual({ type: 'dance' });
    expect(client.errors()[4]!.details.issues[0]).toMatchObject({ path: 'chatId' });
    client.send({ type: 'ping' });
    await client.next((frame) => frame.type === 'pong');
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  });

  it("answers a subscription to another user's chat exactly like one to a chat that does not exist", async () => {
    instance = await startInstance();
    await startChat(instance, 'bob@example.com', 'secret');
    const alice = await open();
    const foreign = await alice.subscribe({ id: 'x', scope: 'chat', chatId: 'secret', after: null });
    const missing = await alice.subscribe({ id: 'x', scope: 'chat', chatId: 'never-made', after: null });
    expect(foreign).toEqual(missing);
    expect(foreign).toEqual({ type: 'error', id: 'x', code: 'LAKECHAT_ERR_CHAT_NOT_FOUND', message: 'No such chat' });
    alice.send({ type: 'post', id: 'm', chatId: 'secret', content: 'hi' });
    alice.send({ type: 'signal', id: 'g', chatId: 'secret', kind: 'typing' });
    await alice.until(() => (alice.errors().length === 4 ? true : undefined), 'four errors');
    expect(
      alice
        .errors()
        .slice(2)
        .map((frame) => frame.code),
    ).toEqual(['LAKECHAT_ERR_CHAT_NOT_FOUND', 'LAKECHAT_ERR_CHAT_NOT_FOUND']);
    const bobsMessages = await instance.http('bob@example.com', 'GET', '/api/chats/secret/messages');
    expect(bobsMessages.body.messages).toEqual([]);
  });

  it('gives the user scope every event of the user’s chats and profile, and nobody else’s', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'a1');
    await startChat(instance, 'bob@example.com', 'b1');
    await startChat(instance, 'alice@example.com', 'a2');
    const client = await open();
    await client.subscribe({ id: 'mine', scope: 'user', after: null });
    expect(client.events('mine').map((event) => event.data.chatId)).toEqual(['a1', 'a2']);
    await instance.http('alice@example.com', 'PUT', '/api/profile', { displayName: 'Alice' });
    await instance.http('bob@example.com', 'POST', '/api/chats/b1/messages', { content: 'not for alice' });
    await instance.http('alice@example.com', 'POST', '/api/chats/a2/messages', { content: 'for alice' });
    await client.next((frame) => frame.type === 'event' && frame.data.content === 'for alice');
    const types = client.events('mine').map((event) => event.eventType);
    expect(types.slice(0, 2)).toEqual(['ChatStarted', 'ChatStarted']);
    expect(types.at(-1)).toBe('MessagePosted');
    expect(JSON.stringify(client.frames)).not.toContain('not for alice');
  });

  it('keeps the all scope for analysts', async () => {
    instance = await startInstance({ env: { ANALYST_EMAILS: 'ana@example.com' } });
    await startChat(instance, 'alice@example.com', 'a1');
    await startChat(instance, 'bob@example.com', 'b1');
    const alice = await open();
    expect(await alice.subscribe({ id: 'everything', scope: 'all', after: null })).toMatchObject({
      type: 'error',
      id: 'everything',
      code: 'LAKECHAT_ERR_WS_FORBIDDEN_SCOPE',
    });
    const analyst = await open({ user: 'Ana@Example.com' });
    expect((await analyst.subscribe({ id: 'everything', scope: 'all', after: null })).type).toBe('caught_up');
    expect(analyst.events('everything').map((event) => event.data.chatId)).toEqual(['a1', 'b1']);
  });

  it('stops a subscription on unsubscribe, and refuses unknown and duplicate ids', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    const client = await open();
    await client.subscribe({ id: 's1', scope: 'chat', chatId: 'c1' });
    expect(await client.subscribe({ id: 's1', scope: 'user' })).toMatchObject({ type: 'error', id: 's1', code: 'LAKECHAT_ERR_WS_DUPLICATE_SUBSCRIPTION' });
    client.send({ type: 'unsubscribe', id: 's1' });
    await client.next((frame) => frame.type === 'unsubscribed' && frame.subscription === 's1');
    client.send({ type: 'unsubscribe', id: 's1' });
    expect(await client.next((frame) => frame.type === 'error' && frame.code === 'LAKECHAT_ERR_WS_UNKNOWN_SUBSCRIPTION')).toMatchObject({ id: 's1' });
    await instance.http('alice@example.com', 'POST', '/api/chats/c1/messages', { content: 'unheard' });
    // The same id may be used again; the new subscription sees the message, the old one did not.
    await client.subscribe({ id: 's1', scope: 'chat', chatId: 'c1', after: null });
    const events = client.events('s1');
    expect(events.map((event) => event.eventType)).toEqual(['ChatStarted', 'MessagePosted']);
  });

  it('refuses a cursor the store never issued with an error frame for that subscription', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    const client = await open();
    expect(await client.subscribe({ id: 's1', scope: 'chat', chatId: 'c1', after: 'not-a-cursor' })).toMatchObject({
      type: 'error',
      id: 's1',
      code: 'LAKECHAT_ERR_STORE_INVALID_CURSOR',
    });
    // The id is free again.
    expect((await client.subscribe({ id: 's1', scope: 'chat', chatId: 'c1', after: null })).type).toBe('caught_up');
  });

  it('relays signals to the chat’s other subscribers, never to the sender, and stores nothing', async () => {
    instance = await startInstance();
    await startChat(instance, 'alice@example.com', 'c1');
    await startChat(instance, 'alice@example.com', 'c2');
    const sender = await open();
    const phone = await open();
    const laptop = await open();
    await sender.subscribe({ id: 'mine', scope: 'chat', chatId: 'c1' });
    await phone.subscribe({ id: 'chat', scope: 'chat', chatId: 'c1' });
    await laptop.subscribe({ id: 'everything-of-mine', scope: 'user' });
    await laptop.subscribe({ id: 'other-chat', scope: 'chat', chatId: 'c2' });
    const before = (await instance.store.readAll()).events.length;

    sender.send({ type: 'signal', chatId: 'c1', kind: 'typing', data: { on: true } });
    sender.send({ type: 'signal', chatId: 'c1', kind: 'delta', data: { text: 'Hel' } });
    const expected = [
      { kind: 'typing', data: { on: true } },
      { kind: 'delta', data: { text: 'Hel' } },
    ];
    await phone.until(() => (phone.frames.filter((f) => f.type === 'signal').length === 2 ? true : undefined), 'two signals on the phone');
    await laptop.until(() => (laptop.frames.filter((f) => f.type === 'signal').length === 2 ? true : undefined), 'two signals on the laptop');
    expect(phone.frames.filter((f) => f.type === 'signal')).toEqual(expected.map((s) => ({ type: 'signal', subscription: 'chat', chatId: 'c1', ...s })));
    expect(laptop.frames.filter((f) => f.type === 'signal')).toEqual(expected.map((s) => ({ type: 'signal', subscription: 'everything-of-mine', chatId: 'c1', ...s })));
    sender.send({ type: 'ping' });
    await sender.next((frame) => frame.type === 'pong');
    expect(sender.frames.filter((f) => f.type === 'signal')).toEqual([]);
    expect((await instance.store.readAll()).events.length).toBe(before);
  });
});
