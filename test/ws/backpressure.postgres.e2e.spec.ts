import { describe, expect, it } from 'vitest';
import { closeCodes } from '../../src/ws/index.ts';
import { usePostgresInstances } from './postgres-fixture.ts';
import { appendMessages, eventually, messagePositionsByChat, postMessages, startChat } from './ws-support.ts';

const fixture = usePostgresInstances();
const instance = fixture.instance;
const client = (url: string, user: string) => fixture.client(url, { user });

// More than the kernel's socket buffers on both ends of a loopback connection can hold (a few MB
// each), so what the paused client does not read must wait in the server, or not be sent at all.
const messages = 500;
const messageBytes = 30_000;
const content = (n: number) => `${n} `.padEnd(messageBytes, 'x');
const ascending = (count: number) => Array.from({ length: count }, (_, n) => n + 1);

describe('a client that stops reading', () => {
  it('costs the server a bounded send buffer, does not slow the others, and gets everything in order once it reads', async () => {
    const bufferCap = 64 * 1024;
    const b = await instance({
      env: { WS_SEND_BUFFER_BYTES: String(bufferCap), WS_STUCK_TIMEOUT_MS: '600000', WS_HEARTBEAT_INTERVAL_MS: '600000' },
      // A subscriber this far behind leaves the store's live tail and is fed from the database later.
      maxQueuedPerSubscriber: 20,
    });
    const a = await instance();
    const user = 'slow@example.com';
    await startChat(a, user, 'big');
    const slow = await client(b.url, user);
    const fast = await client(b.url, user);
    await slow.subscribe({ id: 's', scope: 'chat', chatId: 'big' });
    await fast.subscribe({ id: 'f', scope: 'chat', chatId: 'big' });
    slow.socket.pause();

    await appendMessages(a, user, 'big', messages, content);
    await fast.until(() => (fast.events('f').length >= messages ? true : undefined), 'every message on the fast client', 30_000);
    const stats = await eventually('the slow connection to be paused', () => {
      const now = b.app.lakechatWs.stats();
      return now.paused === 1 ? now : undefined;
    });
    // At most the cap plus the frame that crossed it: the other ~14 MB were never pulled from the store.
    expect(stats.maxBufferedBytes).toBeLessThanOrEqual(bufferCap + messageBytes + 1_024);
    expect(stats.connections).toBe(2);

    slow.socket.resume();
    await slow.until(() => (slow.events('s').length >= messages ? true : undefined), 'every message on the slow client', 30_000);
    const received = slow.events('s');
    expect(received).toHaveLength(messages);
    expect(messagePositionsByChat(received).get('big')).toEqual(ascending(messages));
    expect(received.map((event) => event.cursor)).toEqual(fast.events('f').map((event) => event.cursor));
    expect(b.app.lakechatWs.stats().paused).toBe(0);

    // Still live after being fed from the store.
    await postMessages(a, user, 'big', 1, () => 'one more');
    await slow.next((frame) => frame.type === 'event' && frame.data.content === 'one more');
    // 15 MB appended and read back in pages of WS_SUBSCRIPTION_PAGE_BYTES: more than the default 30 s on a loaded machine.
  }, 60_000);

  it('closes a client stuck past WS_STUCK_TIMEOUT_MS with 4001, after what it was sent, with no gap', async () => {
    const b = await instance({
      env: { WS_SEND_BUFFER_BYTES: String(16 * 1024), WS_STUCK_TIMEOUT_MS: '300', WS_HEARTBEAT_INTERVAL_MS: '600000' },
      maxQueuedPerSubscriber: 20,
    });
    const user = 'stuck@example.com';
    await startChat(b, user, 'big');
    const stuck = await client(b.url, user);
    await stuck.subscribe({ id: 's', scope: 'chat', chatId: 'big' });
    stuck.socket.pause();
    await appendMessages(b, user, 'big', messages, content);
    // The server gives up on it: its subscription ends (the socket waits for the close handshake).
    await eventually('the stuck subscription to end', () => b.app.lakechatWs.stats().subscriptions === 0);

    stuck.socket.resume();
    expect(await stuck.closed).toEqual({ code: closeCodes.slowConsumer, reason: 'LAKECHAT_ERR_WS_SLOW_CONSUMER' });
    const received = stuck.events('s');
    expect(received.length).toBeLessThan(messages);
    expect(messagePositionsByChat(received).get('big') ?? []).toEqual(ascending(received.length));
    await eventually('the connection to be freed', () => b.app.lakechatWs.stats().connections === 0);

    // Reconnecting and resuming from the last cursor delivers the rest.
    const again = await client(b.url, user);
    const after = received.at(-1)?.cursor ?? null;
    await again.subscribe({ id: 's', scope: 'chat', chatId: 'big', after });
    await again.until(() => (received.length + again.events('s').length >= messages + (after === null ? 1 : 0) ? true : undefined), 'the rest', 30_000);
    const all = [...received, ...again.events('s')];
    expect(messagePositionsByChat(all).get('big')).toEqual(ascending(messages));
  });
});
