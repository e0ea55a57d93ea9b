import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runMigrations } from '../../src/migrate.ts';
import { health, type ServerProcess, startServer } from '../lakebase/support/server-process.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/global-setup.ts';
import { type Instance, startInstance } from '../ws/ws-support.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The database's network path: refused until opened, then a plain TCP relay to the test PostgreSQL. */
interface Door {
  port: number;
  open(): Promise<void>;
  close(): Promise<void>;
}

async function closedDoor(target: URL): Promise<Door> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  return {
    port,
    open: () =>
      new Promise((resolve) => {
        server = net.createServer((socket) => {
          const upstream = net.connect(Number(target.port), target.hostname);
          sockets.add(socket).add(upstream);
          socket.on('error', () => upstream.destroy());
          upstream.on('error', () => socket.destroy());
          socket.pipe(upstream).pipe(socket);
        });
        server.listen(port, '127.0.0.1', resolve);
      }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A WebSocket client that subscribes once to its user's events and never reconnects. */
class StayingSubscriber {
  readonly events: { eventType: string; eventId: string; cursor: string; data: any }[] = [];
  readonly frames: any[] = [];
  closed = false;
  private readonly socket: WebSocket;
  readonly ready: Promise<void>;

  constructor(url: string, user: string) {
    this.socket = new WebSocket(url, { headers: { 'x-demo-user': user } });
    this.socket.on('close', () => (this.closed = true));
    this.ready = new Promise((resolve, reject) => {
      this.socket.on('error', reject);
      this.socket.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        this.frames.push(frame);
        if (frame.type === 'event') this.events.push(frame);
        if (frame.type === 'caught_up') resolve();
      });
      this.socket.on('open', () => this.socket.send(JSON.stringify({ type: 'subscribe', id: 's', scope: 'user', after: null })));
    });
  }

  messageIds(): string[] {
    return this.events.filter((event) => event.eventType === 'MessagePosted').map((event) => event.data.messageId as string);
  }

  stop(): void {
    this.socket.terminate();
  }
}

let database: TestDatabase;
let door: Door;
let other: Instance | undefined;
let server: ServerProcess | undefined;

beforeAll(async () => {
  database = await createTestDatabase('lakechat_fallback');
  await runMigrations({ connectionString: database.url });
  door = await closedDoor(new URL(database.url));
});
afterAll(async () => {
  await server?.stop();
  await other?.close();
  await door?.close();
  await database?.drop();
});

