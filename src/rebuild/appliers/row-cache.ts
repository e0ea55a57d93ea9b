/** A remembered row and what the cache knows about it. */
export interface CachedRow<Row> {
  readonly key: string;
  /** The row; null when the table has none with this key. */
  row: Row | null;
  /** The batch that last staged a write of this row: not evicted before that batch commits. */
  generation: number;
  /** Read or changed since the last eviction pass walked past it (a second chance). */
  used: boolean;
  /** Changed in memory and not yet handed to a write (write-behind): never evicted. */
  dirty: boolean;
}

/**
 * The rows an applier last read or staged, by key. Bounded, so a rebuild's memory does not grow with
 * the log: a row is evicted only once the write that staged it has committed, and is read again the
 * next time an event needs it; rows changed but not yet written are kept until they are. Eviction is
 * "second chance" (CLOCK): an access sets a flag where a strict LRU would reorder the map on every
 * event. Appliers hold the entries themselves between a lookup and a change: one hash lookup per event.
 */
export class RowCache<Row> {
  private readonly entries = new Map<string, CachedRow<Row>>();
  private dirtyRows: CachedRow<Row>[] = [];
  private knowsAll = false;

  constructor(private readonly capacity: number) {}

  /**
   * The table held no rows when this cache began and only its owner writes it: a key it does not know
   * has no row. True until the cache evicts a row or is cleared; the owner then reads the table again.
   */
  get complete(): boolean {
    return this.knowsAll;
  }

  /** Says the table is empty (just created): `complete` until an eviction or a clear. */
  startEmpty(): void {
    this.knowsAll = this.entries.size === 0;
  }

  /** The entry for a key, when the cache knows it. */
  entry(key: string): CachedRow<Row> | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined) entry.used = true;
    return entry;
  }

  /** The row, null when known absent, undefined when not known. */
  get(key: string): Row | null | undefined {
    return this.entry(key)?.row;
  }

  /** Remembers a row as read from the table (null: none there). */
  set(key: string, row: Row | null): CachedRow<Row> {
    let entry = this.entries.get(key);
    if (entry === undefined) this.entries.set(key, (entry = { key, row, generation: 0, used: true, dirty: false }));
    else {
      entry.row = row;
      entry.used = true;
    }
    return entry;
  }

  /** Remembers a row whose write batch `generation` stages: kept until that batch commits. */
  staged(entry: CachedRow<Row>, row: Row, generation: number): void {
    entry.row = row;
    entry.used = true;
    if (generation > entry.generation) entry.generation = generation;
  }

  /** Remembers a row changed by an event, to be written by a later `takeDirty`. */
  change(entry: CachedRow<Row>, row: Row): void {
    entry.row = row;
    entry.used = true;
    if (!entry.dirty) {
      entry.dirty = true;
      this.dirtyRows.push(entry);
    }
  }

  get dirtyCount(): number {
    return this.dirtyRows.length;
  }

  /** The changed rows, handed to the write of batch `generation` (they stay until it commits). */
  takeDirty(generation: number): Row[] {
    const rows: Row[] = [];
    for (const entry of this.dirtyRows) {
      entry.dirty = false;
      entry.generation = Math.max(entry.generation, generation);
      if (entry.row !== null) rows.push(entry.row);
    }
    this.dirtyRows = [];
    return rows;
  }

  /**
   * Looks every item's key up once: the entries, in item order (undefined where unknown), and the
   * unknown keys, each once, for the caller to read from the table and `set`.
   */
  lookup<T>(items: readonly T[], keyOf: (item: T) => string): { entries: (CachedRow<Row> | undefined)[]; missing: string[] } {
    const entries = new Array<CachedRow<Row> | undefined>(items.length);
    let missing: Set<string> | undefined;
    for (let i = 0; i < items.length; i++) {
      const key = keyOf(items[i]!);
      const entry = this.entries.get(key);
      if (entry === undefined) (missing ??= new Set()).add(key);
      else entries[i] = entry;
    }
    return { entries, missing: missing === undefined ? [] : [...missing] };
  }

  /** Evicts rows beyond the capacity, oldest first, skipping (once) those used since, and any not yet committed. */
  trim(committedGeneration: number): void {
    if (this.entries.size <= this.capacity) return;
    let budget = this.entries.size * 2;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.capacity || budget-- <= 0) return;
      if (entry.generation > committedGeneration || entry.dirty) continue;
      this.entries.delete(key);
      this.knowsAll = false;
      if (entry.used) {
        entry.used = false;
        this.entries.set(key, entry);
      }
    }
  }

  /** Every entry it remembers. */
  values(): IterableIterator<CachedRow<Row>> {
    return this.entries.values();
  }

  clear(): void {
    this.knowsAll = false;
    this.entries.clear();
    this.dirtyRows = [];
  }

  get size(): number {
    return this.entries.size;
  }
}
