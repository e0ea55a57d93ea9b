/**
 * Read models applied by the append itself (docs/architecture.md, "Read models applied in the append"):
 * a post's message and its chat are written by the statement that stores the post, the runner applies
 * only what those steps left, and the rows are the fold's rows whichever did the work.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type DatabasePool, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chatStreamId } from '../../src/chats/index.ts';
import type { AppliedMarks, PostgresEventStore, RecordedEvent } from '../../src/event-store/index.ts';
import { AppliedInAppend, inAppendSteps } from '../../src/projection-runner/in-append.ts';
import { MemoryProjectionBackend } from '../../src/projection-runner/memory-backend.ts';
import { type AnyReadModel, compareKeys, keyOf, type Row } from '../../src/projection-runner/read-model.ts';
import { allProjections, openProjections } from '../../src/projection-runner/read-models.ts';
import type { ProjectionRunner } from '../../src/projection-runner/runner.ts';
import { selectAll } from '../../src/projection-runner/sql-rows.ts';
import { liveTables, tableNames } from '../../src/projection-runner/tables.ts';
import { createLogBed, type LogBed, waitReadable } from '../replay/log-bed.ts';
import { writeOddCases, writeRandomHistory } from './generated-logs.ts';

type Bed = LogBed & {
  marks: AppliedInAppend;
  runner(): Promise<ProjectionRunner>;
};

/** A migrated database whose store applies the read models' append steps, as the app opens it. */
async function openBed(): Promise<Bed> {
  // Named cursors, as the app's store hands out: the steps must write the very cursor readers see.
  const bed = await createLogBed(8, { namedCursors: true });
  const marks = new AppliedInAppend();
  bed.store.projectInAppend(inAppendSteps(allProjections, marks));
  return Object.assign(bed, { marks, runner: () => bed.startRunner({ inAppend: marks }) });
}

const byKey = (model: AnyReadModel, table: string) => (a: Row, b: Row) => compareKeys(keyOf(model.tables[table]!, a), keyOf(model.tables[table]!, b));

async function liveRows(pool: DatabasePool): Promise<Record<string, Row[]>> {
  const tables = tableNames(liveTables);
  const found: Record<string, Row[]> = {};
  for (const model of allProjections) {
    for (const [name, spec] of Object.entries(model.tables)) found[name] = await selectAll(pool, spec, tables(name));
  }
  return found;
}

/** The rows the fold alone gives for these events, in memory. */
async function foldedRows(events: readonly RecordedEvent[]): Promise<Record<string, Row[]>> {
  const backend = new MemoryProjectionBackend(allProjections);
  await backend.start();
  for (const event of events) {
    try {
      await backend.applyBatch([event]);
    } catch (error) {
      if (!backend.isPermanent()) throw error;
      await backend.park(event);
    }
  }
  const found: Record<string, Row[]> = {};
  for (const model of allProjections) {
    for (const name of Object.keys(model.tables)) found[name] = backend.tables(model).all(name).sort(byKey(model, name));
  }
  return JSON.parse(JSON.stringify(found)) as Record<string, Row[]>;
}

async function everyEvent(store: PostgresEventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (let after: string | null = null; ; ) {
    const page = await store.readAll({ after, limit: 1_000 });
    events.push(...page.events);
    after = page.cursor;
    if (page.events.length < 1_000) return events;
  }
}

const countRow = z.object({ count: z.number() });

/** Rows of `table` written by the transaction that stored their event (the append), not by the runner's. */
async function writtenByTheAppend(pool: DatabasePool, table: 'messages' | 'chats'): Promise<number> {
  const join = table === 'messages' ? sql.fragment`split_part(t.cursor, '.', 1) = e.tx_id::text || '-' || e.position::text` : sql.fragment`e.position = t.last_position`;
  const row = await pool.one(sql.type(countRow)`
    SELECT count(*)::int AS count FROM ${sql.identifier([table])} AS t JOIN events AS e ON ${join}
    WHERE t.xmin::text = (e.tx_id::text::numeric % 4294967296)::text`);
  return row.count;
}

