import type { RecordedEvent } from '../event-store/index.ts';
import { type AnyReadModel, compareKeys, type FoldRows, groupColumn, keyOf, keyString, type ReadRequest, type Row, type TableSpec } from './read-model.ts';
import { handlerFailure } from './unappliable.ts';

/**
 * The rows a fold starts from: the memory tables, the rows a batch loaded from PostgreSQL, or the
 * rebuild's cache. `undefined` means "not known here": a fold that reads it declared no read for it.
 */
export interface RowSource {
  get(table: string, key: string): Row | null | undefined;
  last(table: string, group: string): Row | null | undefined;
}

export type Change = { op: 'put' | 'ifAbsent'; key: unknown[]; row: Row } | { op: 'delete'; key: unknown[]; row: null };

/** What a run of folds changed in one table, reduced to at most one change per key. */
export class TableChanges {
  /** Groups deleted whole (by group value as text), with their values. Applied before `byKey`. */
  readonly deletedGroups = new Map<string, unknown>();
  readonly byKey = new Map<string, Change>();
  /** The last row of each group as the folds left it; 'unknown' once a deletion hid it. */
  readonly lasts = new Map<string, Row | null | 'unknown'>();

  constructor(readonly spec: TableSpec) {}

  get size(): number {
    return this.deletedGroups.size + this.byKey.size;
  }

  /** The changes of one kind, in the order they were made. */
  rows(op: Change['op']): Change[] {
    const found: Change[] = [];
    for (const change of this.byKey.values()) if (change.op === op) found.push(change);
    return found;
  }
}

/** Every change of a run of folds, per table: written as one statement per table and kind. */
export class ChangeSet {
  readonly tables = new Map<string, TableChanges>();

  constructor(readonly model: AnyReadModel) {}

  table(name: string): TableChanges {
    let changes = this.tables.get(name);
    if (changes === undefined) {
      const spec = this.model.tables[name];
      if (spec === undefined) throw new Error(`read model ${this.model.name} changes table ${name}, which it does not declare`);
      this.tables.set(name, (changes = new TableChanges(spec)));
    }
    return changes;
  }

  get size(): number {
    let size = 0;
    for (const changes of this.tables.values()) size += changes.size;
    return size;
  }

  /** True when every change replaces a row (what a rebuild may keep back for a few batches). */
  onlyPuts(): boolean {
    for (const changes of this.tables.values()) {
      if (changes.deletedGroups.size > 0) return false;
      for (const change of changes.byKey.values()) if (change.op !== 'put') return false;
    }
    return true;
  }
}

class NotRead extends Error {}

/**
 * The rows a fold sees: `base` with the changes of the events folded before it on top. Every change
 * goes into `changes`; nothing reaches `base` until the caller writes the change set.
 */
export class FoldView implements FoldRows {
  constructor(
    private readonly model: AnyReadModel,
    private readonly base: RowSource,
    readonly changes: ChangeSet,
  ) {}

  get(table: string, ...key: unknown[]): Row | null {
    const changes = this.changes.table(table);
    const id = keyString(key);
    const change = changes.byKey.get(id);
    if (change !== undefined && change.op !== 'ifAbsent') return change.row;
    const column = groupColumn(changes.spec);
    const groupAt = changes.spec.key.indexOf(column);
    if (groupAt >= 0 && changes.deletedGroups.has(String(key[groupAt]))) return change?.row ?? null;
    const stored = this.base.get(table, id);
    if (stored === undefined) throw new NotRead(`read model ${this.model.name} read ${table} ${id} without declaring it in reads()`);
    if (stored !== null && changes.deletedGroups.has(String(stored[column]))) return change?.row ?? null;
    return stored ?? change?.row ?? null;
  }

  last(table: string, group: unknown): Row | null {
    const changes = this.changes.table(table);
    const id = String(group);
    const known = changes.lasts.get(id) ?? (changes.deletedGroups.has(id) ? null : this.base.last(table, id));
    if (known === undefined || known === 'unknown') throw new NotRead(`read model ${this.model.name} read the last of ${table} ${id} without declaring it in reads()`);
    return known;
  }

  put(table: string, row: Row): void {
    const changes = this.changes.table(table);
    const key = keyOf(changes.spec, row);
    changes.byKey.set(keyString(key), { op: 'put', key, row });
    this.moveLast(changes, table, key, row, true);
  }

