import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ErasedEvent, isErased, LakechatClient, type LakechatEvent } from '../../client/src/index.ts';
import type { CloseEventLike, MessageEventLike, WebSocketLike } from '../../client/src/platform.ts';

/** A scripted socket standing in for the platform's WebSocket: the test plays the server. */
class ScriptedSocket implements WebSocketLike {
  static made: ScriptedSocket[] = [];
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: MessageEventLike) => void) | null = null;
  onclose: ((event: CloseEventLike) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: any[] = [];
  closedWith: number | undefined;

  constructor(readonly url: string) {
    ScriptedSocket.made.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  // the server's side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const event = (subscription: string, cursor: string, content: string) => ({
  type: 'event',
  subscription,
  position: Number(cursor.split('-')[1]),
  cursor,
  streamId: 'chat-x',
  version: 1,
  eventType: 'MessagePosted',
  data: { chatId: 'c', messageId: content, position: 1, role: 'user', content },
  recordedAt: '2026-01-01T00:00:00.000Z',
});

const latest = () => ScriptedSocket.made.at(-1)!;
let client: LakechatClient;

function makeClient(options: ConstructorParameters<typeof LakechatClient>[0] = {}): LakechatClient {
  client = new LakechatClient({ url: 'http://server.test', user: 'alice@example.com', WebSocket: ScriptedSocket, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 }, ...options });
  return client;
}

