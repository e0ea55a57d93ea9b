import { type CommonQueryMethods, sql } from 'slonik';
import {
  type AnyReadModel,
  ChangeSet,
  deleteStatements,
  foldEvents,
  groupColumn,
  keyOf,
  keyString,
  type Row,
  type RowSource,
  readsNothing,
  readsOf,
  selectByKeys,
  selectLasts,
  type TableChanges,
  type TableNames,
} from '../../projection-runner/index.ts';
import type { RebuildApplier, StagedWrites } from './applier.ts';
import { RowCache } from './row-cache.ts';
import { type RowWriter, rowWriter, toColumns } from './write-rows.ts';

export interface FoldApplierOptions {
  /** Rows remembered per table (read or written), beyond which committed ones are forgotten. */
  capacity?: number;
  /** Replaced rows kept back (each written once per many batches) until this many are waiting. */
  writeBehind?: number;
  /** The most rows kept back that one transaction writes: a longer one would hold the log's readers back. */
  flushRows?: number;
}

const always = sql.fragment`TRUE`;

/**
 * A rebuild of any read model by its own fold: for each batch it loads the rows the folds read that
 * it does not remember (one statement per table), folds the batch over them, and writes the changes
 * with one statement per table and kind. Replaced rows may be kept back for a few batches (a chat
 * takes an event every few thousand: its row is written once, not once per batch), then written in
 * parts of `flushRows`, each its own short transaction.
 *
 * Its caches hold what the tables hold once the staged writes commit; the changes not yet staged lie
 * on top (the fold's view). A row is forgotten only once the write that staged it has committed: the
 * next batch is staged while the previous one commits, and must not read a row that write changes.
 * Known limit: a fold that inserts-unless-present a row it did not read, and reads that key in a later
 * batch, could read the table before that insert commits; no read model does (messages reads nothing).
 */
