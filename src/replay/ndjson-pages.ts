import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { LakechatError } from '../errors.ts';
import { decodeCursor } from '../event-store/cursor.ts';
import { pickFilter } from '../event-store/filter.ts';
import type { EventFilter, EventStore } from '../event-store/index.ts';
import { lineFormats } from './formats.ts';

/**
 * One event as the text columns of the events table, as the fast NDJSON export reads it: PostgreSQL
 * prints every value (the time already as `toISOString` would), so the process parses no dates and no
 * numbers, and builds each line by concatenation. Only `data` and `metadata` go through `JSON.parse`
 * and `JSON.stringify`, which print them exactly as the event-by-event path does.
 */
export interface LineRow {
  pos: string;
  tx: string;
  /** The line up to `"data":`. */
  head: string;
  data: string;
  metadata: string;
  /** Rows the store must restore (`text_escaped`) or whose time `toISOString` prints otherwise (years beyond 0001-9999). */
  slow: boolean;
}

export interface LinePage {
  rows: LineRow[];
  /** As `readAll` gives it: the last row's cursor on a full page, else the head's boundary (never behind `after`). */
  cursor: string | null;
}

// Aliases that are not column names, so ORDER BY keeps meaning the table's columns.
const lineColumns = sql.fragment`position::text AS pos, tx_id::text AS tx,
  '{"position":' || position || ',"cursor":"' || tx_id || '-' || position || '","stream_id":' || to_json(stream_id) || ',"stream_version":' || stream_version
    || ',"event_type":' || to_json(event_type) || ',"event_id":"' || event_id || '","schema_version":' || schema_version || ',"owner":' || coalesce(to_json(owner)::text, 'null')
    || ',"recorded_at":"' || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '","data":' AS head,
  data::text AS data, metadata::text AS metadata,
  text_escaped OR NOT (recorded_at >= '0001-01-01 00:00:00Z' AND recorded_at < '10000-01-01 00:00:00Z') AS slow`;

const xminRow = z.object({ xmin: z.string() });

/**
 * A page of the log as `EventStore.readAll` selects it (the same conditions, order and visibility:
 * only rows of transactions older than every running one, see src/event-store/postgres/read-all.ts),
 * its columns as text. Filters and cursor are checked as the store checks them, with its errors.
 */
export async function readLinePage(db: CommonQueryMethods, after: string | null, limit: number, options: EventFilter): Promise<LinePage> {
  const from = after == null ? { tx: 0n, position: 0n } : decodeCursor(after);
  const filter = pickFilter(options);
  const conditions = [sql.fragment`(tx_id, position) > (${from.tx.toString()}::xid8, ${from.position.toString()}::int8)`, sql.fragment`tx_id < snapshot.xmin`];
  if (filter.owner !== undefined) conditions.push(sql.fragment`owner = ${filter.owner}`);
  if (filter.streamId !== undefined) conditions.push(sql.fragment`stream_id = ${filter.streamId}`);
  if (filter.streamPrefix !== undefined) conditions.push(sql.fragment`starts_with(stream_id, ${filter.streamPrefix})`);
  if (filter.fromPosition !== undefined) conditions.push(sql.fragment`position >= ${filter.fromPosition}`);
  if (filter.toPosition !== undefined) conditions.push(sql.fragment`position <= ${filter.toPosition}`);
  if (filter.since !== undefined) conditions.push(sql.fragment`recorded_at >= ${filter.since.toISOString()}::timestamptz`);
  if (filter.until !== undefined) conditions.push(sql.fragment`recorded_at < ${filter.until.toISOString()}::timestamptz`);
  const types = filter.types !== undefined && filter.types.length > 0 ? filter.types : undefined;
  // As the store: alone, a type filter merges one index range per type.
  const perType = types !== undefined && filter.owner === undefined && filter.streamId === undefined;
  if (types !== undefined && !perType) conditions.push(sql.fragment`event_type = ANY(${sql.array(types, 'text')})`);
  const where = sql.join(conditions, sql.fragment` AND `);
  const page = perType
    ? sql.fragment`SELECT ${lineColumns} FROM (
        SELECT typed.* FROM unnest(${sql.array(types!, 'text')}) AS wanted(event_type)
        CROSS JOIN LATERAL (
          SELECT * FROM events WHERE events.event_type = wanted.event_type AND ${where}
          ORDER BY tx_id, position LIMIT ${limit}
        ) AS typed
        ORDER BY typed.tx_id, typed.position LIMIT ${limit}
      ) AS events`
    : sql.fragment`SELECT ${lineColumns} FROM events WHERE ${where} ORDER BY tx_id, position LIMIT ${limit}`;

  let result;
  try {
    result = await db.query(sql.unsafe`
      SELECT snapshot.xmin::text AS xmin, page.*
      FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS snapshot
      LEFT JOIN LATERAL (${page}) AS page ON true`);
  } catch (error) {
    throw new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', undefined, { cause: error });
  }
  const all = result.rows as unknown as (LineRow & { xmin: string })[];
  const { xmin } = xminRow.parse(all[0]);
  const rows: LineRow[] = all[0]!.pos === null ? [] : all;
  if (!inOrder(rows)) rows.sort(byCursor);
  if (rows.length >= limit) {
    const last = rows[rows.length - 1]!;
    return { rows, cursor: `${last.tx}-${last.pos}` };
  }
  const boundary = `${xmin}-0`;
  return { rows, cursor: after != null && byCursorText(after, boundary) > 0 ? after : boundary };
}

// Canonical decimals: a shorter one is smaller, equal lengths compare as text.
function compareDecimal(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function byCursor(a: LineRow, b: LineRow): number {
  return compareDecimal(a.tx, b.tx) || compareDecimal(a.pos, b.pos);
}

function byCursorText(a: string, b: string): number {
  const x = decodeCursor(a);
  const y = decodeCursor(b);
  return x.tx !== y.tx ? (x.tx < y.tx ? -1 : 1) : x.position < y.position ? -1 : x.position > y.position ? 1 : 0;
}

/** The lateral join keeps the inner order in every plan PostgreSQL makes; checked, as the store checks it. */
function inOrder(rows: readonly LineRow[]): boolean {
  for (let i = 1; i < rows.length; i++) if (byCursor(rows[i - 1]!, rows[i]!) > 0) return false;
  return true;
}

const nullText = 'null';

/** The NDJSON line of a row: byte for byte what `lineFormats.ndjson.line(event)` writes. */
export function ndjsonLine(row: LineRow): string {
  return `${row.head}${JSON.stringify(JSON.parse(row.data))},"metadata":${JSON.stringify(JSON.parse(row.metadata))}}\n`;
}

/**
 * The page's NDJSON text. A slow row is read again through the store, which restores its escaped
 * text, and written by the event-by-event path: it is the next event the filter selects after the
 * row before it.
 */
export async function ndjsonText(rows: readonly LineRow[], store: EventStore, filter: EventFilter, after: string | null): Promise<string> {
  let text = '';
  let previous = after;
  for (const row of rows) {
    const cursor = `${row.tx}-${row.pos}`;
    if (row.slow) {
      const [event] = (await store.readAll({ ...filter, after: previous, limit: 1 })).events;
      if (event === undefined || event.cursor !== cursor) {
        throw new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', 'The events table changed under the export', { details: { cursor } });
      }
      text += lineFormats.ndjson.line(event, 0);
    } else text += ndjsonLine(row);
    previous = cursor;
  }
  return text;
}
