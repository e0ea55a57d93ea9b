import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { LakechatError } from '../errors.ts';
import { decodeCursor, type EventFilter, type EventStore, nameCursor, pickFilter, readAllStatement } from '../event-store/index.ts';
import { lineFormats } from './formats.ts';

/**
 * One event as the fast NDJSON export reads it: PostgreSQL prints the time already as `toISOString`
 * would and the ids as text, so the process parses no dates and builds each line by concatenation;
 * `data` and `metadata` arrive parsed (the driver's JSON.parse) and are printed by `JSON.stringify`,
 * exactly as the event-by-event path prints them.
 */
export interface LineRow {
  pos: string;
  tx: string;
  stream_id: string;
  version: number | string;
  event_type: string;
  event_id: string;
  schema_version: number | string;
  owner: string | null;
  recorded_at: string;
  data: unknown;
  metadata: unknown;
  /** Rows the store must restore (`text_escaped`) or whose time `toISOString` prints otherwise (years beyond 0001-9999). */
  slow: boolean;
}

export interface LinePage {
  rows: LineRow[];
  /** As `readAll` gives it: the last row's cursor on a full page, else the head's boundary (never behind `after`). */
  cursor: string | null;
}

// Aliases that are not column names, so ORDER BY keeps meaning the table's columns. Measured against
// the alternatives (npm run bench): PostgreSQL building whole lines (to_json, ||) costs it twice what
// the process saves; the time printed by to_char costs it less than Date.parse and toISOString cost here.
const lineColumns = sql.fragment`position::text AS pos, tx_id::text AS tx, stream_id, stream_version AS version, event_type,
  event_id::text AS event_id, schema_version, owner,
  to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at, data, metadata,
  text_escaped OR NOT (recorded_at >= '0001-01-01 00:00:00Z' AND recorded_at < '10000-01-01 00:00:00Z') AS slow`;

const xminRow = z.object({ xmin: z.string() });

/**
 * A page of the log as `EventStore.readAll` selects it (the store's own statement: the same
 * conditions, order and visibility), with the columns above. Filters and cursor are checked as the
 * store checks them, with its errors. Cursors name `store`, as the store's own do.
 */
export async function readLinePage(db: CommonQueryMethods, after: string | null, limit: number, options: EventFilter, store: string | null = null): Promise<LinePage> {
  const from = after == null ? { tx: 0n, position: 0n } : decodeCursor(after);
  const statement = readAllStatement(lineColumns, from, limit, pickFilter(options));
  let result;
  try {
    result = await db.query(statement);
  } catch (error) {
    throw new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', undefined, { cause: error });
  }
  const all = result.rows as unknown as (LineRow & { xmin: string })[];
  const { xmin } = xminRow.parse(all[0]);
  const rows: LineRow[] = all[0]!.pos === null ? [] : all;
  if (!inOrder(rows)) rows.sort(byCursor);
  if (rows.length >= limit) {
    const last = rows[rows.length - 1]!;
    return { rows, cursor: nameCursor(`${last.tx}-${last.pos}`, store) };
  }
  const boundary = nameCursor(`${xmin}-0`, store);
  return { rows, cursor: after != null && byCursorText(after, boundary) > 0 ? nameCursor(after, store) : boundary };
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

/** A jsonb value as the pool's driver gives it: parsed by default, text if a type parser says so. */
function json(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? JSON.parse(value) : value);
}

/** The NDJSON line of a row: byte for byte what `lineFormats.ndjson.line(event)` writes (`storeSuffix`: `.` and the store's name, or empty). */
export function ndjsonLine(row: LineRow, storeSuffix = ''): string {
  const owner = row.owner === null ? 'null' : JSON.stringify(row.owner);
  return (
    `{"position":${row.pos},"cursor":"${row.tx}-${row.pos}${storeSuffix}","stream_id":${JSON.stringify(row.stream_id)},"stream_version":${row.version},` +
    `"event_type":${JSON.stringify(row.event_type)},"event_id":"${row.event_id}","schema_version":${row.schema_version},"owner":${owner},` +
    `"recorded_at":"${row.recorded_at}","data":${json(row.data)},"metadata":${json(row.metadata)}}\n`
  );
}

/**
 * The page's NDJSON text. A slow row is read again through the store, which restores its escaped
 * text, and written by the event-by-event path: it is the next event the filter selects after the
 * row before it.
 */
export async function ndjsonText(rows: readonly LineRow[], store: EventStore, filter: EventFilter, after: string | null): Promise<string> {
  let text = '';
  let previous = after;
  const storeSuffix = store.storeId == null ? '' : `.${store.storeId}`;
  for (const row of rows) {
    const cursor = `${row.tx}-${row.pos}${storeSuffix}`;
    if (row.slow) {
      const [event] = (await store.readAll({ ...filter, after: previous, limit: 1 })).events;
      if (event === undefined || event.cursor !== cursor) {
        throw new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', 'The events table changed under the export', { details: { cursor } });
      }
      text += lineFormats.ndjson.line(event, 0);
    } else text += ndjsonLine(row, storeSuffix);
    previous = cursor;
  }
  return text;
}
