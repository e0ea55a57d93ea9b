import { LakechatError } from '../errors.ts';

/**
 * A cursor is the pair (transaction id, position) of the last thing a reader has seen. Readers order
 * and resume by the pair, not by position alone: a transaction with a lower id can draw a higher
 * position, and resuming by position would skip it. Clients treat the string as opaque.
 */
export interface CursorPoint {
  readonly tx: bigint;
  readonly position: bigint;
}

const pattern = /^(\d{1,20})-(\d{1,20})$/;

export function encodeCursor(point: CursorPoint): string {
  return `${point.tx}-${point.position}`;
}

export function decodeCursor(cursor: string): CursorPoint {
  const match = pattern.exec(cursor);
  if (match === null) {
    throw new LakechatError('LAKECHAT_ERR_STORE_INVALID_CURSOR', undefined, { details: { cursor: cursor.slice(0, 64) } });
  }
  return { tx: BigInt(match[1]!), position: BigInt(match[2]!) };
}

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
