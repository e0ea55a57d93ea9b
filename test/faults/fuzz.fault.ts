import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { type Instance, startInstance } from '../ws/ws-support.ts';

// Bounded: a fixed number of runs per property, a fixed seed printed on failure, 127.0.0.1 only.
const runs = 150;

let database: TestDatabase;
let instance: Instance;
beforeAll(async () => {
  database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  instance = await startInstance({ databaseUrl: database.url, env: { RATE_LIMIT_PER_SECOND: '0', WS_POSTS_PER_SECOND: '0', WS_SIGNALS_PER_SECOND: '0' } });
  expect((await instance.http('fuzz@example.com', 'POST', '/api/chats', { id: 'target' })).status).toBe(201);
});
afterAll(async () => {
  await instance?.close();
  await database.drop();
});

const user = 'fuzz@example.com';

async function raw(method: string, path: string, body?: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${instance.port}${path}`, {
    method,
    headers: { 'x-demo-user': user, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Every UTF-8 byte percent-encoded (a lone surrogate becomes U+FFFD, as a browser would send it). */
function percentEncoded(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

async function eventCount(): Promise<number> {
  let count = 0;
  let after: string | null = null;
  for (;;) {
    const page = await instance.store.readAll({ after, limit: 1_000 });
    count += page.events.length;
    if (page.events.length < 1_000) return count;
    after = page.events.at(-1)!.cursor;
  }
}

// Values that break naive code: SQL metacharacters, unicode edge cases, deep nesting, huge strings.
const nasty = fc.oneof(
  fc.constantFrom("'; DROP TABLE events; --", '" OR 1=1 --', '\\', '%', '_', '\u0000', '\ud800', '\u202e', '🚀'.repeat(50), '$1', 'NaN', '-1', '1e309'),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ minLength: 100_000, maxLength: 300_000 }).map((s) => s.slice(0, 300_000)),
);
const deep = fc.integer({ min: 100, max: 5_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth));
const value = fc.oneof(fc.jsonValue({ maxDepth: 4 }), nasty);
const bodyFor = (fields: readonly string[]) =>
  fc.oneof(
    fc.dictionary(fc.constantFrom(...fields), value).map((object) => JSON.stringify(object)),
    fc.jsonValue({ maxDepth: 6 }).map((json) => JSON.stringify(json)),
    nasty, // mostly malformed JSON
    deep,
    fc.constantFrom('', '{', '{"content":', 'null', '[]', '{"__proto__":{"admin":true}}'),
  );

const routes: { method: string; path: string; fields: string[]; writes: boolean }[] = [
  { method: 'POST', path: '/api/chats', fields: ['id', 'title', 'agentId'], writes: true },
  { method: 'POST', path: '/api/chats/target/messages', fields: ['role', 'content', 'clientMessageId', 'traceId', 'traceSummary'], writes: true },
  { method: 'PATCH', path: '/api/chats/target', fields: ['title'], writes: true },
  { method: 'PUT', path: '/api/profile', fields: ['name', 'birthDate', 'notes', 'currency', 'email'], writes: true },
  { method: 'PATCH', path: '/api/profile', fields: ['name', 'birthDate', 'notes', 'currency'], writes: true },
];

describe('fuzzing the HTTP API', () => {
  for (const route of routes) {
    it(`answers every body sent to ${route.method} ${route.path} with a 2xx or a 4xx, and stores nothing for a 4xx`, async () => {
      await fc.assert(
        fc.asyncProperty(bodyFor(route.fields), async (body) => {
          const before = await eventCount();
          const status = await raw(route.method, route.path, body);
          expect(status, body.slice(0, 200)).toBeLessThan(500);
          if (status >= 400) expect(await eventCount()).toBe(before);
        }),
        { numRuns: runs },
      );
    });
  }

  it('answers query strings full of SQL metacharacters and odd unicode on every list with a 2xx or a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/api/chats', '/api/chats/target/messages', '/api/profile/history', '/api/chats/'),
        fc.constantFrom('limit', 'after', 'x'),
        fc.oneof(nasty.filter((s) => s.length < 2_000).map(percentEncoded), fc.constantFrom('%', '%zz', '%ff%fe', '%00', '%ED%A0%80')),
        async (path, key, text) => {
          const status = await raw('GET', `${path}?${key}=${text}`);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: runs },
    );
    const chatId = await fc.sample(
      nasty.filter((s) => s.length < 500),
      20,
    );
    for (const id of chatId) expect(await raw('GET', `/api/chats/${percentEncoded(id)}`)).toBeLessThan(500);
  });
});

/** Sends each frame on a connection (reopened when the server closes it for too many bad frames). */
class FuzzConnection {
  private socket: WebSocket | undefined;
  private frames: any[] = [];

  async send(text: string): Promise<void> {
    if (this.socket === undefined || this.socket.readyState !== WebSocket.OPEN) {
      const socket = new WebSocket(`${instance.url}?user=${encodeURIComponent(user)}`, { headers: { 'x-demo-user': user } });
      socket.on('message', (data) => this.frames.push(JSON.parse(data.toString())));
      socket.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      this.socket = socket;
    }
    this.socket.send(text);
  }

  /**
   * Waits until the server has answered every frame sent so far on the open connection: a ping goes
   * after them, and the server answers frames in order (or the connection closes, which ends them too).
   */
  async settle(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server answered no ping within 10 s after the fuzzed frames')), 10_000);
      const done = (): void => {
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve();
      };
      const onMessage = (data: WebSocket.RawData): void => {
        const frame = JSON.parse(data.toString()) as { type?: string; id?: string };
        if (frame.type === 'pong' && frame.id === 'fuzz-settle') done();
      };
      socket.on('message', onMessage);
      socket.once('close', done);
      socket.send(JSON.stringify({ type: 'ping', id: 'fuzz-settle' }));
    });
  }

  /** Every frame received is well-formed JSON with a type from the protocol. */
  check(): void {
    for (const frame of this.frames) expect(['event', 'caught_up', 'unsubscribed', 'ack', 'signal', 'pong', 'error', 'store_changed']).toContain(frame.type);
  }

  close(): void {
    this.socket?.terminate();
  }
}

describe('fuzzing the WebSocket protocol', () => {
  it('answers malformed, mistyped and hostile frames with error frames or valid answers, and stays up', async () => {
    const connection = new FuzzConnection();
    const frame = fc.oneof(
      nasty.filter((s) => s.length < 60_000),
      deep.filter((s) => s.length < 60_000),
      fc
        .record(
          {
            type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'post', 'signal', 'ping'), value),
            id: value,
            scope: fc.oneof(fc.constantFrom('chat', 'user', 'all'), value),
            chatId: fc.oneof(fc.constant('target'), value),
            after: fc.oneof(fc.constant(null), value),
            content: value,
            kind: fc.oneof(fc.constantFrom('typing', 'delta'), value),
            data: value,
          },
          { requiredKeys: ['type'] },
        )
        .map((object) => JSON.stringify(object))
        .filter((text) => text.length < 60_000),
    );
    await fc.assert(
      fc.asyncProperty(frame, async (text) => {
        await connection.send(text);
      }),
      { numRuns: runs * 2 },
    );
    await connection.settle();
    connection.check();
    connection.close();
    const health = await fetch(`http://127.0.0.1:${instance.port}/health`);
    expect(health.status).toBe(200);
    // Only well-formed posts to the user's own chat may have stored anything: every stored event is the user's.
    const page = await instance.store.readAll({ limit: 10_000 });
    for (const event of page.events) expect(event.owner).toBe(user);
  });
});