beforeEach(() => {
  vi.useFakeTimers();
  ScriptedSocket.made = [];
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(async () => {
  const closing = client.close();
  await vi.runAllTimersAsync();
  await closing;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('the client connection', () => {
  it('connects to /ws with the demo user as a query parameter', () => {
    makeClient();
    expect(latest().url).toBe('ws://server.test/ws?user=alice%40example.com');
    expect(client.state).toBe('connecting');
  });

  it('resubscribes from the last delivered cursor after a drop, and drops a replayed event', async () => {
    makeClient();
    const contents: string[] = [];
    const sub = client.subscribe({ scope: 'chat', chatId: 'c', after: null }, { onEvent: (e: LakechatEvent) => e.eventType === 'MessagePosted' && contents.push(e.data.content) });
    latest().open();
    expect(latest().sent).toEqual([{ type: 'subscribe', id: 's1', scope: 'chat', chatId: 'c', after: null }]);
    latest().receive(event('s1', '10-1', 'one'));
    latest().receive(event('s1', '11-2', 'two'));
    latest().drop(1006);
    expect(client.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(50); // full jitter: 0.5 of the first bound (100 ms)
    latest().open();
    expect(latest().sent).toEqual([{ type: 'subscribe', id: 's1', scope: 'chat', chatId: 'c', after: '11-2' }]);
    // A server that sent the last event again (and an older one) is not believed: each event once.
    latest().receive(event('s1', '11-2', 'two'));
    latest().receive(event('s1', '10-1', 'one'));
    latest().receive(event('s1', '12-3', 'three'));
    expect(contents).toEqual(['one', 'two', 'three']);
    expect(sub.cursor).toBe('12-3');
  });

  it('hands an erased event (a tombstone) to onErased, never to onEvent, and resumes after it', async () => {
    makeClient();
    const shown = new Map<number, string>();
    const erased: ErasedEvent[] = [];
    const sub = client.subscribe(
      { scope: 'user', after: null },
      {
        onEvent: (e: LakechatEvent) => void (e.eventType === 'MessagePosted' && shown.set(e.position, e.data.content)),
        onErased: (e) => {
          erased.push(e);
          shown.delete(e.position);
        },
      },
    );
    latest().open();
    latest().receive(event('s1', '10-1', 'one'));
    const tombstone = { ...event('s1', '11-2', 'two'), streamId: 'erased-5f1c', data: { erased: true, erasureId: 'e-1' } };
    latest().receive(tombstone);
    latest().receive(event('s1', '12-3', 'three'));
    expect([...shown.values()]).toEqual(['one', 'three']);
    expect(erased).toEqual([tombstone]);
    expect(isErased(erased[0]!)).toBe(true);
    expect(sub.cursor).toBe('12-3');
    // Dropping what was shown: the tombstone names the event by its position (and cursor), as shown.
    latest().receive({ ...event('s1', '13-1', 'x'), data: { erased: true, erasureId: 'e-1' } });
    expect(erased.map((e) => e.position)).toEqual([2, 1]);
    expect([...shown.values()]).toEqual(['three']);
  });

  it('resumes a live-only subscription after the point where it went live', async () => {
    makeClient();
    client.subscribe({ scope: 'user' });
    latest().open();
    expect(latest().sent[0]).toEqual({ type: 'subscribe', id: 's1', scope: 'user' });
    latest().receive({ type: 'caught_up', subscription: 's1', cursor: '40-7' });
    latest().drop(1012, 'LAKECHAT_ERR_WS_SERVER_RESTARTING');
    await vi.advanceTimersByTimeAsync(50);
    latest().open();
    expect(latest().sent[0]).toEqual({ type: 'subscribe', id: 's1', scope: 'user', after: '40-7' });
  });

  it('waits longer after each failed attempt, and short again once connected', async () => {
    makeClient();
    latest().drop(1006);
    const delays: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = ScriptedSocket.made.length;
      let waited = 0;
      while (ScriptedSocket.made.length === before) {
        await vi.advanceTimersByTimeAsync(1);
        waited += 1;
      }
      delays.push(waited);
      latest().drop(1006);
    }
    expect(delays).toEqual([50, 100, 200, 400, 500]); // half of 100, 200, 400, 800, then the 1 s cap
    await vi.advanceTimersByTimeAsync(500);
    latest().open();
    latest().drop(4001, 'LAKECHAT_ERR_WS_SLOW_CONSUMER');
    const before = ScriptedSocket.made.length;
    await vi.advanceTimersByTimeAsync(50);
    expect(ScriptedSocket.made.length).toBe(before + 1);
  });

  it('stops on 4400-4499 and on 1008, reporting one error and never reconnecting', async () => {
    for (const [code, reason] of [
      [4401, 'LAKECHAT_ERR_AUTH_MISSING_IDENTITY'],
      [4429, 'LAKECHAT_ERR_WS_TOO_MANY_CONNECTIONS'],
      [1008, 'LAKECHAT_ERR_WS_TOO_MANY_BAD_FRAMES'],
    ] as const) {
      ScriptedSocket.made = [];
      makeClient();
      const errors: unknown[] = [];
      client.on('error', (error) => errors.push(error));
      latest().open();
      latest().receive({ type: 'error', code: reason, message: 'The sentence' });
      latest().drop(code, reason);
      expect(client.state).toBe('closed');
      await vi.advanceTimersByTimeAsync(60_000);
      expect(ScriptedSocket.made).toHaveLength(1);
      expect(errors).toEqual([expect.objectContaining({ code: reason, message: 'The sentence', closeCode: code })]);
    }
  });

  it('pings after a quiet interval and reconnects when nothing answers', async () => {
    makeClient({ heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 500 });
    latest().open();
    const first = latest();
    await vi.advanceTimersByTimeAsync(999);
    expect(first.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.sent).toEqual([{ type: 'ping' }]);
    await vi.advanceTimersByTimeAsync(499);
    expect(client.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(client.state).toBe('reconnecting'); // no pong: the connection is dead, without waiting for its close
    expect(first.closedWith).toBe(4000);
    await vi.advanceTimersByTimeAsync(50);
    expect(ScriptedSocket.made).toHaveLength(2);
  });

  it('keeps a connection that answers the ping, and sends no ping while frames flow', async () => {
    makeClient({ heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 500 });
    latest().open();
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(900);
      latest().receive({ type: 'pong' }); // any frame proves the connection alive
    }
    expect(latest().sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(latest().sent).toEqual([{ type: 'ping' }]);
    latest().receive({ type: 'pong' });
    await vi.advanceTimersByTimeAsync(1_400); // the next ping is due 1 s after the pong, its deadline 0.5 s later
    expect(client.state).toBe('open');
    expect(ScriptedSocket.made).toHaveLength(1);
  });

  it('gives up on a connection attempt that does not open in time', async () => {
    makeClient({ connectTimeoutMs: 2_000 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(client.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(50);
    expect(ScriptedSocket.made).toHaveLength(2);
  });

  it('resends an unacknowledged post with the same id on the next connection', async () => {
    makeClient();
    latest().open();
    const acked = client.post('c', { content: 'hi', clientMessageId: 'k1' });
    await vi.advanceTimersByTimeAsync(0);
    expect(latest().sent).toEqual([{ type: 'post', id: 'k1', chatId: 'c', content: 'hi', role: 'user' }]);
    latest().drop(1006);
    await vi.advanceTimersByTimeAsync(50);
    latest().open();
    expect(latest().sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(75); // half of the first resend bound (250 ms), from the drop
    expect(latest().sent).toEqual([{ type: 'post', id: 'k1', chatId: 'c', content: 'hi', role: 'user' }]);
    latest().receive({ type: 'ack', id: 'k1', messageId: 'm', position: 1, cursor: '5-5', version: 2, duplicate: true });
    await expect(acked).resolves.toMatchObject({ id: 'k1', duplicate: true });
  });
});
