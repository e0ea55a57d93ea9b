import { describe, expect, it } from 'vitest';
import { compareCursors, type PostgresEventStore } from '../../src/event-store/index.ts';
import { withClient } from '../event-store/postgres-support.ts';
import { usePostgresInstances } from './postgres-fixture.ts';
import { eventually, type Frame, type Instance, messagePositionsByChat, postMessages, startChat } from './ws-support.ts';

const { databaseUrl, instance, client } = usePostgresInstances();

/** Every event of a user in the store's order: what a user-scope subscription must deliver, exactly. */
async function storeCursors(store: Instance['store'], owner: string): Promise<string[]> {
  const cursors: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await store.readAll({ owner, after, limit: 1_000 });
    cursors.push(...page.events.map((event) => event.cursor));
    if (page.events.length < 1_000) return cursors;
    after = page.cursor;
  }
}

function expectStrictlyIncreasing(events: readonly Frame[]): void {
  for (let i = 1; i < events.length; i++) expect(compareCursors(events[i - 1]!.cursor, events[i]!.cursor), `event ${i}`).toBeLessThan(0);
}

async function listenerPid(store: PostgresEventStore): Promise<number | undefined> {
  return withClient(databaseUrl(), async (pg) => {
    const { rows } = await pg.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`, [`lakechat-listen-${store.instanceId}`]);
    return rows[0]?.pid;
  });
}

describe('streaming over PostgreSQL, across two instances', () => {
  it('catches up then follows live with no gap and no duplicate while writers append concurrently on both instances', async () => {
    const a = await instance();
    const b = await instance();
    const user = 'writer@example.com';
    const chats = ['w1', 'w2', 'w3', 'w4'];
    for (const chat of chats) await startChat(a, user, chat);

    const early = await client(b.url, { user });
    expect((await early.subscribe({ id: 'u', scope: 'user', after: null })).type).toBe('caught_up');
    // Two writers per instance, each on its own chat, 40 messages each; subscribers join mid-way.
    const writing = Promise.all(chats.map((chat, i) => postMessages(i % 2 === 0 ? a : b, user, chat, 40, (n) => `${chat} #${n}`)));
    await early.until(() => (early.events('u').length >= 30 ? true : undefined), 'some messages');
    const midway = await client(a.url, { user });
    const midwayChat = await client(b.url, { user });
    const [fromStart, chatFromStart] = await Promise.all([
      midway.subscribe({ id: 'u', scope: 'user', after: null }),
      midwayChat.subscribe({ id: 'c', scope: 'chat', chatId: 'w3', after: null }),
    ]);
    expect(fromStart.type).toBe('caught_up');
    expect(chatFromStart.type).toBe('caught_up');
    await writing;

    const expected = await storeCursors(a.store, user);
    expect(expected).toHaveLength(4 + 4 * 40);
    for (const subscriber of [early, midway]) {
      await subscriber.until(() => (subscriber.events('u').length >= expected.length ? true : undefined), 'every event');
      const events = subscriber.events('u');
      expect(events.map((event) => event.cursor)).toEqual(expected);
      expectStrictlyIncreasing(events);
      for (const chat of chats) expect(messagePositionsByChat(events).get(chat)).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
    }
    await midwayChat.until(() => (midwayChat.events('c').length >= 41 ? true : undefined), 'the chat');
    const chatEvents = midwayChat.events('c');
    expect(chatEvents.map((event) => event.eventType)).toEqual(['ChatStarted', ...Array<string>(40).fill('MessagePosted')]);
    expect(chatEvents.every((event) => event.data.chatId === 'w3')).toBe(true);
    expect(messagePositionsByChat(chatEvents).get('w3')).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
  });

  it('resumes after dropped connections from the last cursor received: nothing lost, nothing twice', async () => {
    const a = await instance();
    const b = await instance();
    const user = 'mobile@example.com';
    await startChat(a, user, 'm1');
    const writing = postMessages(a, user, 'm1', 120, (n) => `message ${n}`);

    const received: Frame[] = [];
    let after: string | null = null;
    for (let drop = 0; drop < 3; drop++) {
      const connection = await client(drop % 2 === 0 ? b.url : a.url, { user });
      connection.send({ type: 'subscribe', id: 's', scope: 'chat', chatId: 'm1', after });
      const target = received.length + 25;
      await connection.until(() => (received.length + connection.events('s').length >= target ? true : undefined), 'some events');
      // The network drops: no close frame, no goodbye. What the client got is all it has.
      connection.socket.terminate();
      await connection.closed;
      received.push(...connection.events('s'));
      after = received.at(-1)!.cursor;
    }
    await writing;
    const last = await client(b.url, { user });
    last.send({ type: 'subscribe', id: 's', scope: 'chat', chatId: 'm1', after });
    await last.until(() => (received.length + last.events('s').length >= 121 ? true : undefined), 'the rest');
    received.push(...last.events('s'));

    expect(received.map((event) => event.cursor)).toEqual(await storeCursors(a.store, user));
    expectStrictlyIncreasing(received);
    expect(messagePositionsByChat(received).get('m1')).toEqual(Array.from({ length: 120 }, (_, n) => n + 1));
  });

  it('relays signals between instances, in both directions, to every subscriber but the sender', async () => {
    const a = await instance();
    const b = await instance();
    const user = 'signals@example.com';
    await startChat(a, user, 's1');
    const onA = await client(a.url, { user });
    const onB = await client(b.url, { user });
    const watcherOnB = await client(b.url, { user });
    await onA.subscribe({ id: 'x', scope: 'chat', chatId: 's1' });
    await onB.subscribe({ id: 'y', scope: 'chat', chatId: 's1' });
    await watcherOnB.subscribe({ id: 'z', scope: 'user' });

    onA.send({ type: 'signal', chatId: 's1', kind: 'delta', data: { text: 'from A' } });
    const atB = await onB.next((frame) => frame.type === 'signal');
    expect(atB).toEqual({ type: 'signal', subscription: 'y', chatId: 's1', kind: 'delta', data: { text: 'from A' } });
    await watcherOnB.next((frame) => frame.type === 'signal' && frame.data.text === 'from A');

    onB.send({ type: 'signal', chatId: 's1', kind: 'typing', data: { on: true } });
    expect(await onA.next((frame) => frame.type === 'signal')).toEqual({ type: 'signal', subscription: 'x', chatId: 's1', kind: 'typing', data: { on: true } });
    await watcherOnB.next((frame) => frame.type === 'signal' && frame.kind === 'typing');
    onA.send({ type: 'ping' });
    onB.send({ type: 'ping' });
    await onA.next((frame) => frame.type === 'pong');
    await onB.next((frame) => frame.type === 'pong');
    expect(onA.frames.filter((frame) => frame.type === 'signal')).toHaveLength(1);
    expect(onB.frames.filter((frame) => frame.type === 'signal')).toHaveLength(1);
  });

  it('loses nothing when the LISTEN connection of the subscriber’s instance is killed mid-stream, and relays signals again after', async () => {
    const a = await instance();
    // B never polls within the test: only notifications, or the catch-up after the listener reconnects, can wake it.
    const b = await instance({ pollIntervalMs: 60_000 });
    const bStore = b.store as PostgresEventStore;
    const user = 'listener@example.com';
    await startChat(a, user, 'l1');
    const subscriber = await client(b.url, { user });
    await subscriber.subscribe({ id: 's', scope: 'chat', chatId: 'l1' });
    const firstPid = await eventually('B to listen', () => listenerPid(bStore));

    const writing = postMessages(a, user, 'l1', 20, (n) => `message ${n}`);
    await subscriber.until(() => (subscriber.events('s').length >= 10 ? true : undefined), 'the first messages');
    await withClient(databaseUrl(), (pg) => pg.query('SELECT pg_terminate_backend($1)', [firstPid]));
    await writing;
    // Appended after the kill, while B's listener is down or reconnecting: no notification of these reaches B.
    await postMessages(a, user, 'l1', 40, (n) => `message ${20 + n}`);
    await subscriber.until(() => (subscriber.events('s').length >= 60 ? true : undefined), 'every message', 20_000);
    expect(messagePositionsByChat(subscriber.events('s')).get('l1')).toEqual(Array.from({ length: 60 }, (_, n) => n + 1));
    expectStrictlyIncreasing(subscriber.events('s'));

    await eventually('B to listen again', async () => {
      const pid = await listenerPid(bStore);
      return pid !== undefined && pid !== firstPid ? pid : undefined;
    });
    const sender = await client(a.url, { user });
    sender.send({ type: 'signal', chatId: 'l1', kind: 'typing', data: {} });
    await subscriber.next((frame) => frame.type === 'signal');
    await postMessages(a, user, 'l1', 1, () => 'after the reconnect');
    await subscriber.next((frame) => frame.type === 'event' && frame.data.content === 'after the reconnect');
  });
});
