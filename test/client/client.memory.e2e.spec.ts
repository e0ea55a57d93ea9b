import { afterEach, describe, expect, it } from 'vitest';
import { LakechatClient, LakechatClientError, type LakechatEvent } from '../../client/src/index.ts';
import { eventually, type Instance, startInstance } from '../ws/ws-support.ts';

const user = 'alice@example.com';
let instance: Instance | undefined;
const clients: LakechatClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await instance?.close();
  instance = undefined;
});

async function start(env: Record<string, string> = {}): Promise<Instance> {
  instance = await startInstance({ env });
  return instance;
}

function client(server: Instance, options: ConstructorParameters<typeof LakechatClient>[0] = {}): LakechatClient {
  const made = new LakechatClient({ url: `http://127.0.0.1:${server.port}`, user, ...options });
  clients.push(made);
  return made;
}

describe('the client against a real server (memory store)', () => {
  it('subscribes to a chat, posts, and gets each event once in order with the acks', async () => {
    const server = await start();
    const lakechat = client(server);
    await lakechat.chats.create({ id: 'groceries', title: 'Groceries' });
    const events: LakechatEvent[] = [];
    let caughtUp = 0;
    const sub = lakechat.subscribe({ scope: 'chat', chatId: 'groceries', after: null }, { onEvent: (event) => events.push(event), onCaughtUp: () => caughtUp++ });
    const acks = await Promise.all(['milk', 'eggs', 'bread'].map((content) => lakechat.post('groceries', { content })));
    expect(acks.map((ack) => ack.position)).toEqual([1, 2, 3]); // one chat's posts land in the order they were made
    expect(acks.every((ack) => !ack.duplicate)).toBe(true);
    await eventually('the three messages', () => events.filter((event) => event.eventType === 'MessagePosted').length === 3);
    expect(events.map((event) => event.eventType)).toEqual(['ChatStarted', 'MessagePosted', 'MessagePosted', 'MessagePosted']);
    expect(caughtUp).toBe(1);
    expect(lakechat.state).toBe('open');
    expect(sub.cursor).toBe(events.at(-1)!.cursor);
  });

  it('acks a post made again with the same client message id as the original, and stores it once', async () => {
    const server = await start();
    const lakechat = client(server);
    await lakechat.chats.create({ id: 'c' });
    const first = await lakechat.post('c', { content: 'once', clientMessageId: 'k1' });
    const again = await lakechat.post('c', { content: 'once', clientMessageId: 'k1' });
    expect(again).toMatchObject({ messageId: first.messageId, duplicate: true });
    expect((await server.store.readAll({ types: ['MessagePosted'] })).events).toHaveLength(1);
  });

  it('rejects a post the server refuses for good with its code, and keeps nothing of it', async () => {
    const server = await start();
    const lakechat = client(server);
    const refused = await lakechat.post('no-such-chat', { content: 'hi' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LakechatClientError);
    expect((refused as LakechatClientError).code).toBe('LAKECHAT_ERR_CHAT_NOT_FOUND');
    expect(lakechat.pendingPosts).toEqual([]);
  });

  it('restarts a subscription from the beginning, calling onReset, when the server refuses its cursor', async () => {
    const server = await start();
    const lakechat = client(server);
    await lakechat.chats.create({ id: 'c', title: 'One' });
    const events: LakechatEvent[] = [];
    const resets: LakechatClientError[] = [];
    lakechat.subscribe({ scope: 'user', after: 'not-a-cursor' }, { onEvent: (event) => events.push(event), onReset: (reason) => resets.push(reason) });
    await eventually('the replay from the beginning', () => events.length === 1);
    expect(resets.map((reset) => reset.code)).toEqual(['LAKECHAT_ERR_STORE_INVALID_CURSOR']);
    expect(events[0]).toMatchObject({ eventType: 'ChatStarted', data: { chatId: 'c', title: 'One' } });
  });

  it("stops without reconnecting on a 44xx close, reporting the server's sentence once", async () => {
    const server = await start();
    const lakechat = client(server, { user: '' });
    const errors: LakechatClientError[] = [];
    lakechat.on('error', (error) => errors.push(error));
    await eventually('the client to stop', () => lakechat.state === 'closed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'LAKECHAT_ERR_AUTH_MISSING_IDENTITY', closeCode: 4401, message: 'No user identity on the request' });
    await expect(lakechat.post('c', { content: 'x' })).rejects.toMatchObject({ code: 'LAKECHAT_ERR_AUTH_MISSING_IDENTITY' });
  });

  it('reconnects after the server closes with 1012 and resumes after the last event delivered', async () => {
    const server = await start();
    const lakechat = client(server, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    await lakechat.chats.create({ id: 'c' });
    const contents: string[] = [];
    lakechat.subscribe({ scope: 'chat', chatId: 'c', after: null }, { onEvent: (event) => event.eventType === 'MessagePosted' && contents.push(event.data.content) });
    await lakechat.post('c', { content: 'one' });
    await eventually('the first message', () => contents.length === 1);
    const states: string[] = [];
    lakechat.on('state', (state) => states.push(state));
    // What a redeploy sends every client (the hub's shutdown would also stop accepting new connections).
    const connections = (server.app.lakechatWs as unknown as { connections: Set<{ close(reason: { code: number; reason: string }): void }> }).connections;
    for (const connection of connections) connection.close({ code: 1012, reason: 'LAKECHAT_ERR_WS_SERVER_RESTARTING' });
    await eventually('the client to reconnect', () => states.includes('open'));
    await lakechat.post('c', { content: 'two' });
    await eventually('the second message', () => contents.length === 2);
    expect(contents).toEqual(['one', 'two']);
    expect(states).toEqual(['reconnecting', 'open']);
  });

  it('closes once however often close() is called, rejecting what still waits', async () => {
    const server = await start();
    const lakechat = client(server);
    await eventually('the connection', () => lakechat.state === 'open');
    const waiting = lakechat.post('no-chat-yet', { content: 'x' }).catch((error: unknown) => error);
    await Promise.all([lakechat.close(), lakechat.close()]);
    expect(lakechat.state).toBe('closed');
    expect(await waiting).toMatchObject({ code: expect.stringMatching(/LAKECHAT_CLIENT_CLOSED|LAKECHAT_ERR_CHAT_NOT_FOUND/) });
  });

  it('handles the REST API: chats with If-Match, and the profile', async () => {
    const server = await start();
    const lakechat = client(server);
    const chat = await lakechat.chats.create({ id: 'budget', title: 'Budget' });
    expect(chat).toMatchObject({ id: 'budget', title: 'Budget', version: 1 });
    const renamed = await lakechat.chats.rename('budget', 'Budget 2026', { ifMatch: chat.version });
    expect(renamed.version).toBe(2);
    const stale = await lakechat.chats.rename('budget', 'Again', { ifMatch: chat.version }).catch((error: unknown) => error);
    expect(stale).toMatchObject({ code: 'LAKECHAT_ERR_HTTP_PRECONDITION_FAILED', status: 412, details: { currentVersion: 2 } });
    expect((await lakechat.chats.list()).chats.map((listed) => listed.title)).toEqual(['Budget 2026']);
    expect(await lakechat.chats.get('nope')).toBeNull();
    await lakechat.chats.remove('budget', { ifMatch: 2 });
    expect((await lakechat.chats.list()).chats).toEqual([]);

    expect(await lakechat.profile.get()).toBeNull();
    const created = await lakechat.profile.put({ jobTitle: 'Engineer', numberOfDependents: 1 });
    expect(created).toMatchObject({ email: user, jobTitle: 'Engineer', numberOfDependents: 1, version: 1 });
    const patched = await lakechat.profile.patch({ riskTolerance: 'moderate' }, { ifMatch: created.version });
    expect(patched).toMatchObject({ jobTitle: 'Engineer', riskTolerance: 'moderate', version: 2 });
    await expect(lakechat.profile.patch({ notes: 'x' }, { ifMatch: 1 })).rejects.toMatchObject({ status: 412 });
  });
});
