/**
 * The client's promise under chaos: two server instances on one PostgreSQL, a proxy that cuts every
 * connection 50 to 500 ms after it opens, three clients of one user each posting 300 messages to one
 * chat while subscribed to it. In the end the log holds each message once, and every client received
 * all of them (900 with 300 each), once each, in log order. Once with one post of a chat in flight at a
 * time (each client's posts then land in its order), once with four (postsInFlightPerChat).
 */
import { describe, expect, it } from 'vitest';
import { type Ack, LakechatClient } from '../../client/src/index.ts';
import type { RecordedEvent } from '../../src/event-store/index.ts';
import { usePostgresInstances } from '../ws/postgres-fixture.ts';
import { eventually, startChat } from '../ws/ws-support.ts';
import { startChaosProxy } from './chaos-proxy.ts';

const fixture = usePostgresInstances();
const user = 'ana@example.com';
// 300 per client, 900 in all (about 25 s on an idle two-core machine); CHAOS_POSTS_PER_CLIENT changes it.
const perClient = Number(process.env.CHAOS_POSTS_PER_CLIENT ?? 300);
/** Fails the test when no message reached any client for this long: a stall, not slowness. */
const stallMs = 60_000;

async function readLog(read: (after: string | null) => Promise<{ events: RecordedEvent[]; cursor: string | null }>): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await read(after);
    all.push(...page.events);
    if (page.events.length === 0) return all;
    after = page.cursor;
  }
}

describe('the client through a proxy that keeps cutting connections, on two instances', () => {
  it.each([1, 4])(
    'with postsInFlightPerChat %i, lands every post of three clients exactly once, and delivers all of them to each client once, in log order',
    async (postsInFlightPerChat) => {
      // No per-connection post rate limit (a connection lives too short for pacing to matter), and a
      // connection count that survives connections the servers have not yet seen die.
      const env = { WS_POSTS_PER_SECOND: '0', WS_MAX_CONNECTIONS_PER_USER: '1000' };
      const a = await fixture.instance({ databaseUrl: fixture.databaseUrl(), env });
      const b = await fixture.instance({ databaseUrl: fixture.databaseUrl(), env });
      const chatId = await startChat(a, user, `chaos-${postsInFlightPerChat}`); // one chat per case: both cases share the database
      const proxy = await startChaosProxy([a.port, b.port], { minLifeMs: 50, maxLifeMs: 500 });
      const started = Date.now();
      let watchdog: NodeJS.Timeout | undefined;
      const clients = Array.from(
        { length: 3 },
        () =>
          new LakechatClient({
            url: `http://127.0.0.1:${proxy.port}`,
            user,
            postsPerSecond: 0,
            postsInFlightPerChat,
            connectTimeoutMs: 2_000,
            reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
          }),
      );
      try {
        const received = clients.map(() => [] as { messageId: string; content: string }[]);
        clients.forEach((client, n) =>
          client.subscribe(
            { scope: 'chat', chatId, after: null },
            {
              onEvent(event) {
                if (event.eventType === 'MessagePosted') received[n]!.push({ messageId: event.data.messageId, content: event.data.content });
              },
            },
          ),
        );
        let seen = 0;
        let progressAt = Date.now();
        const stalled = new Promise<never>((_, reject) => {
          watchdog = setInterval(() => {
            const now = received.reduce((sum, list) => sum + list.length, 0);
            if (now > seen) [seen, progressAt] = [now, Date.now()];
            else if (Date.now() - progressAt > stallMs)
              reject(new Error(`no message reached any client for ${stallMs} ms: ${received.map((list) => list.length).join(', ')} received, ${JSON.stringify(proxy.stats())}`));
          }, 1_000);
        });
        stalled.catch(() => undefined); // raced below; a rejection after the race is nobody's
        const acks: Ack[][] = await Promise.race([
          stalled,
          Promise.all(clients.map((client, n) => Promise.all(Array.from({ length: perClient }, (_, i) => client.post(chatId, { content: `client ${n} message ${i}` }))))),
        ]);
        await Promise.race([stalled, eventually('every client to receive every message', () => received.every((list) => list.length >= 3 * perClient), 60_000)]);
        clearInterval(watchdog);
        const elapsedMs = Date.now() - started;

        const log = (await readLog((after) => a.store.readAll({ after, types: ['MessagePosted'], limit: 500 }))).filter((event) => (event.data as { chatId: string }).chatId === chatId);
        expect(log).toHaveLength(3 * perClient);
        const logOrder = log.map((event) => (event.data as { messageId: string }).messageId);
        expect(new Set(log.map((event) => (event.data as { content: string }).content)).size).toBe(3 * perClient);
        for (const list of received) expect(list.map((message) => message.messageId)).toEqual(logOrder);
        // One post in flight at a time: each client's posts landed in the order it made them.
        for (let n = 0; n < 3 && postsInFlightPerChat === 1; n++) {
          const own = log.map((event) => (event.data as { content: string }).content).filter((content) => content.startsWith(`client ${n} `));
          expect(own).toEqual(Array.from({ length: perClient }, (_, i) => `client ${n} message ${i}`));
        }
        // Each ack names its own message.
        const byContent = new Map(log.map((event) => [(event.data as { content: string }).content, (event.data as { messageId: string }).messageId]));
        for (let n = 0; n < 3; n++) {
          expect(acks[n]!.map((ack) => ack.messageId)).toEqual(Array.from({ length: perClient }, (_, i) => byContent.get(`client ${n} message ${i}`)));
        }
        const { accepted, cut } = proxy.stats();
        const duplicates = acks.flat().filter((ack) => ack.duplicate).length;
        console.info(
          `chaos, postsInFlightPerChat ${postsInFlightPerChat}: ${3 * perClient} posts in ${elapsedMs} ms over ${accepted} connections (${cut} cut by the proxy), ${duplicates} acks of posts sent again after a lost ack`,
        );
        expect(cut).toBeGreaterThan(10);
      } finally {
        clearInterval(watchdog);
        await Promise.all(clients.map((client) => client.close()));
        await proxy.close();
      }
    },
    420_000,
  );
});
