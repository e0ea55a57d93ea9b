interface Entry<Row> {
  row: Row | null;
  /** The batch that last staged a write of this row. */
  generation: number;
}

/**
 * The rows an applier last read or staged, by key, least recently used first; `null` remembers that
 * no row exists. Bounded, so a rebuild's memory does not grow with the log: a row is evicted only once
 * the write that staged it has committed, and is read again the next time an event needs it. Rows
 * changed but not yet written (write-behind) are kept until they are.
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
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.row;
  }

  /** Remembers a row as read (generation 0) or as staged by a batch. */
  set(key: string, row: Row | null, generation = 0): void {
    const previous = this.entries.get(key);
    this.entries.delete(key);
    this.entries.set(key, { row, generation: Math.max(generation, previous?.generation ?? 0) });
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

  /** The keys among `keys` it does not know, each once. */
  missing(keys: Iterable<string>): string[] {
    const wanted = new Set<string>();
    for (const key of keys) if (!this.entries.has(key)) wanted.add(key);
    return [...wanted];
  }

  /** Evicts least recently used rows beyond the capacity, among those whose writes have committed. */
  trim(committedGeneration: number): void {
    if (this.entries.size <= this.capacity) return;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      if (entry.generation <= committedGeneration && !this.dirty.has(key)) this.entries.delete(key);
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