describe('read models applied in the append', () => {
  let bed: Bed;

  beforeAll(async () => {
    bed = await openBed();
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('holds the fold’s rows for a random history and every odd case, appended one by one and in concurrent groups', async () => {
    const runner = await bed.runner();
    // One writer at a time (the single-event statement), then three at once (group statements).
    await writeRandomHistory(bed.writer, 14, 120);
    await Promise.all([writeRandomHistory(bed.writer, 31, 120), writeRandomHistory(bed.writer, 32, 120), writeRandomHistory(bed.writer, 33, 120)]);
    await writeOddCases(bed);
    await waitReadable(bed.store, bed.writer.lastCursor);
    const events = await everyEvent(bed.store);
    await runner.waitFor(events.at(-1)!.cursor, 60_000);

    expect(await liveRows(bed.pool)).toEqual(await foldedRows(events));
    // The steps did the work for most posts (the rest: posts the runner had to apply first).
    const posts = events.filter((event) => event.type === 'MessagePosted').length;
    expect(await writtenByTheAppend(bed.pool, 'messages')).toBeGreaterThan(posts * 0.6);
    expect(await writtenByTheAppend(bed.pool, 'chats')).toBeGreaterThan(0);
    await runner.stop();
  }, 180_000);

  it('answers a post without waiting for the runner when its append applied it to every read model', async () => {
    const runner = await bed.runner();
    const owner = 'quick@example.com';
    const stream = chatStreamId(owner, 'quick');
    await runner.waitFor(await bed.writer.startChat(owner, 'quick'), 30_000);
    const posted = await bed.store.append(
      stream,
      [{ type: 'MessagePosted', data: { chatId: 'quick', messageId: '5a0c1ad6-9d2e-4f1b-8c3a-2b7e6f1d0a11', position: 1, role: 'user', content: 'hello' } }],
      { expectedVersion: 1, owner },
    );
    const event = { eventId: posted.events[0]!.eventId, type: 'MessagePosted' };
    expect(runner.backend.appliedInAppend?.([event])).toBe(true);
    // Readable at once, from the very rows the runner would write.
    const rows = await bed.pool.any(sql.unsafe`SELECT position, content, cursor FROM messages WHERE stream_id = ${stream}`);
    expect(rows).toEqual([{ position: 1, content: 'hello', cursor: posted.cursor }]);
    const chat = await bed.pool.one(sql.unsafe`SELECT version, message_count, last_message_preview FROM chats WHERE stream_id = ${stream}`);
    expect(chat).toEqual({ version: 2, message_count: 1, last_message_preview: 'hello' });
    await runner.stop();
  });

  it('answers a post its append applied only once the log’s readers can see it, so a subscription from now starts after it', async () => {
    const runner = await bed.runner();
    const owner = 'visible@example.com';
    await runner.waitFor(await bed.writer.startChat(owner, 'visible'), 30_000);
    // An older transaction holding an id keeps every later commit unreadable until it ends (on the
    // whole server, other test files too: held as briefly as the test allows).
    const older = new pg.Client({ connectionString: bed.database.url });
    await older.connect();
    try {
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()');
      const posted = await bed.store.append(
        chatStreamId(owner, 'visible'),
        [{ type: 'MessagePosted', data: { chatId: 'visible', messageId: randomUUID(), position: 1, role: 'user', content: 'hidden a while' } }],
        { expectedVersion: 1, owner },
      );
      const events = [{ eventId: posted.events[0]!.eventId, type: 'MessagePosted' }];
      expect(runner.backend.appliedInAppend?.(events)).toBe(true);
      await expect(runner.waitForWrite(events, posted.cursor, 150)).rejects.toMatchObject({ code: 'LAKECHAT_ERR_PROJECTION_TIMEOUT' });
      const answered = runner.waitForWrite(events, posted.cursor, 30_000);
      await older.query('COMMIT');
      await answered;
      const page = await bed.store.readAll({ after: null, limit: 10_000 });
      expect(page.events.map((event) => event.cursor)).toContain(posted.cursor);
    } finally {
      await older.end();
      await runner.stop();
    }
  });

  it('leaves a post to the runner when its chat still waits for an earlier event, so no event is leapt over', async () => {
    const owner = 'behind@example.com';
    const stream = chatStreamId(owner, 'behind');
    // No runner yet, no steps: the chat's start applied, its rename stored but not applied.
    await bed.writer.startChat(owner, 'behind', 'Before');
    bed.store.projectInAppend(undefined);
    await bed.writer.rename(owner, 'behind', 'After');
    bed.store.projectInAppend(inAppendSteps(allProjections, bed.marks));
    const posted = await bed.store.append(
      stream,
      [{ type: 'MessagePosted', data: { chatId: 'behind', messageId: '6b1d2be7-0e3f-4a2c-9d4b-3c8f7a2e1b22', position: 1, role: 'user', content: 'first' } }],
      { expectedVersion: 2, owner },
    );
    // The message could go in (it is the chat's first); the chat could not (its row is at version 1, not 2).
    expect(bed.marks.tableOf(posted.events[0]!.eventId, 'messages')).toBeTypeOf('number');
    expect(bed.marks.tableOf(posted.events[0]!.eventId, 'chats')).toBeUndefined();
    const runner = await bed.runner();
    expect(runner.backend.appliedInAppend?.([{ eventId: posted.events[0]!.eventId, type: 'MessagePosted' }])).toBe(false);
    await runner.waitForWrite([{ eventId: posted.events[0]!.eventId, type: 'MessagePosted' }], posted.cursor, 30_000);
    const chat = await bed.pool.one(sql.unsafe`SELECT title, version, message_count FROM chats WHERE stream_id = ${stream}`);
    expect(chat).toEqual({ title: 'After', version: 3, message_count: 1 });
  });

  it('never costs an append when a step fails: the events are stored once, answered as written, and left to the runner', async () => {
    const failing = { name: 'failing', statements: () => [sql.fragment`SELECT (1 / 0)::text AS cursor, 0::oid AS tableoid FROM appended`] };
    bed.store.projectInAppend({ steps: [failing], applied: () => expect.unreachable('a failed step applied nothing') });
    try {
      const owner = 'failing@example.com';
      const first = await bed.store.append(chatStreamId(owner, 'f'), [{ type: 'ChatStarted', data: { chatId: 'f', title: 'F', userEmail: owner, agentId: null } }], {
        expectedVersion: 0,
        owner,
      });
      expect(first.duplicate).toBe(false);
      const [again] = await Promise.all([
        bed.store.append(chatStreamId(owner, 'f'), [{ type: 'ChatRenamed', data: { chatId: 'f', title: 'G' } }], { expectedVersion: 1, owner }),
        bed.store.append(chatStreamId(owner, 'g'), [{ type: 'ChatRenamed', data: { chatId: 'g', title: 'G' } }], { owner }),
      ]);
      expect(again).toMatchObject({ duplicate: false, nextExpectedVersion: 2 });
      const stored = await bed.store.readStream(chatStreamId(owner, 'f'));
      expect(stored.events.map((event) => event.type)).toEqual(['ChatStarted', 'ChatRenamed']);
    } finally {
      bed.store.projectInAppend(inAppendSteps(allProjections, bed.marks));
    }
  });
});

describe('openProjections', () => {
  let bed: Bed;

  beforeAll(async () => {
    bed = await openBed();
    bed.store.projectInAppend(undefined);
  });

  afterAll(async () => {
    await bed?.close();
  });

  /** Whether the message of a post made through projections opened so was written by the post's own transaction. */
  async function writtenByItsAppend(chatId: string, inAppend: boolean | undefined): Promise<boolean> {
    const projections = await openProjections({ store: bed.store, pool: bed.pool, ...(inAppend === undefined ? {} : { inAppend }) });
    try {
      const owner = `${chatId}@example.com`;
      await projections.runner.waitFor(await bed.writer.startChat(owner, chatId), 30_000);
      const posted = await bed.store.append(chatStreamId(owner, chatId), [{ type: 'MessagePosted', data: { chatId, messageId: randomUUID(), position: 1, role: 'user', content: 'hi' } }], {
        expectedVersion: 1,
        owner,
      });
      await projections.runner.waitFor(posted.cursor, 30_000);
      return await bed.pool.oneFirst(sql.type(z.object({ same: z.boolean() }))`
        SELECT m.xmin::text = (e.tx_id::text::numeric % 4294967296)::text AS same
        FROM messages AS m JOIN events AS e ON e.event_id = ${posted.events[0]!.eventId}
        WHERE m.owner = ${owner}`);
    } finally {
      await projections.runner.stop();
      bed.store.projectInAppend(undefined);
    }
  }

  it('has the PostgreSQL append apply the read models by default, and leaves them to the runner with inAppend: false', async () => {
    expect(await writtenByItsAppend('by-default', undefined)).toBe(true);
    expect(await writtenByItsAppend('turned-off', false)).toBe(false);
  });
});

describe('the runner and the rebuild’s swap', () => {
  let bed: Bed;

  beforeAll(async () => {
    bed = await openBed();
  });

  afterAll(async () => {
    await bed?.close();
  });

  async function post(owner: string, chatId: string, position: number, content: string) {
    return bed.store.append(chatStreamId(owner, chatId), [{ type: 'MessagePosted', data: { chatId, messageId: randomUUID(), position, role: 'user', content } }], {
      expectedVersion: position,
      owner,
    });
  }

  /** The swap's statements (src/rebuild/swap.ts): the live tables locked, dropped, and copies renamed into their place. */
  async function swapTables(client: pg.Client, copy: { messagesWhere: string }): Promise<void> {
    await client.query(`CREATE TABLE messages_next (LIKE messages INCLUDING ALL); INSERT INTO messages_next SELECT * FROM messages WHERE ${copy.messagesWhere}`);
    await client.query('CREATE TABLE chats_next (LIKE chats INCLUDING ALL); INSERT INTO chats_next SELECT * FROM chats');
    await client.query('DROP TABLE messages; ALTER TABLE messages_next RENAME TO messages; DROP TABLE chats; ALTER TABLE chats_next RENAME TO chats');
  }

  it('applies an event the append applied only once: the runner skips what a step marked', async () => {
    const runner = await bed.runner();
    const owner = 'once@example.com';
    await runner.waitFor(await bed.writer.startChat(owner, 'once'), 30_000);
    let last = null as string | null;
    for (let position = 1; position <= 20; position++) last = (await post(owner, 'once', position, `m${position}`)).cursor;
    await runner.waitFor(last, 30_000);
    // Every row was last written by the transaction that stored its event: the runner wrote none again.
    const written = await bed.pool.one(sql.unsafe`
      SELECT count(*) FILTER (WHERE m.xmin::text = (e.tx_id::text::numeric % 4294967296)::text)::int AS by_append, count(*)::int AS rows
      FROM messages AS m JOIN events AS e ON split_part(m.cursor, '.', 1) = e.tx_id::text || '-' || e.position::text
      WHERE m.owner = ${owner}`);
    expect(written).toEqual({ by_append: 20, rows: 20 });
    expect(bed.marks.size).toBe(0); // forgotten once passed
    await runner.stop();
  });

  it('lets a post blocked behind the swap’s locks write into the tables swapped in', async () => {
    const runner = await bed.runner();
    const owner = 'swap@example.com';
    await runner.waitFor(await bed.writer.startChat(owner, 'swap'), 30_000);
    await runner.waitFor((await post(owner, 'swap', 1, 'before the swap')).cursor, 30_000);
    const reported: AppliedMarks[] = [];
    const steps = inAppendSteps(allProjections, bed.marks);
    bed.store.projectInAppend({ steps: steps.steps, applied: (marks) => (reported.push(marks), steps.applied(marks)) });
    const client = new pg.Client({ connectionString: bed.database.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE chats, messages IN ACCESS EXCLUSIVE MODE');
      const blocked = post(owner, 'swap', 2, 'during the swap');
      // The post's statement waits for a table the swap holds.
      await waitUntil(
        async () =>
          (await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO events%' AND datname = current_database()`))
            .rows[0].n > 0,
      );
      await swapTables(client, { messagesWhere: 'true' });
      await client.query('COMMIT');
      const posted = await blocked;
      // Its step wrote the new table (PostgreSQL planned the statement again once the locks were its).
      const applied = reported
        .find((marks) => marks.has(posted.events[0]!.eventId))
        ?.get(posted.events[0]!.eventId)
        ?.get('messages');
      expect(applied).toBe(Number(await bed.pool.oneFirst(sql.unsafe`SELECT 'messages'::regclass::oid::int8 AS oid`)));
      await runner.waitFor(posted.cursor, 30_000);
      const rows = await bed.pool.any(sql.unsafe`SELECT position, content FROM messages WHERE owner = ${owner} ORDER BY position`);
      expect(rows).toEqual([
        { position: 1, content: 'before the swap' },
        { position: 2, content: 'during the swap' },
      ]);
      expect(await bed.pool.oneFirst(sql.unsafe`SELECT message_count FROM chats WHERE owner = ${owner}`)).toBe(2);
    } finally {
      bed.store.projectInAppend(steps);
      await client.end();
      await runner.stop();
    }
  });

  it('applies again an event a step wrote into a table a swap then replaced without it', async () => {
    const owner = 'replaced@example.com';
    const first = await bed.runner();
    await first.waitFor(await bed.writer.startChat(owner, 'replaced'), 30_000);
    await first.stop();
    // Applied by its append, not yet by the runner; then a swap puts in tables built without it.
    const posted = await post(owner, 'replaced', 1, 'written into the old table');
    expect(bed.marks.tableOf(posted.events[0]!.eventId, 'messages')).toBeTypeOf('number');
    const client = new pg.Client({ connectionString: bed.database.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE chats, messages IN ACCESS EXCLUSIVE MODE');
      await swapTables(client, { messagesWhere: `owner <> '${owner}'` });
      await client.query(`UPDATE chats SET version = 1, message_count = 0 WHERE owner = '${owner}'`);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const runner = await bed.runner();
    await runner.waitFor(posted.cursor, 30_000);
    expect(await bed.pool.any(sql.unsafe`SELECT position, content FROM messages WHERE owner = ${owner}`)).toEqual([{ position: 1, content: 'written into the old table' }]);
    expect(await bed.pool.oneFirst(sql.unsafe`SELECT message_count FROM chats WHERE owner = ${owner}`)).toBe(1);
    await runner.stop();
  });
});

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the condition did not hold within 10 s');
}
