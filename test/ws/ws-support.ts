import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createPool, type DatabasePool } from 'slonik';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createPostgresEventStore, type EventStore, eventStorePoolConfiguration, MemoryEventStore } from '../../src/event-store/index.ts';
import { createLogger } from '../../src/logger.ts';
import type { Storage } from '../../src/storage.ts';

/** One running lakechat instance on 127.0.0.1, on a port of its own. */
export interface Instance {
  app: FastifyInstance;
  store: EventStore;
  port: number;
  /** `ws://127.0.0.1:PORT/ws` */
  url: string;
  /** An HTTP request as `user` (X-Demo-User), through the real port. */
  http(user: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface InstanceOptions {
  env?: Record<string, string>;
  /** A PostgreSQL database (already migrated): the instance gets its own pool and store on it. */
  databaseUrl?: string;
  maxQueuedPerSubscriber?: number;
  pollIntervalMs?: number;
}

export async function startInstance(options: InstanceOptions = {}): Promise<Instance> {
  // Other test files share the PostgreSQL server, and their open transactions hold the log's readers
  // (the projections included) back for a while: writes wait longer than in production.
  const config = loadConfig({ LOG_LEVEL: 'silent', PROJECTION_WAIT_TIMEOUT_MS: '30000', ...options.env });
  const logger = createLogger({ level: 'silent' });
  let pool: DatabasePool | undefined;
  let store: EventStore;
  if (options.databaseUrl !== undefined) {
    const url = options.databaseUrl;
    pool = await createPool(url, eventStorePoolConfiguration({ maxPoolSize: 6, idleInTransactionTimeoutMs: 10_000 }));
    // As the server opens it: cursors name the store.
    store = await createPostgresEventStore({
      pool,
      listenerConfig: async () => ({ connectionString: url }),
      pollIntervalMs: options.pollIntervalMs ?? 200,
      readYourWritesMs: 10_000,
      ...(options.maxQueuedPerSubscriber === undefined ? {} : { maxQueuedPerSubscriber: options.maxQueuedPerSubscriber }),
    });
  } else {
    store = new MemoryEventStore({
      pollIntervalMs: options.pollIntervalMs ?? 50,
      ...(options.maxQueuedPerSubscriber === undefined ? {} : { maxQueuedPerSubscriber: options.maxQueuedPerSubscriber }),
    });
  }
  const storage: Storage = {
    eventStore: store,
    // The read models live beside the events, as openStorage arranges in production.
    ...(pool === undefined ? {} : { pool }),
    status: () => ({
      storage: store.kind,
      mode: store.kind === 'postgres' ? 'url' : 'memory',
      degraded: false,
      host: null,
      user: null,
      database: null,
      tokenExpiresAt: null,
    }),
    close: async () => {
      await store.close();
      await pool?.end();
    },
  };
  const app = await buildApp({ config, logger, storage });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let closed = false;
  return {
    app,
    store,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    async http(user, method, path, body) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        // State-changing requests must say JSON, with a body or without (src/http/route.ts).
        headers: { 'x-demo-user': user, ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? null : JSON.parse(text) };
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await storage.close();
    },
  };
}

export interface Frame {
  type: string;
  [key: string]: any;
}

/** A real `ws` client that records every frame and the close, and waits for what a test needs. */
export class Client {
  readonly frames: Frame[] = [];
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  constructor(url: string, options: { user?: string | null; headers?: Record<string, string>; autoPong?: boolean } = {}) {
    const user = options.user === undefined ? 'alice@example.com' : options.user;
    const headers = { ...(user === null ? {} : { 'x-demo-user': user }), ...options.headers };
    this.socket = new WebSocket(url, { headers, autoPong: options.autoPong ?? true, perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.opened.catch(() => undefined); // a test that expects a refusal awaits `closed` instead
    this.closed = new Promise((resolve) => {
      this.socket.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.notify();
      });
    });
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.notify();
    });
  }

  static async open(url: string, options?: ConstructorParameters<typeof Client>[1]): Promise<Client> {
    const client = new Client(url, options);
    await client.opened;
    return client;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the first frame (from `from` on) matching `match`; fails after `timeoutMs`. */
  async next(match: (frame: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    const found = await this.until(() => this.frames.slice(from).find(match), `a frame matching ${match.toString()}`, timeoutMs);
    return found;
  }

  /** Waits until `probe` returns something other than undefined (re-checked on every frame). */
  async until<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; last frames: ${JSON.stringify(this.frames.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends `subscribe` and waits for its `caught_up`. */
  async subscribe(frame: Record<string, unknown>): Promise<Frame> {
    await this.opened;
    const from = this.frames.length;
    this.send({ type: 'subscribe', ...frame });
    return this.next((f) => (f.type === 'caught_up' || f.type === 'error') && (f.subscription === frame.id || f.id === frame.id), 15_000, from);
  }

  events(subscription: string): Frame[] {
    return this.frames.filter((frame) => frame.type === 'event' && frame.subscription === subscription);
  }

  errors(): Frame[] {
    return this.frames.filter((frame) => frame.type === 'error');
  }

  close(): void {
    this.socket.close();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Waits until `probe` holds, polling; for state a test cannot be told about (server-side stats). */
export async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts a chat over HTTP and returns its id. */
export async function startChat(instance: Instance, user: string, chatId: string): Promise<string> {
  const response = await instance.http(user, 'POST', '/api/chats', { id: chatId });
  if (response.status !== 201 && response.status !== 200) throw new Error(`could not start chat ${chatId}: ${JSON.stringify(response.body)}`);
  return chatId;
}

/** Posts `count` messages to a chat through an instance's ChatService, one after another. */
export async function postMessages(instance: Instance, user: string, chatId: string, count: number, content: (n: number) => string): Promise<void> {
  const context = { actor: user, correlationId: 'test', client: 'test' };
  for (let n = 1; n <= count; n++) {
    await instance.app.lakechat.chats.postMessage(context, chatId, { role: 'user', content: content(n) });
  }
}

/** Checks a subscription's events: strictly increasing cursors (no duplicate), and each chat's messages 1, 2, 3... (no gap). */
export function messagePositionsByChat(events: readonly Frame[]): Map<string, number[]> {
  const byChat = new Map<string, number[]>();
  for (const event of events) {
    if (event.eventType !== 'MessagePosted') continue;
    const list = byChat.get(event.data.chatId) ?? [];
    list.push(event.data.position);
    byChat.set(event.data.chatId, list);
  }
  return byChat;
}

/**
 * Appends `count` MessagePosted events to a chat straight to the store, 50 per append: the same
 * events a post makes, for tests that need megabytes of them quickly.
 */
export async function appendMessages(instance: Instance, owner: string, chatId: string, count: number, content: (n: number) => string): Promise<void> {
  const streamId = instance.app.lakechat.chats.streamIdOf(owner, chatId);
  const existing = (await instance.store.readStream(streamId, { limit: 10_000 })).events;
  let version = existing.at(-1)?.version ?? 0;
  const posted = existing.filter((event) => event.type === 'MessagePosted').length;
  for (let done = 0; done < count; ) {
    const batch = Array.from({ length: Math.min(50, count - done) }, (_, i) => {
      const n = done + i + 1;
      return { type: 'MessagePosted', data: { chatId, messageId: randomUUID(), position: posted + n, role: 'user', content: content(n) } };
    });
    await instance.store.append(streamId, batch, { expectedVersion: version, owner });
    version += batch.length;
    done += batch.length;
  }
}

/** A page of `GET /api/events` (NDJSON): the events' lines and the next page's cursor. */
export async function eventsPage(instance: Instance, user: string, query: string): Promise<{ status: number; events: { cursor: string }[]; next: string | null }> {
  const response = await fetch(`http://127.0.0.1:${instance.port}/api/events${query}`, { headers: { 'x-demo-user': user } });
  const text = await response.text();
  const events =
    response.status === 200
      ? text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { cursor: string })
      : [];
  return { status: response.status, events, next: response.headers.get('x-next-cursor') };
}