describe('the memory fallback', () => {
  it('forwards every acknowledged event to PostgreSQL once the database answers, and switches over without a restart or a lost event', async () => {
    // Another instance reached the database all along: user a's chat "shared" moved on there.
    other = await startInstance({ databaseUrl: database.url });
    expect((await other.http('a@x.com', 'POST', '/api/chats', { id: 'shared' })).status).toBe(201);
    for (const n of [1, 2]) expect((await other.http('a@x.com', 'POST', '/api/chats/shared/messages', { content: `elsewhere ${n}` })).status).toBe(201);

    const viaDoor = new URL(database.url);
    viaDoor.port = String(door.port);
    server = await startServer({
      LAKEBASE_PG_URL: viaDoor.toString(),
      STORAGE_RECONNECT_MIN_MS: '100',
      STORAGE_RECONNECT_MAX_MS: '300',
      RATE_LIMIT_PER_SECOND: '0',
      PROJECTION_WAIT_TIMEOUT_MS: '30000',
      LOG_LEVEL: 'info',
    });
    // Bounded, and generous: a loaded machine starts a server process slowly.
    const started = await until('the server to answer /health', () => health(server!).catch(() => undefined), 60_000);
    expect(started).toMatchObject({ storage: 'memory', degraded: true });
    const base = server.url;
    const call = async (user: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { 'x-demo-user': user, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: await response.json().catch(() => null) };
    };

    const subscriber = new StayingSubscriber(`${base.replace('http', 'ws')}/ws`, 'a@x.com');
    await subscriber.ready;

    const acknowledged = new Map<string, string[]>([
      ['a@x.com', []],
      ['b@x.com', []],
    ]);
    const postTo = async (user: string, chatId: string, content: string): Promise<void> => {
      const answer = await call(user, 'POST', `/api/chats/${chatId}/messages`, { content, clientMessageId: content });
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      acknowledged.get(user)!.push(answer.body.message.id as string);
    };
    expect((await call('a@x.com', 'POST', '/api/chats', { id: 'shared' })).status).toBe(201);
    expect((await call('a@x.com', 'POST', '/api/chats', { id: 'mine' })).status).toBe(201);
    expect((await call('b@x.com', 'POST', '/api/chats', { id: 'theirs' })).status).toBe(201);
    await Promise.all([
      (async () => {
        for (let n = 0; n < 3; n++) await postTo('a@x.com', 'shared', `a-shared-${n}`);
        for (let n = 0; n < 5; n++) await postTo('a@x.com', 'mine', `a-mine-${n}`);
      })(),
      (async () => {
        for (let n = 0; n < 8; n++) await postTo('b@x.com', 'theirs', `b-theirs-${n}`);
      })(),
    ]);

    // The database comes up while both clients keep posting.
    await door.open();
    const opened = Date.now();
    let n = 0;
    await until(
      'the switch to PostgreSQL',
      async () => {
        await Promise.all([postTo('a@x.com', 'mine', `a-during-${n}`), postTo('b@x.com', 'theirs', `b-during-${n}`)]);
        n++;
        const body = await health(server!);
        return body.storage === 'postgres' && body.degraded === false;
      },
      90_000,
    );
    const switchMs = Date.now() - opened;
    await postTo('a@x.com', 'mine', 'a-after');
    await postTo('b@x.com', 'theirs', 'b-after');

    // The PostgreSQL log holds every acknowledged post exactly once.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    let stored: string[];
    try {
      const rows = await client.query<{ id: string }>(`SELECT data->>'messageId' AS id FROM events WHERE event_type = 'MessagePosted' ORDER BY tx_id, position`);
      stored = rows.rows.map((row) => row.id);
    } finally {
      await client.end();
    }
    const all = [...acknowledged.get('a@x.com')!, ...acknowledged.get('b@x.com')!];
    expect(new Set(stored).size).toBe(stored.length);
    for (const id of all) expect(stored).toContain(id);
    expect(stored).toHaveLength(all.length + 2); // and the other instance's two

    // The read models (now PostgreSQL's) show them; the shared chat has both instances' messages.
    const shared = await call('a@x.com', 'GET', '/api/chats/shared/messages');
    expect(shared.status).toBe(200);
    expect(shared.body.messages.map((message: any) => message.content)).toEqual(['elsewhere 1', 'elsewhere 2', 'a-shared-0', 'a-shared-1', 'a-shared-2']);
    const theirs = await call('b@x.com', 'GET', '/api/chats/theirs/messages?limit=200');
    expect(theirs.body.messages.map((message: any) => message.id)).toEqual(acknowledged.get('b@x.com'));

    // The subscriber that stayed connected through the switch has every one of a's posts, once.
    await until('the subscriber to see every post', async () => subscriber.messageIds().length >= acknowledged.get('a@x.com')!.length, 60_000);
    await sleep(300);
    expect(subscriber.closed).toBe(false);
    expect(subscriber.messageIds()).toEqual(acknowledged.get('a@x.com'));
    expect(subscriber.frames.filter((frame) => frame.type === 'store_changed')).toHaveLength(1);
    subscriber.stop();

    // The chat start the database already had could not be forwarded as it was: parked and reported.
    const final = await health(server);
    expect(final).toMatchObject({ storage: 'postgres', degraded: false, fallback: { forwarded: expect.any(Number), parked: 1 } });
    expect(server.output()).toContain('switched from the memory fallback to PostgreSQL');
    const held = /"appendsHeldMs":(\d+)/.exec(server.output())?.[1];
    console.info(`memory fallback: switched ${switchMs} ms after the database answered (${n} rounds of posts meanwhile), appends held ${held} ms; ${JSON.stringify(final.fallback)}`);
    expect(server.output()).not.toContain(new URL(database.url).password);
  }, 180_000);
});
