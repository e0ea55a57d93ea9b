import { type CommonQueryMethods, type FragmentSqlToken, type ListSqlToken, type QuerySqlToken, sql } from 'slonik';
import { z } from 'zod';
import { type CursorPoint, compareCursors, encodeCursor } from '../cursor.ts';
import { rememberEventBytes } from '../event-bytes.ts';
import type { EventFilter, RecordedEvent } from '../types.ts';
import { readEventRow } from './event-row.ts';
import { prepared } from './prepared-statement.ts';

const eventColumns = sql.fragment`position, tx_id::text AS tx, stream_id, stream_version, event_id::text AS event_id,
  event_type, schema_version, data, metadata, owner, text_escaped, recorded_at`;

const xminRow = z.object({ xmin: z.string() });

export interface ReadAllPage {
  events: RecordedEvent[];
  /** Every transaction below this id had ended when the page was read. */
  xmin: bigint;
  /** Rows were left out by the byte budget: the page is not the end of the log. */
  truncated: boolean;
}

/**
 * The statement of one page in reader order, selecting `columns` of each row: (tx_id, position) after
 * the cursor, only rows of transactions older than every transaction still running (a row whose
 * transaction commits later sorts after everything this page, and any earlier page, returned, so no
 * reader skips it), plus the snapshot's xmin. One row per event; a single row of nulls (but xmin) when
 * the page is empty, so an empty read still learns its boundary in one round trip. The export's fast
 * path (`src/replay/ndjson-pages.ts`) runs it with its own columns.
 */
export function readAllStatement(columns: FragmentSqlToken, after: CursorPoint, limit: number, filter: EventFilter, maxBytes?: number): QuerySqlToken {
  const conditions = [sql.fragment`(tx_id, position) > (${after.tx.toString()}::xid8, ${after.position.toString()}::int8)`, sql.fragment`tx_id < snapshot.xmin`];
  const whose: FragmentSqlToken[] = [];
  if (filter.owner !== undefined) whose.push(sql.fragment`owner = ${filter.owner}`);
  if (filter.streamId !== undefined) whose.push(sql.fragment`stream_id = ${filter.streamId}`);
  if (filter.streamPrefix !== undefined) whose.push(sql.fragment`starts_with(stream_id, ${filter.streamPrefix})`);
  // Only a subscription of a user with a recent erasure names other streams: everyone else's statement stays as it was.
  if (filter.alsoStreamIds !== undefined && filter.alsoStreamIds.length > 0 && whose.length > 0) {
    conditions.push(sql.fragment`((${sql.join(whose, sql.fragment` AND `)}) OR stream_id = ANY(${sql.array([...filter.alsoStreamIds], 'text')}))`);
  } else {
    conditions.push(...whose);
  }
  // Narrowing conditions only: the page still walks (tx_id, position) order from the cursor.
  if (filter.fromPosition !== undefined) conditions.push(sql.fragment`position >= ${filter.fromPosition}`);
  if (filter.toPosition !== undefined) conditions.push(sql.fragment`position <= ${filter.toPosition}`);
  if (filter.since !== undefined) conditions.push(sql.fragment`recorded_at >= ${filter.since.toISOString()}::timestamptz`);
  if (filter.until !== undefined) conditions.push(sql.fragment`recorded_at < ${filter.until.toISOString()}::timestamptz`);
  // Each type once: a repeated one would read its index range once per repeat.
  const types = filter.types !== undefined && filter.types.length > 0 ? [...new Set(filter.types)] : undefined;
  // Alone, a type filter reads one index range per type and merges them; with an owner or a stream
  // (fewer rows) the type is a plain condition on that narrower scan.
  const perType = types !== undefined && filter.owner === undefined && filter.streamId === undefined;
  if (types !== undefined && !perType) conditions.push(sql.fragment`event_type = ANY(${sql.array(types, 'text')})`);
  const where = sql.join(conditions, sql.fragment` AND `);

  const page =
    maxBytes !== undefined
      ? sizedPage(columns, perType ? perTypeRows(types!, where, limit) : sql.fragment`SELECT * FROM events WHERE ${where} ORDER BY tx_id, position LIMIT ${limit}`, maxBytes)
      : perType
        ? sql.fragment`SELECT ${columns} FROM (${perTypeRows(types!, where, limit)}) AS events`
        : sql.fragment`SELECT ${columns} FROM events WHERE ${where} ORDER BY tx_id, position LIMIT ${limit}`;

  return prepared(sql.unsafe`
    SELECT snapshot.xmin::text AS xmin, page.*
    FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS snapshot
    LEFT JOIN LATERAL (${page}) AS page ON true`);
}

