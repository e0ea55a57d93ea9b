import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { type EventStore, MemoryEventStore } from '../../src/event-store/index.ts';
import { createLogger } from '../../src/logger.ts';
import type { Storage } from '../../src/storage.ts';
import { createPostgresTestBed, type PostgresTestBed } from '../event-store/postgres-support.ts';

export interface AppUnderTest {
  app: FastifyInstance;
  store: EventStore;
  /** A request as `user` (X-Demo-User), or anonymous when user is null. */
  as(user: string | null, method: string, url: string, options?: { body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface AppOptions {
  env?: Record<string, string>;
  /** Receives the app's log lines (JSON), for tests that assert on what was logged. */
  logLines?: string[];
  store?: EventStore;
  now?: () => Date;
}

/** The whole app over an in-memory store (the PostgreSQL variant lives beside the PostgreSQL tests). */
export async function memoryApp(options: AppOptions = {}): Promise<AppUnderTest> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...options.env });
  const lines = options.logLines;
  const logger = lines === undefined ? createLogger({ level: 'silent' }) : createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
  const store = options.store ?? new MemoryEventStore({ pollIntervalMs: 50 });
  const storage: Storage = {
    eventStore: store,
    status: () => ({ storage: 'memory', mode: 'memory', degraded: false, reason: 'test', host: null, user: null, database: null, tokenExpiresAt: null }),
    close: () => store.close(),
  };
  const app = await buildApp({ config, logger, storage, ...(options.now === undefined ? {} : { now: options.now }) });
  return wrap(app, store, async () => {
    await app.close();
    await store.close();
  });
}

/**
 * The whole app over the PostgreSQL store and read models, in a fresh migrated database. Several
 * apps may share one database (`bed`), as the instances of one deployment do.
 */
export async function postgresApp(options: AppOptions & { bed?: PostgresTestBed } = {}): Promise<AppUnderTest & { bed: PostgresTestBed }> {
  const bed = options.bed ?? (await createPostgresTestBed(10));
  // Other test files share the server, and their transactions can hold the log's readers back.
  const config = loadConfig({ LOG_LEVEL: 'silent', PROJECTION_WAIT_TIMEOUT_MS: '30000', ...options.env });
  const logger = createLogger({ level: 'silent' });
  const store = bed.openStore({ pollIntervalMs: 100 });
  const storage: Storage = {
    eventStore: store,
    pool: bed.pool,
    readerLag: () => store.visibilityLag(),
    status: () => ({ storage: 'postgres', mode: 'url', degraded: false, host: '127.0.0.1', user: null, database: null, tokenExpiresAt: null }),
    close: () => store.close(),
  };
  const app = await buildApp({ config, logger, storage, ...(options.now === undefined ? {} : { now: options.now }) });
  return {
    ...wrap(app, store, async () => {
      await app.close();
      await store.close();
      if (options.bed === undefined) await bed.close();
    }),
    bed,
  };
}

const stateChanging = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function wrap(app: FastifyInstance, store: EventStore, close: () => Promise<void>): AppUnderTest {
  return {
    app,
    store,
    as: (user, method, url, { body, headers } = {}) =>
      app.inject({
        method: method as 'GET',
        url,
        // As every client of the API must (the demo page included): state-changing requests say JSON.
        headers: { ...(user === null ? {} : { 'x-demo-user': user }), ...(stateChanging.has(method) ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body === undefined ? {} : { payload: body as object }),
      }),
    close,
  };
}
