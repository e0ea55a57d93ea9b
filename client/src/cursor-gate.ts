/**
 * Defence in depth against a repeated event: a subscription resumes after the cursor of the last
 * event it delivered, so nothing at or before that cursor should come again. The gate drops an event
 * whose cursor it delivered recently, or that sorts at or before the last one delivered.
 *
 * Cursors are opaque to clients; this one is the project's own, so it knows today's form
 * (`<transaction>-<position>`, then `.<store>` when the cursor names its store) and compares two
 * cursors of that form, as a pair as the store orders them, only when they name the same store (or
 * none). Any other form, or two cursors of different stores, is checked against the recent ones only.
 */
const pattern = /^(\d{1,20})-(\d{1,20})(?:\.([0-9a-z]{1,40}))?$/;

function parse(cursor: string): [bigint, bigint, string] | null {
  const match = pattern.exec(cursor);
  return match === null ? null : [BigInt(match[1]!), BigInt(match[2]!), match[3] ?? ''];
}

/** -1, 0 or 1 when both cursors have the known form and name the same store; null when they cannot be compared. */
export function compareCursors(a: string, b: string): number | null {
  const x = parse(a);
  const y = parse(b);
  if (x === null || y === null || x[2] !== y[2]) return null;
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}

export class CursorGate {
  private last: string | null = null;
  private readonly recent = new Set<string>();

  constructor(private readonly remember = 4_096) {}

  /** The cursor of the last event let through. */
  get lastCursor(): string | null {
    return this.last;
  }

  /** True (and remembered) for an event to deliver; false for one delivered already. */
  admit(cursor: string): boolean {
    if (this.recent.has(cursor)) return false;
    if (this.last !== null) {
      const order = compareCursors(cursor, this.last);
      if (order !== null && order <= 0) return false;
    }
    this.last = cursor;
    this.recent.add(cursor);
    if (this.recent.size > this.remember) this.recent.delete(this.recent.values().next().value as string);
    return true;
  }

  /** The scope restarts from its beginning (the server refused the cursor): forget everything. */
  reset(): void {
    this.last = null;
    this.recent.clear();
  }
}
