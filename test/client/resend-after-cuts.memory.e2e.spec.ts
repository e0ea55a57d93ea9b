/**
 * Posts of one chat in flight together (postsInFlightPerChat 2 and 4) through cuts that are the same
 * every run: a proxy cuts each connection right after the first ack it carries, so every connection
 * acknowledges one post and loses the others in flight. Backoff draws are pinned (Math.random), so
 * the delays are too. The unit tests of the outbox pin the causes of the stall; this is the end-to-end
 * guard: each post acknowledged once and stored once, and no resend waiting longer than a few first
 * bounds after a connection that acknowledged a post.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Ack, LakechatClient, type WebSocketConstructor } from '../../client/src/index.ts';
import { type Instance, startChat, startInstance } from '../ws/ws-support.ts';
import { type AckCutProxy, startAckCutProxy } from './chaos-proxy.ts';

const user = 'ana@example.com';
const posts = 24;
/** The client's first resend bound (250 ms); pinned draws make each delay its bound. */
const firstResendBoundMs = 250;

let instance: Instance | undefined;
let proxy: AckCutProxy | undefined;
let client: LakechatClient | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await client?.close();
  await proxy?.close();
  await instance?.close();
  client = proxy = instance = undefined;
});

/** The platform's WebSocket, noting when each connection closed and when each post frame went out, on which. */
function tracedWebSocket(trace: { closedAt: number[]; sends: { id: string; connection: number; at: number }[] }) {
  const Base = globalThis.WebSocket;
  return class extends Base {
    private readonly connection = trace.closedAt.push(Infinity) - 1;
    constructor(url: string) {
      super(url);
      this.addEventListener('close', () => (trace.closedAt[this.connection] = Date.now()));
    }
    override send(data: string): void {
      const frame = JSON.parse(data) as { type: string; id?: string };
      if (frame.type === 'post') trace.sends.push({ id: frame.id!, connection: this.connection, at: Date.now() });
      super.send(data);
    }
  };
}

describe('posts in flight on connections cut after each ack', () => {
  it.each([2, 4])(
    'with postsInFlightPerChat %i, sends the posts a cut lost again after the first resend bound, and lands each once',
    async (window) => {
      vi.spyOn(Math, 'random').mockReturnValue(0.999);
      instance = await startInstance({ env: { WS_POSTS_PER_SECOND: '0', WS_MAX_CONNECTIONS_PER_USER: '1000' } });
      const chatId = await startChat(instance, user, 'cuts');
      proxy = await startAckCutProxy(instance.port);
      const trace = { closedAt: [] as number[], sends: [] as { id: string; connection: number; at: number }[] };
      client = new LakechatClient({
        url: `http://127.0.0.1:${proxy.port}`,
        user,
        postsPerSecond: 0,
        postsInFlightPerChat: window,
        reconnect: { initialDelayMs: 20, maxDelayMs: 20 },
        WebSocket: tracedWebSocket(trace) as unknown as WebSocketConstructor, // the DOM's handler types are stricter than the client's
      });
      let deadline: NodeJS.Timeout | undefined;
      const acks = await Promise.race([
        Promise.all(Array.from({ length: posts }, (_, i) => client!.post(chatId, { content: `message ${i}` }))),
        new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error(`not every post acknowledged within 60 s: ${JSON.stringify(proxy!.stats())}`)), 60_000))),
      ]).finally(() => clearTimeout(deadline));

      // Every post acknowledged once, with its own message, and stored once.
      expect(new Set(acks.map((ack: Ack) => ack.messageId)).size).toBe(posts);
      const stored = (await instance.store.readAll({ types: ['MessagePosted'] })).events.map((event) => (event.data as { content: string }).content);
      expect(stored.sort()).toEqual(Array.from({ length: posts }, (_, i) => `message ${i}`).sort());
      expect(proxy.stats().cut).toBeGreaterThanOrEqual(posts / 2);

      // Each resend waits a delay that the ack before the cut brought back to the first bound; measured
      // from the end of the last connection before the resend, with slack for a busy machine.
      const waits: number[] = [];
      for (const [index, send] of trace.sends.entries()) {
        if (!trace.sends.slice(0, index).some((earlier) => earlier.id === send.id)) continue;
        const lastLoss = Math.max(...trace.closedAt.slice(0, send.connection).filter((at) => at <= send.at));
        waits.push(send.at - lastLoss);
      }
      expect(waits.length).toBeGreaterThan(0);
      expect(Math.max(...waits)).toBeLessThan(8 * firstResendBoundMs);
    },
    90_000,
  );
});