export function foldApplier(model: AnyReadModel, tables: TableNames, options: FoldApplierOptions = {}): RebuildApplier {
  const capacity = options.capacity ?? 100_000;
  const writeBehind = options.writeBehind ?? 50_000;
  const flushRows = options.flushRows ?? 5_000;
  const names = Object.keys(model.tables);
  const rows = new Map(names.map((name) => [name, new RowCache<Row>(capacity)]));
  const lasts = new Map(names.map((name) => [name, new RowCache<Row>(capacity)]));
  /** Groups deleted by writes not yet committed, per table, with the generation that deletes them. */
  const deletedInFlight = new Map(names.map((name) => [name, new Map<string, number>()]));
  const writers = new Map<string, { replace: RowWriter; ignore: RowWriter }>();
  const writerOf = (name: string) => {
    let writer = writers.get(name);
    if (writer === undefined) {
      const spec = model.tables[name]!;
      const columns = Object.keys(spec.columns);
      writer = {
        replace: rowWriter(tables(name), { columns, key: spec.key, onConflict: 'replace' }),
        ignore: rowWriter(tables(name), { columns, key: spec.key, onConflict: 'ignore' }),
      };
      writers.set(name, writer);
    }
    return writer;
  };
  let pending = new ChangeSet(model);

  const base: RowSource = {
    get: (table, key) => rows.get(table)!.get(key),
    last: (table, group) => lasts.get(table)!.get(group),
  };

  /** Reads what the batch's folds read and the caches do not know. */
  // The rows a batch reads are pinned to its generation: a commit of the batch before it (running
  // while this one loads) trims the caches, and must not evict what this batch's fold is about to read.
  const pin = (cache: RowCache<Row>, id: string, generation: number): void => {
    const entry = cache.entry(id);
    if (entry !== undefined && generation > entry.generation) entry.generation = generation;
  };
  const load = async (db: CommonQueryMethods, items: Parameters<RebuildApplier['stage']>[1], generation: number): Promise<void> => {
    const reads = readsOf(model, items);
    if (readsNothing(reads)) return;
    for (const [name, keys] of reads.keys) {
      const cache = rows.get(name)!;
      const missing: (readonly unknown[])[] = [];
      for (const [id, key] of keys) if (cache.entry(id) === undefined) missing.push(key);
      for (const key of missing) cache.set(keyString(key), null);
      for (const id of keys.keys()) pin(cache, id, generation);
      if (missing.length === 0) continue;
      if (cache.complete) continue;
      const spec = model.tables[name]!;
      const inFlight = deletedInFlight.get(name)!;
      for (const found of await selectByKeys(db, spec, tables(name), missing)) {
        if (!inFlight.has(String(found[groupColumn(spec)]))) cache.set(keyString(keyOf(spec, found)), found);
      }
    }
    for (const [name, groups] of reads.lasts) {
      const cache = lasts.get(name)!;
      const missing: unknown[] = [];
      for (const [id, group] of groups) if (cache.entry(id) === undefined) missing.push(group);
      for (const group of missing) cache.set(String(group), null);
      for (const id of groups.keys()) pin(cache, id, generation);
      if (missing.length === 0) continue;
      if (cache.complete) continue;
      const spec = model.tables[name]!;
      const inFlight = deletedInFlight.get(name)!;
      for (const found of await selectLasts(db, spec, tables(name), missing)) {
        const group = String(found[groupColumn(spec)]);
        if (!inFlight.has(group)) cache.set(group, found);
      }
    }
  };

  /** The caches as the tables will be once `changes` are written by batch `generation`. */
  const remember = (name: string, changes: TableChanges, generation: number): void => {
    const cache = rows.get(name)!;
    const column = groupColumn(changes.spec);
    if (changes.deletedGroups.size > 0) {
      for (const entry of cache.values()) if (entry.row !== null && changes.deletedGroups.has(String(entry.row[column]))) cache.staged(entry, null as never, generation);
      for (const group of changes.deletedGroups.keys()) deletedInFlight.get(name)!.set(group, generation);
    }
    for (const [id, change] of changes.byKey) {
      const entry = cache.entry(id);
      if (change.op === 'ifAbsent') {
        if (entry !== undefined && entry.row === null) cache.staged(entry, change.row, generation);
      } else cache.staged(entry ?? cache.set(id, null), change.row as never, generation);
    }
    const lastCache = lasts.get(name)!;
    for (const [group, last] of changes.lasts) {
      const entry = lastCache.entry(group);
      // A fold that deletes the last row of a group it reads the last of: no read model does.
      if (last === 'unknown') throw new Error(`read model ${model.name} deleted the last row of a ${name} group it reads: the rebuild cannot follow`);
      lastCache.staged(entry ?? lastCache.set(group, null), last as never, generation);
    }
  };

  /** The writes of the pending changes: replacements of rows kept back in parts, the rest in the batch's transaction. */
  const take = (generation: number): { before: StagedWrites[]; write: StagedWrites } => {
    const changes = pending;
    pending = new ChangeSet(model);
    const before: StagedWrites[] = [];
    const now: StagedWrites[] = [];
    const keptBack = changes.onlyPuts();
    for (const [name, table] of changes.tables) {
      remember(name, table, generation);
      const columns = Object.keys(table.spec.columns);
      const writer = writerOf(name);
      for (const statement of deleteStatements(tables(name), table, always)) now.push((tx) => tx.query(sql.unsafe`${statement}`).then(() => undefined));
      const puts = table.rows('put').map((change) => change.row!);
      for (let start = 0; start < puts.length; start += keptBack ? flushRows : puts.length) {
        const part = toColumns(puts.slice(start, start + (keptBack ? flushRows : puts.length)), columns);
        (keptBack ? before : now).push((tx) => writer.replace(tx, part));
      }
      const fresh = toColumns(
        table.rows('ifAbsent').map((change) => change.row!),
        columns,
      );
      now.push((tx) => writer.ignore(tx, fresh));
    }
    return {
      before,
      write: async (tx) => {
        for (const write of now) await write(tx);
      },
    };
  };

  return {
    async stage(db, items, generation, flush) {
      await load(db, items, generation);
      foldEvents(model, base, items, pending);
      if (!flush && pending.onlyPuts() && pending.size < writeBehind) return { write: async () => {}, complete: pending.size === 0 };
      const { before, write } = take(generation);
      return { write, complete: true, before };
    },
    committed(generation) {
      for (const cache of rows.values()) cache.trim(generation);
      for (const cache of lasts.values()) cache.trim(generation);
      for (const inFlight of deletedInFlight.values()) for (const [group, at] of inFlight) if (at <= generation) inFlight.delete(group);
    },
    forget() {
      for (const cache of rows.values()) cache.clear();
      for (const cache of lasts.values()) cache.clear();
      for (const inFlight of deletedInFlight.values()) inFlight.clear();
      pending = new ChangeSet(model);
    },
    startEmpty() {
      for (const cache of rows.values()) cache.startEmpty();
      for (const cache of lasts.values()) cache.startEmpty();
    },
  };
}
