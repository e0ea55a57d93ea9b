import { LakechatError } from '../errors.ts';

/**
 * A cursor is the pair (transaction id, position) of the last thing a reader has seen. Readers order
 * and resume by the pair, not by position alone: a transaction with a lower id can draw a higher
 * position, and resuming by position would skip it. Clients treat the string as opaque.
 *
 * A cursor names the store that issued it: `tx-position.store`. The memory store names its log; the
 * PostgreSQL store names its cluster, database and epoch. A bare cursor (`tx-position`) is what the
 * PostgreSQL store issued before cursors named it, and what a repair of a copied log writes into the
 * stored cursors: the PostgreSQL store reads it as its own. A store refuses a cursor that names
 * another store (see docs/architecture.md, "Cursors name their store").
 */
export interface CursorPoint {
  readonly tx: bigint;
  readonly position: bigint;
  /** The store the cursor names, or null for a bare cursor. */
  readonly store?: string | null;
}

const pattern = /^(\d{1,20})-(\d{1,20})(?:\.([0-9a-z]{1,40}))?$/;

export function encodeCursor(point: CursorPoint): string {
  const bare = `${point.tx}-${point.position}`;
  return point.store == null ? bare : `${bare}.${point.store}`;
}

/** The cursor naming `store`: a bare cursor gets the name, a named one is returned as it is. */
export function nameCursor(cursor: string, store: string | null): string {
  return store === null || cursor.includes('.') ? cursor : `${cursor}.${store}`;
}

/** The cursor without the store it names (`tx-position`). */
export function bareCursor(cursor: string): string {
  const dot = cursor.indexOf('.');
  return dot === -1 ? cursor : cursor.slice(0, dot);
}

export function invalidCursor(cursor: string, reason?: string): LakechatError {
  return new LakechatError('LAKECHAT_ERR_STORE_INVALID_CURSOR', undefined, {
    details: { cursor: cursor.slice(0, 64), ...(reason === undefined ? {} : { reason }) },
  });
}

export function decodeCursor(cursor: string): Required<CursorPoint> {
  const match = pattern.exec(cursor);
  if (match === null) throw invalidCursor(cursor);
  return { tx: BigInt(match[1]!), position: BigInt(match[2]!), store: match[3] ?? null };
}

/** Orders two cursors by (transaction id, position); the store they name plays no part. */
export function compareCursors(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  const x = decodeCursor(a);
  const y = decodeCursor(b);
  if (x.tx !== y.tx) return x.tx < y.tx ? -1 : 1;
  if (x.position !== y.position) return x.position < y.position ? -1 : 1;
  return 0;
}

export function maxCursor(a: string | null, b: string | null): string | null {
  return compareCursors(a, b) >= 0 ? a : b;
}