  insertIfAbsent(table: string, row: Row): void {
    const changes = this.changes.table(table);
    const key = keyOf(changes.spec, row);
    const id = keyString(key);
    const change = changes.byKey.get(id);
    if (change !== undefined && change.op !== 'delete') return;
    changes.byKey.set(id, { op: change === undefined ? 'ifAbsent' : 'put', key, row });
    this.moveLast(changes, table, key, row, false);
  }

  delete(table: string, ...key: unknown[]): void {
    const changes = this.changes.table(table);
    changes.byKey.set(keyString(key), { op: 'delete', key, row: null });
    const group = String(key[changes.spec.key.indexOf(groupColumn(changes.spec))]);
    const last = changes.lasts.get(group) ?? this.base.last(table, group);
    if (last !== null && last !== undefined && (last === 'unknown' || compareKeys(keyOf(changes.spec, last), key) === 0)) changes.lasts.set(group, 'unknown');
  }

  deleteGroup(table: string, group: unknown): void {
    const changes = this.changes.table(table);
    const id = String(group);
    const column = groupColumn(changes.spec);
    for (const [key, change] of changes.byKey) {
      if (change.row !== null && String(change.row[column]) === id) changes.byKey.delete(key);
      else if (change.row === null && String(change.key[changes.spec.key.indexOf(column)]) === id) changes.byKey.delete(key);
    }
    changes.deletedGroups.set(id, group);
    changes.lasts.set(id, null);
  }

  /** Keeps the group's last row current, where it is known (read by this batch, or set by it). */
  private moveLast(changes: TableChanges, table: string, key: unknown[], row: Row, replaces: boolean): void {
    const group = String(row[groupColumn(changes.spec)]);
    const last = changes.lasts.get(group) ?? (changes.deletedGroups.has(group) ? null : this.base.last(table, group));
    if (last === undefined || last === 'unknown') return;
    const order = last === null ? 1 : compareKeys(key, keyOf(changes.spec, last));
    if (order > 0 || (order === 0 && replaces)) changes.lasts.set(group, row);
  }
}

/** A decoded event as the fold takes it. */
export interface FoldItem {
  type: string;
  data: unknown;
  event: RecordedEvent;
}

type Fold = (rows: FoldRows, data: unknown, event: RecordedEvent) => void;

/**
 * Folds events, in log order, over `base` into one change set. What the read model's own code throws
 * is its failure (UnappliableEventError: the runner parks the event for it); reading a row it did not
 * declare is a bug in the read model, thrown as it is.
 */
export function foldEvents(model: AnyReadModel, base: RowSource, items: readonly FoldItem[], into: ChangeSet = new ChangeSet(model)): ChangeSet {
  const view = new FoldView(model, base, into);
  const folds = model.fold as Record<string, Fold | undefined>;
  for (const { type, data, event } of items) {
    try {
      folds[type]?.(view, data, event);
    } catch (error) {
      if (error instanceof NotRead) throw error;
      throw handlerFailure(model.name, error);
    }
  }
  return into;
}

/** What the folds of `items` read, per table: keys, and groups whose last row they read. */
export interface ReadSet {
  keys: Map<string, Map<string, readonly unknown[]>>;
  lasts: Map<string, Map<string, unknown>>;
}

export function readsOf(model: AnyReadModel, items: readonly FoldItem[]): ReadSet {
  const reads: ReadSet = { keys: new Map(), lasts: new Map() };
  if (model.reads === undefined) return reads;
  for (const { type, data, event } of items) {
    let requests: readonly ReadRequest[];
    try {
      requests = model.reads(type, data, event);
    } catch (error) {
      throw handlerFailure(model.name, error);
    }
    for (const request of requests) {
      if ('key' in request) {
        let keys = reads.keys.get(request.table);
        if (keys === undefined) reads.keys.set(request.table, (keys = new Map()));
        keys.set(keyString(request.key), request.key);
      } else {
        let groups = reads.lasts.get(request.table);
        if (groups === undefined) reads.lasts.set(request.table, (groups = new Map()));
        groups.set(String(request.lastOf), request.lastOf);
      }
    }
  }
  return reads;
}

export function readsNothing(reads: ReadSet): boolean {
  return reads.keys.size === 0 && reads.lasts.size === 0;
}
