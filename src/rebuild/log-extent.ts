import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { decodeCursor } from '../event-store/index.ts';
import { selectRows } from '../projection-runner/index.ts';

const extentRow = z.object({ first: z.coerce.number().nullable(), last: z.coerce.number().nullable() });

/** The lowest and highest positions in the log: for an estimate of the work ahead (positions have gaps). */
export async function logExtent(db: CommonQueryMethods): Promise<{ first: number | null; last: number | null }> {
  const [row] = await selectRows(db, extentRow, sql.unsafe`SELECT min(position) AS first, max(position) AS last FROM events`);
  return row!;
}

const lagRow = z.object({ events: z.coerce.number(), seconds: z.coerce.number().nullable() });

/**
 * How far a cursor is behind the log: the events after it (counted up to `cap`) and the age of the
 * oldest of them. Counted as a reader would read them: in (transaction id, position) order after the
 * cursor, and only below the oldest running transaction.
 */
export async function lagBehind(db: CommonQueryMethods, cursor: string | null, cap: number): Promise<{ events: number; capped: boolean; seconds: number }> {
  const point = cursor === null ? { tx: 0n, position: 0n } : decodeCursor(cursor);
  const after = sql.fragment`(tx_id, position) > (${point.tx.toString()}::xid8, ${point.position.toString()}::int8) AND tx_id < snapshot.xmin`;
  const [row] = await selectRows(
    db,
    lagRow,
    sql.unsafe`
    SELECT
      (SELECT count(*) FROM (SELECT 1 FROM events WHERE ${after} LIMIT ${cap}) AS behind) AS events,
      (SELECT extract(epoch FROM now() - recorded_at) FROM events WHERE ${after} ORDER BY tx_id, position LIMIT 1) AS seconds
    FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS snapshot`,
  );
  return { events: row!.events, capped: row!.events >= cap, seconds: Math.max(0, row!.seconds ?? 0) };
}

/**
 * The events a reader would read after `cursor` right now, counted up to `cap` + 1 (so "more than
 * cap" is told apart): how much a catch-up from there has to do.
 */
export async function gapBehind(db: CommonQueryMethods, cursor: string | null, cap: number): Promise<number> {
  return (await lagBehind(db, cursor, cap + 1)).events;
}
