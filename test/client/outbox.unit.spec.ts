import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { localStorageOutbox, Outbox, type OutboxStorage, type PendingPost } from '../../client/src/outbox.ts';
import type { PostFrame } from '../../client/src/protocol.ts';

const post = (id: string, chatId = 'c'): PendingPost => ({ id, chatId, content: `content ${id}`, role: 'user', createdAt: '2026-01-01T00:00:00.000Z' });
const ack = (id: string, position = 1) => ({ type: 'ack' as const, id, messageId: `m-${id}`, position, cursor: `1-${position}`, version: position + 1, duplicate: false });

/** A storage like localStorage, in memory. */
function memoryStorage() {
  const values = new Map<string, string>();
  return {
    getItem: (key: string) => values.get(key) ?? null,
    setItem: (key: string, value: string) => void values.set(key, value),
    removeItem: (key: string) => void values.delete(key),
    values,
  };
}

function outbox(options: Partial<ConstructorParameters<typeof Outbox>[0]> = {}) {
  const sent: PostFrame[] = [];
  const box = new Outbox({ postsPerSecond: 0, send: (frame) => sent.push(frame), ...options });
  return { box, sent };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('the outbox', () => {
  it('holds posts made while disconnected and sends them once connected', async () => {
    const { box, sent } = outbox();
    await box.ready;
    const acked = box.post(post('a'));
    expect(sent).toEqual([]);
    box.connected();
    expect(sent).toEqual([{ type: 'post', id: 'a', chatId: 'c', content: 'content a', role: 'user' }]);
    box.acked(ack('a'));
    await expect(acked).resolves.toMatchObject({ id: 'a', messageId: 'm-a', duplicate: false });
  });

  it('sends a post again with the same id after a disconnection that lost its ack', async () => {
    const { box, sent } = outbox({ retry: { initialDelayMs: 100, maxDelayMs: 100 } });
    await box.ready;
    box.connected();
    const acked = box.post(post('a'));
    box.disconnected();
    box.connected();
    await vi.advanceTimersByTimeAsync(100); // after a backoff: the lost attempt may still be under way
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'a']);
    box.acked({ ...ack('a'), duplicate: true });
    await expect(acked).resolves.toMatchObject({ id: 'a', duplicate: true });
    box.disconnected();
    box.connected();
    expect(sent).toHaveLength(2); // acknowledged: never sent again
  });

  it('sends one post per chat at a time, in order, and chats side by side', async () => {
    const { box, sent } = outbox();
    await box.ready;
    box.connected();
    void box.post(post('a1', 'a'));
    void box.post(post('a2', 'a'));
    void box.post(post('b1', 'b'));
    expect(sent.map((frame) => frame.id)).toEqual(['a1', 'b1']);
    box.acked(ack('a1'));
    expect(sent.map((frame) => frame.id)).toEqual(['a1', 'b1', 'a2']);
  });

  it('waits longer before each resend of a post whose connections keep dropping', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { box, sent } = outbox({ retry: { initialDelayMs: 100, maxDelayMs: 1_000 } });
    await box.ready;
    box.connected();
    void box.post(post('a'));
    const waits: number[] = [];
    for (let loss = 0; loss < 4; loss++) {
      const before = sent.length;
      box.disconnected();
      box.connected();
      let waited = 0;
      while (sent.length === before) {
        await vi.advanceTimersByTimeAsync(1);
        waited += 1;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([99, 199, 399, 799]);
    vi.restoreAllMocks();
  });

  it('after a lost connection, sends the oldest lost post of a chat alone, and one more per ack up to postsInFlightPerChat', async () => {
    // The stall of postsInFlightPerChat > 1 under constant cuts: every loss sent the whole window
    // again, and the server, which finishes lost attempts too, got more resends than it cleared until
    // no ack came back before the next cut.
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { box, sent } = outbox({ postsInFlightPerChat: 3, retry: { initialDelayMs: 100, maxDelayMs: 10_000 } });
    await box.ready;
    box.connected();
    for (const id of ['a', 'b', 'c', 'd', 'e']) void box.post(post(id));
    void box.post(post('x', 'other'));
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'b', 'c', 'x']);
    box.disconnected();
    box.connected();
    await vi.advanceTimersByTimeAsync(99);
    expect(sent.map((frame) => frame.id).slice(4)).toEqual(['a', 'x']);
    box.acked(ack('a'));
    expect(sent.map((frame) => frame.id).slice(6)).toEqual(['b', 'c']); // two at once now
    box.acked(ack('b'));
    expect(sent.map((frame) => frame.id).slice(8)).toEqual(['d', 'e']); // three: postsInFlightPerChat
  });

  it('starts the resend delay again from the first bound after a connection that acknowledged a post', async () => {
    // Each post used to keep its own delay, doubled on every cut it was in flight for and never
    // reset: the posts left behind by connections that each acknowledged one post waited 100, 200,
    // 400... ms (up to the cap) while holding the window.
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { box, sent } = outbox({ postsInFlightPerChat: 4, retry: { initialDelayMs: 100, maxDelayMs: 10_000 } });
    await box.ready;
    box.connected();
    for (const id of ['a', 'b', 'c', 'd']) void box.post(post(id));
    const waits: number[] = [];
    for (const oldest of ['a', 'b', 'c']) {
      box.acked(ack(oldest));
      box.disconnected();
      box.connected();
      const before = sent.length;
      let waited = 0;
      while (sent.length === before && waited < 10_000) {
        await vi.advanceTimersByTimeAsync(1);
        waited += 1;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([99, 99, 99]);
    // Each ack lets the lost posts that are due go at once; each loss sends the oldest alone.
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'b', 'c', 'd', 'b', 'c', 'd', 'c', 'd', 'd']);
  });

  it('doubles the resend delay once per connection lost without an ack, however many posts were in flight on it', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { box, sent } = outbox({ postsInFlightPerChat: 4, retry: { initialDelayMs: 100, maxDelayMs: 10_000 } });
    await box.ready;
    box.connected();
    for (const id of ['a', 'b', 'c', 'd']) void box.post(post(id));
    const waits: number[] = [];
    for (let loss = 0; loss < 3; loss++) {
      box.disconnected();
      box.connected();
      const before = sent.length;
      let waited = 0;
      while (sent.length === before && waited < 10_000) {
        await vi.advanceTimersByTimeAsync(1);
        waited += 1;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([99, 199, 399]);
  });

  it('sends up to postsInFlightPerChat posts of a chat before the first ack', async () => {
    const { box, sent } = outbox({ postsInFlightPerChat: 2 });
    await box.ready;
    box.connected();
    for (const id of ['a', 'b', 'c']) void box.post(post(id));
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'b']);
    box.acked(ack('b'));
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'b', 'c']);
  });

  it('waits as long as the server says after a rate-limit error, then sends the same id', async () => {
    const { box, sent } = outbox();
    await box.ready;
    box.connected();
    void box.post(post('a'));
    box.failed({ type: 'error', id: 'a', code: 'LAKECHAT_ERR_WS_RATE_LIMITED', message: 'slow down', details: { retryAfterMs: 300 } });
    await vi.advanceTimersByTimeAsync(299);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'a']);
  });

  it('retries a post answered with a retryable error (stored, read models late) with backoff', async () => {
    const { box, sent } = outbox({ retry: { initialDelayMs: 100, maxDelayMs: 100 } });
    await box.ready;
    box.connected();
    void box.post(post('a'));
    box.failed({ type: 'error', id: 'a', code: 'LAKECHAT_ERR_PROJECTION_TIMEOUT', message: 'late' });
    await vi.advanceTimersByTimeAsync(100);
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'a']);
  });

  it('rejects a post refused for good and sends the next one of its chat', async () => {
    const { box, sent } = outbox();
    await box.ready;
    box.connected();
    const refused = box.post(post('a'));
    void box.post(post('b'));
    box.failed({ type: 'error', id: 'a', code: 'LAKECHAT_ERR_CHAT_NOT_FOUND', message: 'No such chat' });
    await expect(refused).rejects.toMatchObject({ code: 'LAKECHAT_ERR_CHAT_NOT_FOUND', message: 'No such chat' });
    expect(sent.map((frame) => frame.id)).toEqual(['a', 'b']);
    expect(box.pending.map((pending) => pending.id)).toEqual(['b']);
  });

  it('paces posts at postsPerSecond', async () => {
    const { box, sent } = outbox({ postsPerSecond: 2 });
    await box.ready;
    box.connected();
    for (const chat of ['a', 'b', 'c', 'd']) void box.post(post(chat, chat));
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toHaveLength(4);
  });

  it('keeps posts in a persistent storage until acked, so the next outbox delivers them', async () => {
    const storage = memoryStorage();
    const first = outbox({ storage: localStorageOutbox({ key: 'box', storage }) });
    await first.box.ready;
    void first.box.post(post('a'));
    void first.box.post(post('b'));
    first.box.connected();
    first.box.acked(ack('a'));
    expect(JSON.parse(storage.values.get('box')!).map((pending: PendingPost) => pending.id)).toEqual(['b']);

    // The page reloads: a new outbox on the same storage sends what was never acknowledged.
    const acks: string[] = [];
    const second = outbox({ storage: localStorageOutbox({ key: 'box', storage }), onAck: (pending) => acks.push(pending.id) });
    await second.box.ready;
    second.box.connected();
    expect(second.sent.map((frame) => frame.id)).toEqual(['b']);
    second.box.acked(ack('b'));
    expect(acks).toEqual(['b']);
    expect(storage.values.has('box')).toBe(false);
  });

  it('lets tabs sharing a localStorage key add and remove their own posts', () => {
    const storage = memoryStorage();
    const tabA = localStorageOutbox({ key: 'box', storage });
    const tabB = localStorageOutbox({ key: 'box', storage });
    tabA.add(post('a'));
    tabB.add(post('b'));
    tabA.remove('a');
    expect((tabB.load() as PendingPost[]).map((pending) => pending.id)).toEqual(['b']);
  });

  it('rejects waiting posts on close but keeps them in storage', async () => {
    const stored: PendingPost[] = [];
    const storage: OutboxStorage = { load: () => [], add: (pending) => void stored.push(pending), remove: () => undefined };
    const { box } = outbox({ storage });
    await box.ready;
    const waiting = box.post(post('a'));
    const { LakechatClientError } = await import('../../client/src/errors.ts');
    box.close(new LakechatClientError('LAKECHAT_CLIENT_CLOSED', 'closed'));
    await expect(waiting).rejects.toMatchObject({ code: 'LAKECHAT_CLIENT_CLOSED' });
    expect(stored.map((pending) => pending.id)).toEqual(['a']);
  });
});
