import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually, type Instance, startChat, startInstance } from '../ws/ws-support.ts';

// The soak: 2,000 connections (100 users with 20 each) posting and subscribing for 60 s.
// Bounded: 10 posts per connection, one every 6 s (about 330 posts/s, each delivered to the 20
// connections of its user), all on 127.0.0.1. A short warm-up round runs first. It is the heaviest
// file of the suite and wants the machine to itself: the fault suite runs one file at a time
// (vitest.faults.config.ts), and nothing here depends on speed: it waits for every post to be
// acknowledged and delivered (bounded), and measures memory, not time.
const users = 100;
const connectionsPerUser = 20;
// 36 s of steady posting by default; SOAK_POSTS_PER_CONNECTION makes it longer (scripts/faults-loop.sh).
const soakRound = { postsPerConnection: Number(process.env.SOAK_POSTS_PER_CONNECTION ?? 6), postIntervalMs: 6_000 };
const warmUpRound = { postsPerConnection: 1, postIntervalMs: 0 };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let round = 0; round < 3; round += 1) gc();
  return process.memoryUsage().heapUsed;
}

let database: TestDatabase;
let instance: Instance;
beforeAll(async () => {
  database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  instance = await startInstance({
    databaseUrl: database.url,
    env: { RATE_LIMIT_PER_SECOND: '0', WS_POSTS_PER_SECOND: '0', WS_MAX_CONNECTIONS_PER_USER: String(connectionsPerUser), PROJECTION_WAIT_TIMEOUT_MS: '30000' },
  });
});
afterAll(async () => {
  await instance?.close();
  await database.drop();
});

interface SoakClient {
  user: string;
  received: string[];
  acked: string[];
  errors: string[];
  closed: Promise<number>;
  socket: WebSocket;
}

async function connect(user: string): Promise<SoakClient> {
  const socket = new WebSocket(instance.url, { headers: { 'x-demo-user': user }, perMessageDeflate: false });
  const client: SoakClient = { user, received: [], acked: [], errors: [], socket, closed: new Promise((resolve) => socket.once('close', (code) => resolve(code))) };
  let caughtUp: () => void;
  const live = new Promise<void>((resolve) => (caughtUp = resolve));
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === 'event' && frame.eventType === 'MessagePosted') client.received.push(frame.data.messageId);
    else if (frame.type === 'ack') client.acked.push(frame.messageId);
    else if (frame.type === 'caught_up') caughtUp();
    else if (frame.type === 'error') client.errors.push(frame.code);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'subscribe', id: 'u', scope: 'user' })); // live from now
  await live;
  return client;
}

async function soak(round: string, { postsPerConnection, postIntervalMs }: typeof soakRound): Promise<SoakClient[]> {
  const userNames = Array.from({ length: users }, (_, n) => `soak-${n}@example.com`);
  for (const user of userNames) await startChat(instance, user, `${round}-chat`);
  const clients: SoakClient[] = [];
  for (const user of userNames) for (let n = 0; n < connectionsPerUser; n += 1) clients.push(await connect(user));
  await Promise.all(
    clients.map(async (client, index) => {
      // Spread the connections' posts over the interval: a steady stream, not bursts of 2,000.
      await new Promise((resolve) => setTimeout(resolve, (index / clients.length) * postIntervalMs));
      for (let n = 0; n < postsPerConnection; n += 1) {
        client.socket.send(JSON.stringify({ type: 'post', id: `${round}-${index}-${n}`, chatId: `${round}-chat`, content: `${index}/${n}` }));
        await new Promise((resolve) => setTimeout(resolve, postIntervalMs));
      }
    }),
  );
  // Every post acknowledged, then every connection has every event of its user.
  const deadline = Date.now() + 120_000;
  const perUser = (user: string) => clients.filter((client) => client.user === user).flatMap((client) => client.acked);
  while (Date.now() < deadline && !clients.every((client) => client.acked.length === postsPerConnection && client.received.length >= perUser(client.user).length)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const client of clients) client.socket.close(1000);
  const codes = await Promise.all(clients.map((client) => client.closed));
  expect(new Set(codes)).toEqual(new Set([1000]));
  return clients;
}

describe('a bounded soak', () => {
  it('carries every post to every connection of its user exactly once, closes every connection cleanly, and keeps memory flat', async () => {
    await soak('warm-up', warmUpRound); // JIT, pools and caches warm
    const before = heapAfterGc();
    const clients = await soak('soak', soakRound);
    const { postsPerConnection } = soakRound;
    for (const client of clients) {
      expect(client.errors).toEqual([]);
      expect(client.acked).toHaveLength(postsPerConnection);
      const expected = clients.filter((other) => other.user === client.user).flatMap((other) => other.acked);
      // Exactly once: no event lost, none twice.
      expect(client.received).toHaveLength(expected.length);
      expect(new Set(client.received)).toEqual(new Set(expected));
    }
    // The server forgets each connection once its socket has closed on its side too.
    await eventually('the server to have forgotten every connection', () => (instance.app.lakechatWs.stats().connections === 0 ? true : undefined));
    expect(instance.app.lakechatWs.stats()).toMatchObject({ connections: 0, subscriptions: 0 });
    clients.length = 0;
    const after = heapAfterGc();
    console.info(
      `soak: ${users * connectionsPerUser} connections, ${users * connectionsPerUser * postsPerConnection} posts over ${(postsPerConnection * soakRound.postIntervalMs) / 1000} s; heap after GC ${(before / 1e6).toFixed(1)} MB before, ${(after / 1e6).toFixed(1)} MB after`,
    );
    // Flat: what the soak leaves behind is small next to what it moved (a leak per connection or per event would not be).
    expect(after - before).toBeLessThan(16 * 1024 * 1024);
  }, 360_000);
});
