import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { runMigrations } from '../../src/migrate.ts';
import { openStorage, type Storage } from '../../src/storage.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { PgProxy } from '../support/pg-proxy.ts';
import { Client } from '../ws/ws-support.ts';

// The app on a PostgreSQL reached through a proxy that loses the answer of a committed append (the
// connection dies between the commit and its reply), cuts every connection, or refuses new ones.
const user = 'lost@example.com';
const retryMs = 3_000;

let database: TestDatabase;
let proxy: PgProxy;
let storage: Storage;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  const target = new URL(database.url);
  proxy = await PgProxy.start({ host: target.hostname, port: Number(target.port) });
  const config = loadConfig(
    {
      LAKEBASE_PG_URL: proxy.urlFor(database.url),
      STORAGE_FALLBACK: 'fail',
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_SECOND: '0',
      WS_POSTS_PER_SECOND: '0',
      DATABASE_RETRY_MS: String(retryMs),
      // Other test files share the PostgreSQL server: their transactions can hold the projections back.
      PROJECTION_WAIT_TIMEOUT_MS: '30000',
    },
    { envFile: false },
  );
  storage = await openStorage(config, createLogger({ level: 'silent' }));
  expect(storage.status()).toMatchObject({ storage: 'postgres', degraded: false });
  app = await buildApp({ config, logger: createLogger({ level: 'silent' }), storage });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});
afterAll(async () => {
  await app?.close();
  await storage?.close();
  await proxy?.close();
  await database?.drop();
});

async function request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-demo-user': user, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json().catch(() => null), headers: response.headers };
}

/** Events in the log (read directly, not through the app) matching a condition on their data. */
async function countEvents(type: string, field: string, value: string): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE event_type = $1 AND data->>$3 = $2`, [type, value, field]);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

/**
 * The read models hold the message once (written by the append's own statement or by the runner,
 * never both), and the chat counts exactly the messages it shows.
 */
async function expectHeldOnce(content: string): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ held: number; shown: number; counted: number }>(
      `SELECT (SELECT count(*)::int FROM messages WHERE content = $1) AS held,
              (SELECT count(*)::int FROM messages WHERE chat_id = 'lost' AND owner = $2) AS shown,
              (SELECT message_count FROM chats WHERE chat_id = 'lost' AND owner = $2) AS counted`,
      [content, user],
    );
    expect(rows[0]).toEqual({ held: 1, shown: rows[0]!.counted, counted: rows[0]!.shown });
  } finally {
    await client.end();
  }
}

/** Runs `write` with the next append's answer lost after its commit, and checks the proxy did lose it. */
async function withLostAnswer<T>(write: () => Promise<T>): Promise<T> {
  const lost = proxy.commitAnswersLost;
  proxy.loseNextCommitAnswers(1);
  const result = await write();
  expect(proxy.commitAnswersLost).toBe(lost + 1);
  return result;
}

describe('the connection dies between an append commit and its answer', () => {
  it('creates a chat once and answers 201, as if nothing had happened', async () => {
    const created = await withLostAnswer(() => request('POST', '/api/chats', { id: 'lost', title: 'Lost answers' }));
    expect(created.status).toBe(201);
    expect(await countEvents('ChatStarted', 'chatId', 'lost')).toBe(1);
  });

  it('posts a message without clientMessageId once and answers 201 with it', async () => {
    const posted = await withLostAnswer(() => request('POST', '/api/chats/lost/messages', { content: 'no client id' }));
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ duplicate: false, message: { content: 'no client id' } });
    expect(posted.headers.get('etag')).not.toBeNull();
    expect(await countEvents('MessagePosted', 'content', 'no client id')).toBe(1);
    await expectHeldOnce('no client id');
  });

  it('posts a message with a clientMessageId once and answers 201, not as a duplicate', async () => {
    const posted = await withLostAnswer(() => request('POST', '/api/chats/lost/messages', { content: 'with client id', clientMessageId: 'c-1' }));
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ duplicate: false, message: { content: 'with client id' } });
    expect(await countEvents('MessagePosted', 'content', 'with client id')).toBe(1);
    // The client's own retry of that id is still recognised as one.
    const again = await request('POST', '/api/chats/lost/messages', { content: 'with client id', clientMessageId: 'c-1' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, message: { id: posted.body.message.id } });
    expect(await countEvents('MessagePosted', 'content', 'with client id')).toBe(1);
    await expectHeldOnce('with client id');
  });

  it('posts over a WebSocket once and acknowledges it once, not as a duplicate', async () => {
    const socket = await Client.open(`${base.replace('http', 'ws')}/ws`, { user });
    try {
      const ack = await withLostAnswer(async () => {
        socket.send({ type: 'post', id: 'w-1', chatId: 'lost', content: 'over a socket' });
        return socket.next((frame) => (frame.type === 'ack' || frame.type === 'error') && frame.id === 'w-1', 30_000);
      });
      expect(ack).toMatchObject({ type: 'ack', duplicate: false });
    } finally {
      socket.socket.close();
    }
    expect(await countEvents('MessagePosted', 'content', 'over a socket')).toBe(1);
    await expectHeldOnce('over a socket');
  });

  it('changes a profile once and answers 201', async () => {
    const changed = await withLostAnswer(() => request('PUT', '/api/profile', { maritalStatus: 'single' }));
    expect(changed.status).toBe(201);
    expect(await countEvents('ProfileUpdated', 'userEmail', user)).toBe(1);
  });
});

describe('the database away', () => {
  it('keeps a post waiting while the database refuses connections, and answers 201 once it is back', async () => {
    proxy.pause();
    const refusedBefore = proxy.refused;
    const posting = request('POST', '/api/chats/lost/messages', { content: 'while away' });
    // The server is retrying: it has been refused twice. Then the database comes back.
    const deadline = Date.now() + retryMs / 2;
    while (proxy.refused < refusedBefore + 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(proxy.refused).toBeGreaterThanOrEqual(refusedBefore + 2);
    proxy.resume();
    expect((await posting).status).toBe(201);
    expect(await countEvents('MessagePosted', 'content', 'while away')).toBe(1);
  });

  it('answers 503 with Retry-After once the database has stayed away past DATABASE_RETRY_MS, and stores nothing', async () => {
    proxy.pause();
    try {
      const started = performance.now();
      const answer = await request('POST', '/api/chats/lost/messages', { content: 'too late' });
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).not.toBeNull();
      expect(answer.body.error.code).toBe('LAKECHAT_ERR_STORE_UNAVAILABLE');
      expect(performance.now() - started).toBeGreaterThanOrEqual(retryMs - 100);
    } finally {
      proxy.resume();
    }
    expect(await countEvents('MessagePosted', 'content', 'too late')).toBe(0);
    expect((await request('POST', '/api/chats/lost/messages', { content: 'back' })).status).toBe(201);
  });
});
