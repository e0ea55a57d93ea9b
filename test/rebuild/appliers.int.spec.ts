/**
 * The rebuild appliers must leave the tables exactly as the read models' folds do, applied by
 * the live backend: on a log holding every case the domain writes and the odd ones it never does
 * (which the handlers still define), in batches of every size, with a row cache small enough to evict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messagesReadModel } from '../../projections/messages.ts';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { profileStreamId } from '../../src/profiles/stream-id.ts';
import { PostgresProjectionBackend } from '../../src/projection-runner/postgres-backend.ts';
import type { AnyReadModel } from '../../src/projection-runner/read-model.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { tableNames } from '../../src/projection-runner/tables.ts';
import type { RebuildApplier } from '../../src/rebuild/appliers/applier.ts';
import { foldApplier } from '../../src/rebuild/appliers/fold-applier.ts';
import { messagesFromLog } from '../../src/rebuild/appliers/messages-fast-path.ts';
import { ddl } from '../../src/rebuild/ddl.ts';
import { projectLog } from '../../src/rebuild/projector.ts';
import { createTwin } from '../../src/rebuild/shadow-tables.ts';
import { describeLiveTable } from '../../src/rebuild/table-definition.ts';
import { createLogBed, writeHistory, type LogBed } from '../replay/log-bed.ts';

let bed: LogBed;
let expected: Record<string, unknown[]>;

async function writeOddCases(bed: LogBed): Promise<void> {
  const { writer } = bed;
  const owner = 'odd@example.com';
  // A chat started twice: the second start changes nothing.
  await writer.startChat(owner, 'twice', 'First title');
  await writer.startChat(owner, 'twice', 'Second title');
  // Events of a chat never started: no row anywhere.
  await writer.raw(chatStreamId(owner, 'ghost'), 'ChatRenamed', { chatId: 'ghost', title: 'Nobody' }, owner);
  await writer.raw(chatStreamId(owner, 'ghost'), 'ChatDeleted', { chatId: 'ghost' }, owner);
  // Two posts at the same position (a retry with a new event id): the first message stays.
  await writer.startChat(owner, 'dup');
  const dup = chatStreamId(owner, 'dup');
  const message = (position: number, content: string) => ({ chatId: 'dup', messageId: '0b7e7b1c-5e2f-4e55-9d0b-3f5a7f2b9c11', position, role: 'user', content });
  await writer.raw(dup, 'MessagePosted', message(1, 'original'), owner);
  await writer.raw(dup, 'MessagePosted', { ...message(1, 'retry'), messageId: 'a8d3c7c9-4b1e-4c2f-8a57-0d6b3e1f2a90' }, owner);
  // Posts after a deletion, then deleted again: each handler decides as it does.
  await writer.startChat(owner, 'gone');
  const gone = chatStreamId(owner, 'gone');
  await writer.post(owner, 'gone', 'before the end');
  await writer.deleteChat(owner, 'gone');
  await writer.raw(gone, 'MessagePosted', { ...message(9, 'after the end'), chatId: 'gone' }, owner);
  await writer.deleteChat(owner, 'gone');
  await writer.raw(gone, 'MessagePosted', { ...message(10, 'after the second end'), chatId: 'gone', messageId: 'c1f7f2aa-1111-4c2f-8a57-0d6b3e1f2a91' }, owner);
  // Data that does not match its schema, and a type nobody handles: skipped by every projection.
  await writer.raw(dup, 'MessagePosted', { chatId: 'dup', position: 'eleven' }, owner);
  await writer.raw(dup, 'ChatArchived', { chatId: 'dup' }, owner);
  // Text of every kind, and a trace summary with nesting.
  await writer.startChat(owner, 'text', 'Émojis 🎉 "quotes", commas');
  await writer.post(owner, 'text', 'a'.repeat(250) + '🎉'.repeat(5), { traceId: 'tr', traceSummary: { nested: { list: [1, 'two', null], 'key "q"': true } } });
  await writer.post(owner, 'text', 'x'.repeat(199) + '🎉');
  // Text the store keeps escaped (U+E000 is its escape mark), in the message and in its trace.
  await writer.post(owner, 'text', 'private use \ue000 in the content');
  await writer.post(owner, 'text', 'plain content', { traceId: 'tr\ue000', traceSummary: { note: 'x\ue000y' } });
  // A row stored escaped (a lone surrogate in a field no schema reads), with U+E000 in what is read.
  await writer.post(owner, 'text', 'private use \ue000 in an escaped row', { extra: 'lone \ud800' });
  // Profiles: deleted before they exist, re-created after a deletion, deleted twice.
  await writer.deleteProfile('early@example.com');
  await writer.updateProfile('early@example.com', { notes: 'after an early delete' });
  await writer.updateProfile(owner, { employerName: 'Acme', yearsEmployed: 2.5, annualIncome: 0.1 + 0.2, dateOfBirth: '1999-12-31' });
  await writer.updateProfile(owner, { financialGoals: [], numberOfDependents: 3 });
  await writer.deleteProfile(owner);
  await writer.deleteProfile(owner);
  await writer.updateProfile(owner, { jobTitle: 'Back again' });
  await writer.raw(profileStreamId(owner), 'ProfileUpdated', { userEmail: owner, changes: { unknownField: 1 } }, owner);
}

beforeAll(async () => {
  bed = await createLogBed();
  await writeHistory(bed.writer, { users: 4, chatsPerUser: 3, messagesPerChat: 5 });
  await writeOddCases(bed);
  await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 3, tag: 'late' });
  // The live tables, as the live backend leaves them: one event per transaction.
  const backend = new PostgresProjectionBackend(bed.pool, allProjections.map((projection) => ({ projection })));
  await backend.start();
  const { events } = await bed.store.readAll({ limit: 10_000 });
  // An event a read model cannot take is parked for it, as the live runner does (the rebuild skips it).
  for (const event of events) {
    await backend.applyBatch([event]).catch(async (error: unknown) => {
      if (!backend.isPermanent(error)) throw error;
      await backend.park(event);
    });
  }
  expected = await bed.tables();
}, 120_000);

afterAll(async () => {
  await bed?.close();
});

/** Each read model's rebuild: its declared fast path (messages), else its fold. */
const applierOf = (projection: AnyReadModel, tables: ReturnType<typeof tableNames>, capacity: number, writeBehind: number): RebuildApplier =>
  projection === messagesReadModel ? messagesFromLog(tables, capacity) : foldApplier(projection, tables, { capacity, writeBehind, flushRows: 2 });

