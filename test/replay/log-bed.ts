/**
 * A fresh, migrated PostgreSQL database with the event store, a writer of valid domain events, the live
 * projection runner (as the app runs it), and a way to read whole read-model tables for comparison.
 * Shared by the replay and rebuild tests.
 */
import { randomUUID } from 'node:crypto';
import { type CommonQueryMethods, createPool, type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { compareCursors, createPostgresEventStore, eventStorePoolConfiguration, type NewEvent, PostgresEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { profileStreamId } from '../../src/profiles/stream-id.ts';
import type { AppliedInAppend } from '../../src/projection-runner/index.ts';
import { PostgresProjectionBackend } from '../../src/projection-runner/postgres-backend.ts';
import type { AnyReadModel } from '../../src/projection-runner/read-model.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { ProjectionRunner } from '../../src/projection-runner/runner.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

export interface LogBed {
  database: TestDatabase;
  pool: DatabasePool;
  store: PostgresEventStore;
  writer: DomainWriter;
  /** Starts the live projection runner on the live tables (stopped by close); `inAppend`: the marks of what appends applied. */
  startRunner(options?: { inAppend?: AppliedInAppend }): Promise<ProjectionRunner>;
  /** Every row of every read-model table in `schema` (the live ones by default), in key order. */
  tables(schema?: string, projections?: readonly AnyReadModel[]): Promise<Record<string, unknown[]>>;
  /** Waits until the runner has applied everything appended so far. */
  caughtUp(runner: ProjectionRunner): Promise<string | null>;
  /** Waits until readers of the log can see everything appended so far. */
  readable(): Promise<void>;
  close(): Promise<void>;
}

/** `namedCursors`: the store names itself in its cursors, as the app's does (createPostgresEventStore). */
export async function createLogBed(poolSize = 16, options: { namedCursors?: boolean } = {}): Promise<LogBed> {
  const database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  const pool = await createPool(database.url, eventStorePoolConfiguration({ maxPoolSize: poolSize, idleInTransactionTimeoutMs: 30_000 }));
  // Other test files share the server: their transactions can hold this store's reads back a while.
  const storeOptions = { pool, listenerConfig: async () => ({ connectionString: database.url }), pollIntervalMs: 50, readYourWritesMs: 10_000 };
  const store = options.namedCursors === true ? await createPostgresEventStore(storeOptions) : new PostgresEventStore(storeOptions);
  const runners: ProjectionRunner[] = [];
  const writer = new DomainWriter((streamId, events, owner) => store.append(streamId, events, { expectedVersion: 'any', owner }).then((r) => r.cursor));
  return {
    database,
    pool,
    store,
    writer,
    async startRunner(runnerOptions = {}) {
      const backend = new PostgresProjectionBackend(
        pool,
        allProjections.map((projection) => ({ projection })),
        runnerOptions,
      );
      const runner = new ProjectionRunner(store, backend, { batchSize: 200, waitTimeoutMs: 30_000 });
      await runner.start();
      runners.push(runner);
      return runner;
    },
    tables: (schema, projections) => readTables(pool, schema ?? 'public', projections ?? allProjections),
    async caughtUp(runner) {
      // Everything appended so far, once readable: the runner stops at events, never at the head's
      // boundary cursor; and other test files' transactions can keep new events unreadable a while.
      await waitReadable(store, writer.lastCursor);
      let last: string | null = writer.lastCursor;
      for (let after: string | null = runner.status().cursor; ; ) {
        const page = await store.readAll({ after, limit: 10_000 });
        if (page.events.length > 0 && compareCursors(page.events[page.events.length - 1]!.cursor, last) > 0) last = page.events[page.events.length - 1]!.cursor;
        after = page.cursor;
        if (page.events.length < 10_000) break;
      }
      await runner.waitFor(last, 60_000);
      return runner.status().cursor;
    },
    readable: () => waitReadable(store, writer.lastCursor),
    async close() {
      for (const runner of runners) await runner.stop();
      await store.close();
      await pool.end();
      await database.drop();
    },
  };
}

/** Waits until a read of the log returns the event at `cursor` (readers see only transactions older than every running one). */
export async function waitReadable(store: PostgresEventStore, cursor: string | null): Promise<void> {
  if (cursor === null) return;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const head = await store.headCursor();
    if (compareCursors(head, cursor) >= 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the event at ${cursor} did not become readable within 30 s`);
}

const anyRow = z.object({ row: z.record(z.string(), z.unknown()), text: z.string() });

/**
 * A table's rows, ordered: each as JSON (readable in a failure) and as the record's own text, which
 * tells apart what JSON cannot (SQL NULL from a jsonb null, 1.0 from 1). Equal tables read equal.
 */
export async function readTables(db: CommonQueryMethods, schema: string, projections: readonly AnyReadModel[]): Promise<Record<string, unknown[]>> {
  const result: Record<string, unknown[]> = {};
  for (const projection of projections) {
    for (const table of Object.keys(projection.tables)) {
      const rows = await db.any(sql.unsafe`
        SELECT to_jsonb(t) AS row, t::text AS text FROM ${sql.identifier([schema, table])} AS t ORDER BY t::text`);
      result[table] = rows.map((row) => {
        const parsed = anyRow.parse(row);
        return { ...parsed.row, '(record)': parsed.text };
      });
    }
  }
  return result;
}

type Append = (streamId: string, events: NewEvent[], owner: string) => Promise<string>;

/**
 * Appends events shaped as the domain appends them (valid data, consecutive message positions), without
 * the services: tests choose exactly what the log holds.
 */
export class DomainWriter {
  private readonly messageCounts = new Map<string, number>();
  /** The cursor of the newest event this writer appended (readers may not see it at once). */
  lastCursor: string | null = null;
  private readonly append: Append;

  constructor(append: Append) {
    this.append = async (streamId, events, owner) => {
      const cursor = await append(streamId, events, owner);
      if (compareCursors(cursor, this.lastCursor) > 0) this.lastCursor = cursor;
      return cursor;
    };
  }

  metadata(actor: string): NewEvent['metadata'] {
    return { actor, correlationId: randomUUID(), client: 'test' };
  }

  startChat(owner: string, chatId: string, title = `Chat ${chatId}`): Promise<string> {
    const stream = chatStreamId(owner, chatId);
    this.messageCounts.set(stream, 0);
    return this.append(stream, [{ type: 'ChatStarted', data: { chatId, userEmail: owner, title, agentId: null }, metadata: this.metadata(owner) }], owner);
  }

  post(owner: string, chatId: string, content: string, extra: Record<string, unknown> = {}): Promise<string> {
    const stream = chatStreamId(owner, chatId);
    const position = (this.messageCounts.get(stream) ?? 0) + 1;
    this.messageCounts.set(stream, position);
    return this.append(
      stream,
      [{ type: 'MessagePosted', data: { chatId, messageId: randomUUID(), position, role: position % 2 === 1 ? 'user' : 'assistant', content, ...extra }, metadata: this.metadata(owner) }],
      owner,
    );
  }

  rename(owner: string, chatId: string, title: string): Promise<string> {
    return this.append(chatStreamId(owner, chatId), [{ type: 'ChatRenamed', data: { chatId, title }, metadata: this.metadata(owner) }], owner);
  }

  deleteChat(owner: string, chatId: string): Promise<string> {
    return this.append(chatStreamId(owner, chatId), [{ type: 'ChatDeleted', data: { chatId }, metadata: this.metadata(owner) }], owner);
  }

  updateProfile(owner: string, changes: Record<string, unknown>): Promise<string> {
    return this.append(profileStreamId(owner), [{ type: 'ProfileUpdated', data: { userEmail: owner, changes }, metadata: this.metadata(owner) }], owner);
  }

  deleteProfile(owner: string): Promise<string> {
    return this.append(profileStreamId(owner), [{ type: 'ProfileDeleted', data: { userEmail: owner }, metadata: this.metadata(owner) }], owner);
  }

  /** Any event at all, for cases the domain never writes (the projections must still handle them as their handlers do). */
  raw(streamId: string, type: string, data: Record<string, unknown>, owner: string): Promise<string> {
    return this.append(streamId, [{ type, data, metadata: this.metadata(owner) }], owner);
  }
}

/** A busy little log: chats started, messages posted, renamed and deleted, profiles changed and deleted. */
export async function writeHistory(writer: DomainWriter, options: { users: number; chatsPerUser: number; messagesPerChat: number; tag?: string }): Promise<void> {
  const tag = options.tag ?? 'h';
  for (let u = 0; u < options.users; u++) {
    const owner = `user${u}@example.com`;
    await writer.updateProfile(owner, { dateOfBirth: '1980-05-0' + ((u % 9) + 1), maritalStatus: 'single', annualIncome: 50_000 + u });
    for (let c = 0; c < options.chatsPerUser; c++) await writer.startChat(owner, `${tag}${c}`);
  }
  for (let m = 0; m < options.messagesPerChat; m++) {
    for (let u = 0; u < options.users; u++) {
      const owner = `user${u}@example.com`;
      for (let c = 0; c < options.chatsPerUser; c++)
        await writer.post(owner, `${tag}${c}`, `message ${m} of ${tag}${c}, "quoted", with a comma\nand a line`, m % 3 === 0 ? { traceId: `t${m}`, traceSummary: { steps: m } } : {});
      if (m === 1) await writer.updateProfile(owner, { financialGoals: ['retire', `goal ${u}`], riskTolerance: 'moderate' });
    }
  }
  for (let u = 0; u < options.users; u++) {
    const owner = `user${u}@example.com`;
    if (options.chatsPerUser > 0) await writer.rename(owner, `${tag}0`, `Renamed ${tag}0`);
    if (options.chatsPerUser > 1 && u % 2 === 0) await writer.deleteChat(owner, `${tag}1`);
    if (u % 3 === 2) await writer.deleteProfile(owner);
  }
}

export type { RecordedEvent };
