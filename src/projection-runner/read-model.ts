import type { CommonQueryMethods, FragmentSqlToken, IdentifierSqlToken } from 'slonik';
import type { DomainEvent } from '../commands/index.ts';
import type { RecordedEvent } from '../event-store/index.ts';
import type { MemoryTables } from './memory-tables.ts';
import type { TableNames } from './tables.ts';

/** A row as a read model's fold sees it: column name to a JSON value (timestamps as ISO 8601 text). */
export type Row = Record<string, unknown>;

/**
 * A column's SQL type: how rows travel to PostgreSQL (cast from JSON) and back (read as the same
 * JSON value the fold wrote: timestamps as ISO 8601 text, dates as text, numeric and bigint as numbers).
 */
export type ColumnType = 'text' | 'uuid' | 'integer' | 'bigint' | 'numeric' | 'double precision' | 'boolean' | 'timestamptz' | 'date' | 'jsonb';

/** One table of a read model, as its migration creates it. */
export interface TableSpec {
  /** Every column the read model writes, with its type. */
  readonly columns: Readonly<Record<string, ColumnType>>;
  /** The primary key's columns. */
  readonly key: readonly string[];
  /**
   * The column rows are grouped by (the first key column, or one the queries select on): what
   * `last` and `deleteGroup` name, and what the in-memory table indexes.
   */
  readonly group?: string;
  /** Rows are replaced as events come (not only inserted): a rebuild leaves room in their pages for cheap updates. */
  readonly updatedInPlace?: boolean;
}

/**
 * What a fold reads and changes: the read model's rows, as they stand after every event before this
 * one. Rows handed out are shared: a fold builds a new row (`{ ...row, title }`) instead of changing one.
 */
export interface FoldRows {
  /** The row with this key (its key columns' values, in order); null when there is none. */
  get(table: string, ...key: unknown[]): Row | null;
  /** The row with the highest key among those of a group; null when the group has none. */
  last(table: string, group: unknown): Row | null;
  /** Writes the row, replacing the one with its key. */
  put(table: string, row: Row): void;
  /** Writes the row unless one with its key exists (needs no read: INSERT ... ON CONFLICT DO NOTHING). */
  insertIfAbsent(table: string, row: Row): void;
  delete(table: string, ...key: unknown[]): void;
  /** Deletes every row of the group (needs no read). */
  deleteGroup(table: string, group: unknown): void;
}

/** A row (by key) or the last row of a group that folding an event reads: loaded before the fold. */
export type ReadRequest = { table: string; key: readonly unknown[] } | { table: string; lastOf: unknown };

export const row = (table: string, ...key: unknown[]): ReadRequest => ({ table, key });
export const lastOf = (table: string, group: unknown): ReadRequest => ({ table, lastOf: group });

type EventOf<E extends DomainEvent, T extends E['type']> = Extract<E, { type: T }>;

/** One decoded event with the stored event it came from. */
export interface Decoded<Data> {
  data: Data;
  event: RecordedEvent;
}

export type FoldHandlers<E extends DomainEvent> = {
  [T in E['type']]?: (rows: FoldRows, data: EventOf<E, T>['data'], event: RecordedEvent) => void;
};

/**
 * A live fast path for a run of consecutive events of one type: ONE data-modifying statement (no
 * RETURNING) that leaves the tables as the fold would, without reading them first. It writes nothing
 * unless `guard` holds. The contract suite (test/projections/contract.int.spec.ts) checks it against the fold.
 */
export type LiveFastPaths<E extends DomainEvent> = {
  [T in E['type']]?: (tables: TableNames, items: readonly Decoded<EventOf<E, T>['data']>[], guard: FragmentSqlToken) => FragmentSqlToken;
};

/** A new event an append step is given: its data as the read model parses it, and what its writer knows. */
export interface NewlyAppended<Data> {
  data: Data;
  eventId: string;
  streamId: string;
  owner: string | null;
}

/**
 * Steps the PostgreSQL append runs in its own statement, per event type: ONE data-modifying
 * statement that leaves the tables as the fold would, for those of `items` whose rows before them
 * are already applied (a chat's previous version, the message before), reading the database's part
 * of each event (version, position, recorded_at, cursor) from `appended` (src/event-store/postgres/
 * append-steps.ts), and RETURNING `cursor` and `tableoid` of every event it applied. The runner skips
 * what a step applied and applies the rest. The contract suite checks them against the fold.
 */
export type InAppendSteps<E extends DomainEvent> = {
  [T in E['type']]?: (tables: TableNames, items: readonly NewlyAppended<EventOf<E, T>['data']>[], appended: IdentifierSqlToken) => FragmentSqlToken;
};

/**
 * A read model: its tables, the events it handles, ONE fold per event type, and its queries. The
 * in-memory backend, the live PostgreSQL runner and the rebuild all apply the same fold; only how rows
 * are read and written differs. Folds are pure (their rows in, row changes out) and idempotent:
 * applying an event again changes nothing (versions and keys guard it), though checkpoints already
 * prevent it. Adding one is one file in projections/ plus its migration (docs/architecture.md).
 * New concerns extend it with optional fields (a declaration of how to erase one user's rows, say),
 * read by the backends from the same value.
 */
export interface ReadModel<E extends DomainEvent = DomainEvent, Queries = unknown> {
  readonly name: string;
  /** Reads a stored event as one this read model understands; null for any other type. */
  parse(event: RecordedEvent): E | null;
  /** Its tables by logical name; the migration named here creates the live ones. */
  readonly tables: Readonly<Record<string, TableSpec>>;
  readonly migration: string;
  /** The rows folding an event reads (none when the fold only writes). */
  reads?(type: E['type'], data: E['data'], event: RecordedEvent): readonly ReadRequest[];
  readonly fold: FoldHandlers<E>;
  /** Optional: statements for runs of hot event types that need no read (live runner only). */
  readonly live?: LiveFastPaths<E>;
  /** Optional: applied by the PostgreSQL append itself, in its statement (the write need not wait for the runner). */
  readonly inAppend?: InAppendSteps<E>;
  /** Optional: a faster rebuild than the generic fold (the contract suite checks it gives the same rows). */
  readonly rebuild?: RebuildFastPath;
  readonly queries: {
    memory(tables: MemoryTables): Queries;
    postgres(db: CommonQueryMethods, tables: TableNames): Queries;
  };
}

/** A factory of a rebuild applier (src/rebuild/appliers/applier.ts), typed loosely to keep the rooms apart. */
export type RebuildFastPath = (tables: TableNames) => unknown;

// The runner handles read models of different event and query types side by side.
// biome-ignore lint/suspicious/noExplicitAny: a list of read models of any event and query types
export type AnyReadModel = ReadModel<any, any>;

/** The event types a read model handles. */
export function handledTypes(model: AnyReadModel): string[] {
  return Object.keys(model.fold);
}

export function handles(model: AnyReadModel, type: string): boolean {
  return Object.hasOwn(model.fold, type);
}

/** A key as one string: the value itself for a one-column key (the common case), else JSON. */
export function keyString(values: readonly unknown[]): string {
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}

export function keyOf(spec: TableSpec, row: Row): unknown[] {
  return spec.key.map((column) => row[column]);
}

export function groupColumn(spec: TableSpec): string {
  return spec.group ?? spec.key[0]!;
}

/** Orders keys of one group: compares the columns after the group column. */
export function compareKeys(a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}
