/**
 * The read models' contract: EVERY read model of the one list (projections/index.ts; a new one is
 * covered without a line here) holds the same rows for the same log, however it is applied:
 * - in memory (the memory backend; and every event folded twice over, with no checkpoint),
 * - by the live PostgreSQL runner's backend, with its declared fast paths and with its fold alone,
 *   in batches of one event (the one-statement path), a few, and many (the transaction path),
 * - by the PostgreSQL rebuild, with its declared fast path and with its fold alone, with caches small
 *   enough to forget rows and write-behind small enough to flush in parts.
 * The log: a seeded random history of every event the domain writes, and the odd cases it never
 * writes (starts twice, events of chats never started, two posts at one position, posts after a
 * deletion, data that fails its schema, unknown types, escaped text, profiles deleted before they exist).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/event-store/index.ts';
import type { ProjectionBackend } from '../../src/projection-runner/backend.ts';
import { decodeFor } from '../../src/projection-runner/decode.ts';
import { foldEvents } from '../../src/projection-runner/fold.ts';
import { MemoryProjectionBackend } from '../../src/projection-runner/memory-backend.ts';
import { MemoryStore } from '../../src/projection-runner/memory-tables.ts';
import { PostgresProjectionBackend } from '../../src/projection-runner/postgres-backend.ts';
import { type AnyReadModel, compareKeys, handledTypes, keyOf, type Row } from '../../src/projection-runner/read-model.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { selectAll } from '../../src/projection-runner/sql-rows.ts';
import { type TableLocation, tableNames } from '../../src/projection-runner/tables.ts';
import { createTablesLike } from '../../src/projection-runner/tables-like.ts';
import { applierFor, foldApplier } from '../../src/rebuild/appliers/index.ts';
import { projectLog } from '../../src/rebuild/projector.ts';
import { createLogBed, type LogBed } from '../replay/log-bed.ts';
import { writeOddCases, writeRandomHistory } from './generated-logs.ts';

/** Rows of every table, by table name, in key order. */
type Tables = Record<string, Row[]>;

/** The read model without its fast paths: only its fold. */
const foldOnly = (model: AnyReadModel): AnyReadModel => ({ ...model, live: undefined, rebuild: undefined });

const byKey = (model: AnyReadModel, table: string) => (a: Row, b: Row) => compareKeys(keyOf(model.tables[table]!, a), keyOf(model.tables[table]!, b));

let bed: LogBed;
let events: RecordedEvent[];
const results = new Map<string, Tables>();

