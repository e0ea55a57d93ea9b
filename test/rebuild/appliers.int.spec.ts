/**
 * The rebuild appliers must leave the tables exactly as the read models' folds do, applied by
 * the live backend: on a log holding every case the domain writes and the odd ones it never does
 * (which the handlers still define), in batches of every size, with a row cache small enough to evict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messagesReadModel } from '../../projections/messages.ts';
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
import { writeOddCases } from '../projections/generated-logs.ts';
import { createLogBed, type LogBed, writeHistory } from '../replay/log-bed.ts';

let bed: LogBed;
let expected: Record<string, unknown[]>;

beforeAll(async () => {
  bed = await createLogBed();
  await writeHistory(bed.writer, { users: 4, chatsPerUser: 3, messagesPerChat: 5 });
  await writeOddCases(bed);
  await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 3, tag: 'late' });
  // The live tables, as the live backend leaves them: one event per transaction.
  const backend = new PostgresProjectionBackend(
    bed.pool,
    allProjections.map((projection) => ({ projection })),
  );
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

async function rebuildInto(schema: string, batchSize: number, make: (projection: AnyReadModel, tables: ReturnType<typeof tableNames>) => RebuildApplier, startEmpty = false): Promise<void> {
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
