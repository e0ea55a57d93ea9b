interface Entry<Row> {
  row: Row | null;
  /** The batch that last staged a write of this row. */
  generation: number;
  /** Read or changed since the last eviction pass walked past it (a second chance). */
  used: boolean;
}

/**
 * The rows an applier last read or staged, by key; `null` remembers that no row exists. Bounded, so a
 * rebuild's memory does not grow with the log: a row is evicted only once the write that staged it
 * has committed, and is read again the next time an event needs it. Rows changed but not yet written
 * (write-behind) are kept until they are. Eviction is "second chance" (CLOCK): an access only sets a
 * flag, where a strict LRU would reorder the map on every event.
 */
export class RowCache<Row> {
  private readonly entries = new Map<string, Entry<Row>>();
  /** Rows changed in memory and not yet handed to a write: never evicted. */
  private readonly dirty = new Set<string>();

  constructor(private readonly capacity: number) {}

  /** The row, null when known absent, undefined when not known. */
  get(key: string): Row | null | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    entry.used = true;
    return entry.row;
  }

  /** Remembers a row as read from the table. */
  set(key: string, row: Row | null): void {
    const entry = this.entries.get(key);
    if (entry === undefined) this.entries.set(key, { row, generation: 0, used: true });
    else {
      entry.row = row;
      entry.used = true;
    }
  }

  /** Remembers a row whose write batch `generation` stages: kept until that batch commits. */
  staged(key: string, row: Row, generation: number): void {
    this.set(key, row);
    const entry = this.entries.get(key)!;
    entry.generation = Math.max(entry.generation, generation);
  }

  /** Remembers a row changed by an event, to be written by a later `takeDirty`. */
  change(key: string, row: Row): void {
    this.set(key, row);
    this.dirty.add(key);
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  /** The changed rows, handed to the write of batch `generation` (they stay until it commits). */
  takeDirty(generation: number): Row[] {
    const rows: Row[] = [];
    for (const key of this.dirty) {
      const entry = this.entries.get(key)!;
      entry.generation = generation;
      if (entry.row !== null) rows.push(entry.row);
    }
    this.dirty.clear();
    return rows;
  }

  /** The keys it does not know among those `keyOf` gives for the items, each once. */
  missing<T>(items: readonly T[], keyOf: (item: T) => string): string[] {
    let wanted: Set<string> | undefined;
    for (const item of items) {
      const key = keyOf(item);
      if (!this.entries.has(key)) (wanted ??= new Set()).add(key);
    }
    return wanted === undefined ? [] : [...wanted];
  }

  /** Evicts rows beyond the capacity, oldest first, skipping (once) those used since, and any not yet committed. */
  trim(committedGeneration: number): void {
    if (this.entries.size <= this.capacity) return;
    let budget = this.entries.size * 2;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.capacity || budget-- <= 0) return;
      if (entry.generation > committedGeneration || this.dirty.has(key)) continue;
      this.entries.delete(key);
      if (entry.used) {
        entry.used = false;
        this.entries.set(key, entry);
      }
    }
  }

  clear(): void {
    this.entries.clear();
    this.dirty.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
