import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runMigrations } from '../../src/migrate.ts';
import { type LocalPostgres, startEmbeddedPostgres } from '../support/embedded-postgres.ts';
import { appendMessages, Client, eventually, startChat, startInstance } from '../ws/ws-support.ts';
import { healthProbe, rssSampler, type ServerUnderAttack, startServerProcess } from './server-process.ts';

/**
 * Issue 12, items 1 and 2: one ordinary user, against the real server in a process of its own on
 * PostgreSQL, must not be able to freeze the instance or pin its memory.
 */

const attacker = 'mallory@example.com';
const victim = 'victor@example.com';
const messages = 1_000;
/** 8 KB of text that does not compress (PostgreSQL would otherwise store it small). */
const content = (n: number) => `${n}:${randomBytes(4_096).toString('hex')}`.slice(0, 8_000);
const MiB = 1024 * 1024;

// A PostgreSQL of this file's own: these tests time the victim's posts, and another file's open
// transaction on a shared server holds every reader of the log back (its xmin), which would be
// measured here as the attack's doing.
let database: LocalPostgres;
let server: ServerUnderAttack | undefined;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  database = await startEmbeddedPostgres();
  await runMigrations({ connectionString: database.url });
  // Seeded through an instance of its own (straight to the store, as posts would append), then closed.
  const seeder = await startInstance({ databaseUrl: database.url });
  try {
    await startChat(seeder, attacker, 'big');
    await appendMessages(seeder, attacker, 'big', messages, content);
    await startChat(seeder, victim, 'mine');
  } finally {
    await seeder.close();
  }
}, 120_000);
afterEach(async (context) => {
  if (context.task.result?.state === 'fail' && server !== undefined) console.log(`server output:\n${server.output().slice(-4_000)}`);
  for (const socket of sockets.splice(0)) socket.terminate();
  await server?.stop();
  server = undefined;
});
afterAll(async () => {
  await database?.stop();
});

async function start(env: Record<string, string> = {}): Promise<ServerUnderAttack> {
  server = await startServerProcess({ LAKEBASE_PG_URL: database.url, RATE_LIMIT_PER_SECOND: '0', ...env });
  // The read models catch up from the log at start: wait until the last message is readable.
  await eventually(
    'the read models to catch up',
    async () => {
      const response = await fetch(`${server!.url}/api/chats/big/messages?after=${messages - 1}&limit=1`, { headers: { 'x-demo-user': attacker } });
      return response.ok && ((await response.json()) as { messages: unknown[] }).messages.length === 1 ? true : undefined;
    },
    60_000,
  );
  return server;
}

function client(url: string, user: string): Client {
  const opened = new Client(url, { user });
  sockets.push(opened.socket);
  return opened;
}