/** Applies the log in batches of `size`; a batch a read model cannot take is halved until the event is alone, then parked (as the runner does). */
async function feed(backend: ProjectionBackend, size: number): Promise<void> {
  await backend.start();
  const apply = async (batch: RecordedEvent[]): Promise<void> => {
    try {
      await backend.applyBatch(batch);
    } catch (error) {
      if (!backend.isPermanent(error)) throw error;
      if (batch.length === 1) {
        await backend.park(batch[0]!);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await apply(batch.slice(0, half));
      await apply(batch.slice(half));
    }
  };
  for (let start = 0; start < events.length; start += size) await apply(events.slice(start, start + size));
}

async function readSchema(schema: string): Promise<Tables> {
  const tables = tableNames({ schema, suffix: '' });
  const found: Tables = {};
  for (const model of allProjections) {
    for (const [name, spec] of Object.entries(model.tables)) found[name] = await selectAll(bed.pool, spec, tables(name));
  }
  return found;
}

async function inMemory(size: number): Promise<Tables> {
  const backend = new MemoryProjectionBackend(allProjections);
  await feed(backend, size);
  const found: Tables = {};
  for (const model of allProjections) {
    for (const name of Object.keys(model.tables)) found[name] = backend.tables(model).all(name).sort(byKey(model, name));
  }
  return JSON.parse(JSON.stringify(found)) as Tables;
}

/** Every event folded twice over (the whole log, then again), with no checkpoint to skip the second pass: folds are idempotent. */
function inMemoryTwice(): Tables {
  const found: Tables = {};
  for (const model of allProjections) {
    const store = new MemoryStore(model);
    for (let pass = 0; pass < 2; pass++) {
      for (const event of events) {
        const decoded = decodeFor(model, event, undefined);
        if (decoded !== null) store.apply(foldEvents(model, store, [{ type: decoded.type, data: decoded.data, event }]));
      }
    }
    for (const name of Object.keys(model.tables)) found[name] = store.all(name).sort(byKey(model, name));
  }
  return JSON.parse(JSON.stringify(found)) as Tables;
}

async function live(schema: string, size: number, fast: boolean): Promise<Tables> {
  const location: TableLocation = { schema, suffix: '' };
  await createTablesLike(bed.pool, allProjections, location);
  const bindings = allProjections.map((model) => ({ projection: fast ? model : foldOnly(model), tables: location }));
  await feed(new PostgresProjectionBackend(bed.pool, bindings, { checkpoints: location }), size);
  return readSchema(schema);
}

async function rebuilt(schema: string, batchSize: number, fast: boolean): Promise<Tables> {
  const location: TableLocation = { schema, suffix: '' };
  await createTablesLike(bed.pool, allProjections, location);
  const tables = tableNames(location);
  const targets = allProjections.map((model) => {
    const applier = fast ? applierFor(model, tables) : foldApplier(model, tables, { capacity: 3, writeBehind: 5, flushRows: 2 });
    applier.startEmpty();
    return { projection: model, applier, cursor: null, position: null };
  });
  await projectLog({ store: bed.store, pool: bed.pool, batchSize, targets });
  return readSchema(schema);
}

const ways: [string, () => Promise<Tables>][] = [
  ['memory, batches of 7', () => inMemory(7)],
  ['memory, one event at a time', () => inMemory(1)],
  ['memory, every event folded twice', async () => inMemoryTwice()],
  ['live PostgreSQL with fast paths, one event at a time', () => live('live_fast_1', 1, true)],
  ['live PostgreSQL with fast paths, batches of 7', () => live('live_fast_7', 7, true)],
  ['live PostgreSQL with fast paths, batches of 500', () => live('live_fast_500', 500, true)],
  ['live PostgreSQL by the fold alone, one event at a time', () => live('live_fold_1', 1, false)],
  ['live PostgreSQL by the fold alone, batches of 500', () => live('live_fold_500', 500, false)],
  ['rebuild with fast paths, batches of 3', () => rebuilt('rebuild_fast_3', 3, true)],
  ['rebuild with fast paths, batches of 1,000', () => rebuilt('rebuild_fast_1000', 1_000, true)],
  ['rebuild by the fold alone (small caches), batches of 4', () => rebuilt('rebuild_fold_4', 4, false)],
  ['rebuild by the fold alone (small caches), batches of 1,000', () => rebuilt('rebuild_fold_1000', 1_000, false)],
];

beforeAll(async () => {
  bed = await createLogBed();
  await writeRandomHistory(bed.writer, 14, 160);
  await writeOddCases(bed);
  await writeRandomHistory(bed.writer, 15, 80);
  await bed.readable();
  events = (await bed.store.readAll({ limit: 10_000 })).events;
  results.set('memory, one batch', await inMemory(10_000));
  for (const [name, run] of ways) {
    const began = performance.now();
    results.set(name, await run());
    if (process.env.CONTRACT_TIMES) console.log(name, Math.round(performance.now() - began), 'ms');
  }
}, 900_000);

afterAll(async () => {
  await bed?.close();
});

describe.each(allProjections.map((model) => [model.name, model] as const))('read model %s', (_name, model) => {
  it('meets every event type it handles, and fills every table, in the log', () => {
    const types = new Set(events.map((event) => event.type));
    for (const type of handledTypes(model)) expect(types).toContain(type);
    for (const table of Object.keys(model.tables)) expect(results.get('memory, one batch')![table]!.length).toBeGreaterThan(3);
  });

  it.each(ways.map(([way]) => [way]))('holds the same rows %s as in memory in one batch', (way) => {
    const expected = results.get('memory, one batch')!;
    const found = results.get(way)!;
    for (const table of Object.keys(model.tables)) expect({ table, rows: found[table] }).toEqual({ table, rows: expected[table] });
  });
});
