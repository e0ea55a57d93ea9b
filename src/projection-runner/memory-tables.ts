import type { ChangeSet, RowSource } from './fold.ts';
import { type AnyReadModel, compareKeys, groupColumn, keyOf, keyString, type Row, type TableSpec } from './read-model.ts';

/** One table in memory: rows by key, and by group for the queries and for `last`. */
class MemoryTable {
  readonly rows = new Map<string, Row>();
  readonly groups = new Map<string, Map<string, Row>>();
  private readonly column: string;

  constructor(readonly spec: TableSpec) {
    this.column = groupColumn(spec);
  }

  put(row: Row): void {
    const id = keyString(keyOf(this.spec, row));
    const previous = this.rows.get(id);
    if (previous !== undefined) this.groups.get(String(previous[this.column]))?.delete(id);
    this.rows.set(id, row);
    const group = String(row[this.column]);
    let members = this.groups.get(group);
    if (members === undefined) this.groups.set(group, (members = new Map()));
    members.set(id, row);
  }

  delete(id: string): void {
    const previous = this.rows.get(id);
    if (previous === undefined) return;
    this.rows.delete(id);
    const group = String(previous[this.column]);
    const members = this.groups.get(group);
    members?.delete(id);
    if (members?.size === 0) this.groups.delete(group);
  }

  deleteGroup(group: string): void {
    for (const id of this.groups.get(group)?.keys() ?? []) this.rows.delete(id);
    this.groups.delete(group);
  }

  last(group: string): Row | null {
    let last: Row | null = null;
    for (const row of this.groups.get(group)?.values() ?? []) {
      if (last === null || compareKeys(keyOf(this.spec, row), keyOf(this.spec, last)) > 0) last = row;
    }
    return last;
  }
}

/** What a read model's in-memory queries read: its rows, by key or by group. Rows are shared: copy before handing out. */
export interface MemoryTables {
  get(table: string, ...key: unknown[]): Row | null;
  /** The rows of a group (the table's `group` column equal to `group`), in no particular order. */
  group(table: string, group: unknown): Row[];
  /** Every row of the table (for the contract suite). */
  all(table: string): Row[];
}

/** A read model's tables in this process's memory. */
export class MemoryStore implements MemoryTables, RowSource {
  private readonly tables = new Map<string, MemoryTable>();

  constructor(readonly model: AnyReadModel) {
    for (const [name, spec] of Object.entries(model.tables)) this.tables.set(name, new MemoryTable(spec));
  }

  private table(name: string): MemoryTable {
    const table = this.tables.get(name);
    if (table === undefined) throw new Error(`read model ${this.model.name} has no table ${name}`);
    return table;
  }

  get(table: string, ...key: unknown[]): Row | null;
  get(table: string, key: string): Row | null;
  get(table: string, ...key: unknown[]): Row | null {
    // RowSource passes the key as text already; queries pass its values.
    const id = key.length === 1 && typeof key[0] === 'string' ? key[0] : keyString(key);
    return this.table(table).rows.get(id) ?? null;
  }

  last(table: string, group: string): Row | null {
    return this.table(table).last(group);
  }

  group(table: string, group: unknown): Row[] {
    return [...(this.table(table).groups.get(String(group))?.values() ?? [])];
  }

  all(table: string): Row[] {
    return [...this.table(table).rows.values()];
  }

  /** Deletes every row of every table that `selected` picks (an erasure); returns how many. */
  deleteWhere(selected: (row: Row) => boolean): number {
    let deleted = 0;
    for (const table of this.tables.values()) {
      for (const [id, row] of [...table.rows]) {
        if (!selected(row)) continue;
        table.delete(id);
        deleted++;
      }
    }
    return deleted;
  }

  /** Applies a change set: group deletions, then deletions, replacements and inserts, as PostgreSQL would. */
  apply(changes: ChangeSet): void {
    for (const [name, table] of changes.tables) {
      const memory = this.table(name);
      for (const group of table.deletedGroups.keys()) memory.deleteGroup(group);
      for (const [id, change] of table.byKey) {
        if (change.op === 'delete') memory.delete(id);
        else if (change.op === 'put' || !memory.rows.has(id)) memory.put(change.row);
      }
    }
  }
}
