import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runMigrations } from '../../src/migrate.ts';
import { createEmbeddedPostgres, type EmbeddedPostgres } from '../support/embedded-postgres.ts';
import { freePort } from '../support/global-setup.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = import.meta.resolve('tsx');
const user = 'fault@example.com';
const posters = 4;
const postsEach = 25;

let postgres: EmbeddedPostgres;
let databaseUrl: string;
let server: ChildProcess | undefined;
let serverOutput = '';
let port: number;

beforeAll(async () => {
  // A PostgreSQL of this file's own, so stopping it disturbs nobody else.
  postgres = await createEmbeddedPostgres({ password: 'fault' });
  await postgres.start();
  databaseUrl = postgres.url;
  await runMigrations({ connectionString: databaseUrl });

  port = await freePort();
  server = spawn(process.execPath, ['--import', tsx, 'src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LAKEBASE_PG_URL: databaseUrl,
      STORAGE_FALLBACK: 'fail',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_SECOND: '0',
      // Writes wait through the restart (a few seconds here), then for the projections to catch up.
      DATABASE_RETRY_MS: '15000',
      PROJECTION_WAIT_TIMEOUT_MS: '15000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
  for (let attempt = 0; ; attempt += 1) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ready`)).ok) break;
    } catch {
      // not yet
    }
    if (attempt > 300 || server.exitCode !== null) throw new Error(`the server did not start:\n${serverOutput}`);
    await sleep(100);
  }
});
afterAll(async () => {
  server?.kill('SIGKILL');
  await postgres?.remove().catch(() => {});
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'x-demo-user': user, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    // Longer than DATABASE_RETRY_MS and PROJECTION_WAIT_TIMEOUT_MS together: the server answers first.
    signal: AbortSignal.timeout(40_000),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** Every request that did not succeed the first time: the client never retries. */
const failures: string[] = [];

/** Posts once, with a clientMessageId or without; returns the message id of a 201, records anything else. */
async function postOnce(chatId: string, content: string, withClientId: boolean): Promise<string | null> {
  try {
    const answer = await post(`/api/chats/${chatId}/messages`, withClientId ? { content, clientMessageId: content } : { content });
    if (answer.status === 201 && answer.body?.duplicate === false) return answer.body.message.id as string;
    failures.push(`${content}: ${answer.status} ${JSON.stringify(answer.body)}`);
  } catch (error) {
    failures.push(`${content}: ${String(error)}`);
  }
  return null;
}

/** A WebSocket subscriber that reconnects by itself and resumes after the last cursor it processed. */
class ResumingSubscriber {
  readonly messageIds: string[] = [];
  reconnects = 0;
  private cursor: string | null = null;
  private socket: WebSocket | undefined;
  private stopped = false;

  constructor(private readonly url: string) {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.url, { headers: { 'x-demo-user': user } });
    this.socket = socket;
    socket.on('open', () => socket.send(JSON.stringify({ type: 'subscribe', id: 's', scope: 'user', after: this.cursor })));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'event') {
        this.cursor = frame.cursor;
        if (frame.eventType === 'MessagePosted') this.messageIds.push(frame.data.messageId);
      } else if (frame.type === 'error' && frame.id === 's') {
        socket.close(); // the subscription failed (database down): reconnect and resume
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.stopped) return;
      this.reconnects += 1;
      setTimeout(() => this.connect(), 200);
    });
  }

  stop(): void {
    this.stopped = true;
    this.socket?.terminate();
  }
}

describe('PostgreSQL restarted under load', () => {
  it('fails no request, stores each post once, delivers each once to a resuming subscriber, and recovers by itself', async () => {
    expect((await post('/api/chats', { id: 'restart' })).status).toBe(201);
    const subscriber = new ResumingSubscriber(`ws://127.0.0.1:${port}/ws`);

    const acknowledged: string[] = [];
    let answered = 0;
    const load = Promise.all(
      Array.from({ length: posters }, async (_, poster) => {
        for (let n = 0; n < postsEach; n += 1) {
          // Half the posters send a clientMessageId, half do not: neither may see a failure.
          const id = await postOnce('restart', `p${poster}-${n}`, poster % 2 === 0);
          if (id !== null) acknowledged.push(id);
          answered += 1;
          await sleep(20);
        }
      }),
    );
    // Restart PostgreSQL once the load is under way.
    while (answered < 20) await sleep(20);
    await postgres.stop();
    // The fault really landed mid-load: posts were still to come.
    expect(answered).toBeLessThan(posters * postsEach);
    await sleep(2_000); // PostgreSQL stays away this long: well under DATABASE_RETRY_MS
    await postgres.start();
    await load;

    expect(failures).toEqual([]);
    expect(acknowledged).toHaveLength(posters * postsEach);
    expect(new Set(acknowledged).size).toBe(posters * postsEach);

    // Every acknowledged message is stored, once.
    const client = new pg.Client({ connectionString: databaseUrl });
    client.on('error', () => {});
    await client.connect();
    let stored;
    try {
      stored = await client.query<{ id: string }>(`SELECT data->>'messageId' AS id FROM events WHERE event_type = 'MessagePosted'`);
    } finally {
      await client.end();
    }
    const storedIds = stored.rows.map((row) => row.id);
    expect(new Set(storedIds).size).toBe(storedIds.length);
    expect(new Set(storedIds)).toEqual(new Set(acknowledged));

    // The subscriber resumed and got every one exactly once.
    for (let waited = 0; subscriber.messageIds.length < acknowledged.length && waited < 30_000; waited += 100) await sleep(100);
    subscriber.stop();
    console.info(`PostgreSQL restart: ${posters * postsEach} posts, none failed; the subscriber reconnected ${subscriber.reconnects} times`);
    expect(subscriber.messageIds.length).toBe(acknowledged.length);
    expect(new Set(subscriber.messageIds)).toEqual(new Set(acknowledged));

    // The app recovered by itself: healthy, and a new post goes through first time.
    expect(server!.exitCode).toBeNull();
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    expect(health).toMatchObject({ storage: 'postgres', degraded: false });
    expect((await post('/api/chats/restart/messages', { content: 'after' })).status).toBe(201);
  });
});
