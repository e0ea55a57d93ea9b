/**
 * A rebuild from a log holding tombstones brings no erased event back, even through a read model whose
 * `parse` accepts any data (a tombstone's `{erased, erasureId}` included): the rule that a read model
 * never takes a tombstone is the runner's and the rebuild's, not each read model's (docs/privacy.md,
 * "What every reader sees"). On the PostgreSQL rebuild (fold and fast-path appliers) and in memory.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventStore, isTombstone, MemoryEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { MemoryProjectionBackend } from '../../src/projection-runner/memory-backend.ts';
import type { ReadModel, Row } from '../../src/projection-runner/read-model.ts';
import { selectAll } from '../../src/projection-runner/sql-rows.ts';
import { type TableLocation, tableNames } from '../../src/projection-runner/tables.ts';
import { createTablesLike } from '../../src/projection-runner/tables-like.ts';
import { applierFor, foldApplier } from '../../src/rebuild/appliers/index.ts';
import { projectLog } from '../../src/rebuild/projector.ts';
import { createLogBed, type LogBed } from '../replay/log-bed.ts';

type Noted = { type: 'Noted'; data: Record<string, unknown> };

/** Takes every `Noted` event whatever its data holds: one row per event, its data as stored. */
const credulous: ReadModel<Noted, unknown> = {
  name: 'credulous',
  parse: (event) => (event.type === 'Noted' ? { type: 'Noted', data: event.data as Record<string, unknown> } : null),
  tables: { seen: { columns: { position: 'bigint', data: 'jsonb' }, key: ['position'] } },
  migration: 'none',
  fold: {
    Noted(rows, data, event) {
      rows.put('seen', { position: event.position, data });
    },
  },
  queries: { memory: () => ({}), postgres: () => ({}) },
};

/** Three streams of notes, then the middle one erased: its events become tombstones in place. */
async function writeAndErase(store: EventStore): Promise<RecordedEvent[]> {
  const streams = ['notes-a', 'notes-b', 'notes-c'];
  for (let round = 0; round < 3; round++) {
    for (const streamId of streams) {
      await store.append(streamId, [{ type: 'Noted', data: { text: `${streamId} secret ${round}` } }], { expectedVersion: 'any', owner: `${streamId}@example.com` });
    }
  }
  const erased = await store.erase!({ streamIds: ['notes-b'] }, { erasureId: randomUUID(), streamKey: randomUUID() });
  expect(erased.events).toBe(3);
  const events: RecordedEvent[] = [];
  for (let after: string | null = null; ; ) {
    const page = await store.readAll({ after, limit: 1_000 });
    events.push(...page.events);
    if (page.events.length === 0 || page.cursor === after) break;
    after = page.cursor;
  }
  expect(events.filter((event) => isTombstone(event.data)).length).toBe(3);
  return events;
}

/** What the read model should hold: a row for each note not erased, none for a tombstone. */
function expectOnlyTheLiving(rows: readonly Row[], events: readonly RecordedEvent[]): void {
  const living = events.filter((event) => !isTombstone(event.data));
  expect(rows.map((row) => Number(row.position)).sort((a, b) => a - b)).toEqual(living.map((event) => event.position).sort((a, b) => a - b));
  expect(JSON.stringify(rows)).not.toContain('erased');
  expect(JSON.stringify(rows)).not.toContain('notes-b');
}

describe('a rebuild never brings an erased event back, whatever the read model parses', () => {
  let bed: LogBed;
  let events: RecordedEvent[];
  beforeAll(async () => {
    bed = await createLogBed(4);
    // The read model's live table, as its migration would make it (the rebuild's tables are made like it).
    await bed.pool.query(sql.unsafe`CREATE TABLE seen (position bigint PRIMARY KEY, data jsonb NOT NULL)`);
    events = await writeAndErase(bed.store);
  }, 120_000);
  afterAll(async () => {
    await bed?.close();
  });

  it.each([
    ['the fold applier', 'rebuild_fold', false],
    ['the fast-path applier', 'rebuild_fast', true],
  ] as const)('PostgreSQL rebuild, %s: a row for each living event, none for a tombstone', async (_way, schema, fast) => {
    const location: TableLocation = { schema, suffix: '' };
    await createTablesLike(bed.pool, [credulous], location);
    const tables = tableNames(location);
    const applier = fast ? applierFor(credulous, tables) : foldApplier(credulous, tables, { capacity: 2, writeBehind: 2, flushRows: 1 });
    applier.startEmpty();
    await projectLog({ store: bed.store, pool: bed.pool, batchSize: 2, targets: [{ projection: credulous, applier, cursor: null, position: null }] });
    expectOnlyTheLiving(await selectAll(bed.pool, credulous.tables.seen!, tables('seen')), events);
  });

  it("in memory (the memory runner's backend, whole log and one event at a time): a row for each living event, none for a tombstone", async () => {
    const store = new MemoryEventStore({ pollIntervalMs: 50 });
    try {
      const memoryEvents = await writeAndErase(store);
      for (const size of [memoryEvents.length, 1]) {
        const backend = new MemoryProjectionBackend([credulous]);
        await backend.start();
        for (let start = 0; start < memoryEvents.length; start += size) await backend.applyBatch(memoryEvents.slice(start, start + size));
        expectOnlyTheLiving(backend.tables(credulous).all('seen'), memoryEvents);
      }
    } finally {
      await store.close();
    }
  });
});