async function rebuildInto(
  schema: string,
  batchSize: number,
  make: (projection: AnyReadModel, tables: ReturnType<typeof tableNames>) => RebuildApplier,
  startEmpty = false,
): Promise<void> {
  await bed.pool.query(ddl(`CREATE SCHEMA ${schema}`));
  const tables = tableNames({ schema, suffix: '' });
  for (const projection of allProjections) {
    for (const name of Object.keys(projection.tables)) await createTwin(bed.pool, await describeLiveTable(bed.pool, name), { schema, suffix: '' });
  }
  const targets = allProjections.map((projection) => ({ projection, applier: make(projection, tables), cursor: null, position: null }));
  if (startEmpty) for (const target of targets) target.applier.startEmpty();
  await projectLog({ store: bed.store, pool: bed.pool, batchSize, targets });
}

describe('rebuild appliers', () => {
  it('hold a log with every case the projections handle', () => {
    expect(expected.chats!.length).toBeGreaterThan(10);
    expect(expected.messages!.length).toBeGreaterThan(50);
    expect(expected.profiles!.length).toBeGreaterThan(5);
    expect(expected.profile_history!.length).toBeGreaterThan(10);
    // The first of two posts at one position stayed; posts after a deletion are there.
    expect(expected.messages).toContainEqual(expect.objectContaining({ chat_id: 'dup', position: 1, content: 'original' }));
    expect(expected.messages).toContainEqual(expect.objectContaining({ chat_id: 'gone', position: 10 }));
  });

  for (const [batchSize, capacity, writeBehind] of [
    [1, 100_000, 50_000],
    [4, 2, 3],
    [7, 100_000, 1],
    [1_000, 1, 50_000],
  ] as const) {
    it(`leave every table as the projections' handlers do, in batches of ${batchSize} remembering ${capacity} rows and writing ${writeBehind} behind`, async () => {
      const schema = `appliers_${batchSize}_${capacity}_${writeBehind}`;
      await rebuildInto(schema, batchSize, (projection, tables) => applierOf(projection, tables, capacity, writeBehind));
      expect(await bed.tables(schema)).toEqual(expected);
    });

    it(`leave every table as the projections' handlers do when told the tables start empty, in batches of ${batchSize} remembering ${capacity} rows`, async () => {
      const schema = `appliers_empty_${batchSize}_${capacity}_${writeBehind}`;
      await rebuildInto(schema, batchSize, (projection, tables) => applierOf(projection, tables, capacity, writeBehind), true);
      expect(await bed.tables(schema)).toEqual(expected);
    });
  }

  it('rebuild every read model by its fold alone (no fast path), with the same result', async () => {
    await rebuildInto('appliers_handlers', 5, (projection, tables) => foldApplier(projection, tables, { capacity: 3, writeBehind: 4 }));
    expect(await bed.tables('appliers_handlers')).toEqual(expected);
  });
});