/** The victim posts, one after another, and checks each post reaches their live subscription. */
async function victimPosts(target: ServerUnderAttack, subscriber: Client, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let n = 0; n < count; n++) {
    const started = performance.now();
    const response = await fetch(`${target.url}/api/chats/mine/messages`, {
      method: 'POST',
      headers: { 'x-demo-user': victim, 'content-type': 'application/json' },
      body: JSON.stringify({ content: `still here ${n}` }),
    });
    expect(response.status, await response.clone().text()).toBe(201);
    const { position } = (await response.json()) as { position: number };
    await subscriber.next((frame) => frame.type === 'event' && frame.data.position === position, 10_000);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

describe('one user against the instance', () => {
  it("1,000 subscribe/unsubscribe pairs from after:null: /health within 2 s throughout, back to normal within 10 s, another user's posts and live deliveries unaffected", async () => {
    // The subscribe rate limits off (the connection's and the user's): this proves the reads themselves are cancelled and bounded.
    const target = await start({ WS_SUBSCRIBES_PER_SECOND: '0', WS_USER_SUBSCRIBES_PER_SECOND: '0' });
    const bystander = client(target.wsUrl, victim);
    expect((await bystander.subscribe({ id: 'live', scope: 'chat', chatId: 'mine' })).type).toBe('caught_up');
    const health = healthProbe(target.url);
    const churner = client(target.wsUrl, attacker);
    await churner.opened;
    // Authorized once, so every subscribe below goes straight to reading.
    expect((await churner.subscribe({ id: 'warm', scope: 'chat', chatId: 'big' })).type).toBe('caught_up');
    churner.send({ type: 'unsubscribe', id: 'warm' });
    const frames: string[] = [];
    for (let n = 0; n < 1_000; n++) {
      frames.push(JSON.stringify({ type: 'subscribe', id: `s${n}`, scope: 'chat', chatId: 'big', after: null }));
      frames.push(JSON.stringify({ type: 'unsubscribe', id: `s${n}` }));
    }
    for (const frame of frames) churner.send(frame);
    const sent = performance.now();
    const latencies = await victimPosts(target, bystander, 20);

    // Back to normal: a fresh reader of the whole chat gets all of it, and health answers, within 10 s.
    const reader = client(target.wsUrl, attacker);
    const caughtUp = await reader.subscribe({ id: 'all', scope: 'chat', chatId: 'big', after: null });
    expect(caughtUp.type).toBe('caught_up');
    expect(
      reader
        .events('all')
        .filter((frame) => frame.eventType === 'MessagePosted')
        .map((frame) => frame.data.position),
    ).toEqual(Array.from({ length: messages }, (_, i) => i + 1));
    const recoveredS = (performance.now() - sent) / 1000;
    await health.stop();
    expect(health.slowestMs()).toBeLessThan(2_000);
    expect(recoveredS).toBeLessThan(10);
    expect(Math.max(...latencies)).toBeLessThan(2_000);
    expect(target.output()).not.toMatch(/"level":(50|60)/);
  }, 120_000);

  it('three connections of twenty user-scope subscriptions from after:null that never read: RSS growth under 150 MB, then every event once to each', async () => {
    const target = await start({ WS_STUCK_TIMEOUT_MS: '600000' });
    const readers = await Promise.all(Array.from({ length: 3 }, () => slowReader(target.wsUrl, attacker)));
    const rss = rssSampler(target);
    const before = target.rss();
    for (const reader of readers) {
      reader.socket.pause();
      for (let n = 0; n < 20; n++) reader.socket.send(JSON.stringify({ type: 'subscribe', id: `u${n}`, scope: 'user', after: null }));
    }
    // Every connection is above its send buffer cap; hold a while longer so any page read meanwhile is counted.
    await eventually('the three connections to be paused', async () => ((await pausedConnections(target)) === 3 ? true : undefined), 60_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const growthMiB = (rss.max() - before) / MiB;
    rss.stop();
    for (const reader of readers) reader.socket.resume();
    await eventually('every subscription to receive every message', () => (readers.every((reader) => reader.complete(20)) ? true : undefined), 150_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${readers.map((reader) => reader.received()).join(', ')} of ${20 * messages} each`);
    });
    for (const reader of readers) {
      for (let n = 0; n < 20; n++) expect(reader.positions(`u${n}`)).toEqual(Array.from({ length: messages }, (_, i) => i + 1));
      expect(reader.errors).toEqual([]);
    }
    expect(growthMiB).toBeLessThan(150);
  }, 240_000);

  it('a hundred concurrent GET messages?limit=1000 of 8 KB messages: RSS growth under 150 MB, and the pages still chain to every message once', async () => {
    const target = await start();
    const rss = rssSampler(target);
    const before = target.rss();
    const pages = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const response = await fetch(`${target.url}/api/chats/big/messages?limit=1000`, { headers: { 'x-demo-user': attacker } });
        expect(response.status).toBe(200);
        const page = (await response.json()) as { messages: { position: number }[]; next: number | null };
        return { positions: page.messages.map((message) => message.position), next: page.next };
      }),
    );
    const growthMiB = (rss.max() - before) / MiB;
    rss.stop();
    for (const page of pages) {
      expect(page.positions[0]).toBe(1);
      expect(page.next === null ? messages : page.next).toBe(page.positions.at(-1));
    }
    // Paging on from where a page stopped reaches every message once, in order.
    const seen: number[] = [];
    let after: number | null = 0;
    while (after !== null) {
      const response = await fetch(`${target.url}/api/chats/big/messages?limit=1000&after=${after}`, { headers: { 'x-demo-user': attacker } });
      const page = (await response.json()) as { messages: { position: number }[]; next: number | null };
      seen.push(...page.messages.map((message) => message.position));
      after = page.next;
    }
    expect(seen).toEqual(Array.from({ length: messages }, (_, i) => i + 1));
    expect(growthMiB).toBeLessThan(150);
  }, 180_000);
});

async function pausedConnections(target: ServerUnderAttack): Promise<number> {
  const text = await (await fetch(`${target.url}/metrics`)).text();
  return Number(/^lakechat_ws_paused_connections (\d+)/m.exec(text)?.[1] ?? 0);
}

/** A WebSocket client that keeps only what it checks (positions per subscription), not the frames. */
async function slowReader(url: string, user: string) {
  const socket = new WebSocket(url, { headers: { 'x-demo-user': user }, perMessageDeflate: false });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const bySubscription = new Map<string, number[]>();
  const errors: unknown[] = [];
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; subscription?: string; eventType?: string; data?: { position?: number } };
    if (frame.type === 'error') errors.push(frame);
    if (frame.type !== 'event' || frame.eventType !== 'MessagePosted') return;
    const list = bySubscription.get(frame.subscription!) ?? [];
    list.push(frame.data!.position!);
    bySubscription.set(frame.subscription!, list);
  });
  return {
    socket,
    errors,
    positions: (subscription: string) => bySubscription.get(subscription) ?? [],
    received: () => [...bySubscription.values()].reduce((sum, list) => sum + list.length, 0),
    complete: (subscriptions: number) => bySubscription.size === subscriptions && [...bySubscription.values()].every((list) => list.length >= messages),
  };
}