function perTypeRows(types: readonly string[], where: ListSqlToken, limit: number): FragmentSqlToken {
  return sql.fragment`SELECT typed.* FROM unnest(${sql.array(types, 'text')}) AS wanted(event_type)
    CROSS JOIN LATERAL (
      SELECT * FROM events WHERE events.event_type = wanted.event_type AND ${where}
      ORDER BY tx_id, position LIMIT ${limit}
    ) AS typed
    ORDER BY typed.tx_id, typed.position LIMIT ${limit}`;
}

/**
 * `rows` (in reader order) with each one's data size and the running total, keeping the rows that
 * start within `maxBytes` (and the first two): every row that fits, plus the first that does not,
 * so the reader knows the page was cut (it drops that row). The running sum walks the rows in order
 * and stops with them.
 */
function sizedPage(columns: FragmentSqlToken, rows: FragmentSqlToken, maxBytes: number): FragmentSqlToken {
  return sql.fragment`SELECT ${columns}, event_bytes, running_bytes FROM (
      SELECT sized.*, sum(sized.event_bytes) OVER in_order AS running_bytes, row_number() OVER in_order AS row_in_page
      FROM (SELECT limited.*, octet_length(limited.data::text) AS event_bytes FROM (${rows}) AS limited) AS sized
      WINDOW in_order AS (ORDER BY sized.tx_id, sized.position ROWS UNBOUNDED PRECEDING)
    ) AS events
    WHERE running_bytes - event_bytes <= ${maxBytes} OR row_in_page <= 2`;
}

/** One page of the log in reader order (see `readAllStatement`), as recorded events. */
export async function readAllPage(db: CommonQueryMethods, after: CursorPoint, limit: number, filter: EventFilter, maxBytes?: number, storeSuffix = ''): Promise<ReadAllPage> {
  const result = await db.query(readAllStatement(eventColumns, after, limit, filter, maxBytes));
  const rows = result.rows as readonly Record<string, unknown>[];
  const { xmin } = xminRow.parse(rows[0]);
  const events: RecordedEvent[] = [];
  let truncated = false;
  let sorted = true;
  let previousTx = '';
  let previousPosition = -1;
  for (const row of rows) {
    if (row.position === null) continue;
    if (maxBytes !== undefined && events.length > 0 && Number(row.running_bytes) > maxBytes) {
      truncated = true;
      continue;
    }
    const { event, tx } = readEventRow(row, storeSuffix);
    if (maxBytes !== undefined) rememberEventBytes(event, Number(row.event_bytes));
    // Canonical decimals: a shorter one is smaller, equal lengths compare as text.
    const order = tx.length - previousTx.length || (tx < previousTx ? -1 : tx > previousTx ? 1 : 0);
    if (order < 0 || (order === 0 && event.position < previousPosition)) sorted = false;
    previousTx = tx;
    previousPosition = event.position;
    events.push(event);
  }
  // The lateral join keeps the inner ORDER BY in every plan PostgreSQL makes for it; the check
  // costs one comparison per row and makes the order a guarantee rather than an observation.
  if (!sorted) events.sort((a, b) => compareCursors(a.cursor, b.cursor));
  return { events, xmin: BigInt(xmin), truncated };
}

export function boundaryCursor(xmin: bigint, store: string | null = null): string {
  return encodeCursor({ tx: xmin, position: 0n, store });
}
