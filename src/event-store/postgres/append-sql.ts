import { type CommonQueryMethods, type FragmentSqlToken, sql } from 'slonik';
import { z } from 'zod';
import { encodeCursor } from '../cursor.ts';
import type { RecordedEvent } from '../types.ts';
import type { StepsInStatement } from './append-steps.ts';
import { int8 } from './event-row.ts';
import { prepared } from './prepared-statement.ts';
import { selectRows } from './select-rows.ts';

export type StoredIdentity = Pick<RecordedEvent, 'eventId' | 'streamId' | 'version' | 'position' | 'cursor' | 'type'> & { recordedAt?: Date };

export interface AppendState {
  /** Stored events among the ids looked up, by event id. */
  stored: Map<string, StoredIdentity>;
  /** The current version of each stream looked up (0 when it does not exist). */
  versions: Map<string, number>;
}

const recordedAt = z.union([z.date(), z.number(), z.string()]).transform((value) => (value instanceof Date ? value : new Date(value)));

const lookupRow = z.union([
  z.object({ kind: z.literal('event'), event_id: z.string(), stream_id: z.string(), version: z.number(), position: int8, tx: z.string(), event_type: z.string(), recorded_at: recordedAt }),
  z.object({ kind: z.literal('stream'), stream_id: z.string(), version: z.number() }),
]);

/**
 * What a group of appends must know before deciding, in one round trip: which of its event ids
 * are stored (idempotent retries), and the current version of each stream it touches (read with a
 * backward index scan of one row per stream, however long the stream).
 */
export async function lookupAppendState(db: CommonQueryMethods, eventIds: readonly string[], streamIds: readonly string[]): Promise<AppendState> {
  const rows = await selectRows(
    db,
    lookupRow,
    sql.unsafe`
    SELECT 'event' AS kind, event_id::text AS event_id, stream_id, stream_version AS version, position, tx_id::text AS tx, event_type,
      date_trunc('milliseconds', recorded_at) AS recorded_at
    FROM events WHERE event_id = ANY(${sql.array(eventIds, 'uuid')})
    UNION ALL
    SELECT 'stream', NULL, wanted.stream_id,
      coalesce((SELECT stream_version FROM events WHERE events.stream_id = wanted.stream_id ORDER BY stream_version DESC LIMIT 1), 0),
      NULL, NULL, NULL, NULL
    FROM unnest(${sql.array(streamIds, 'text')}) AS wanted(stream_id)`,
  );
  const state: AppendState = { stored: new Map(), versions: new Map() };
  for (const row of rows) {
    if (row.kind === 'stream') {
      state.versions.set(row.stream_id, row.version);
    } else {
      state.stored.set(row.event_id, {
        eventId: row.event_id,
        streamId: row.stream_id,
        version: row.version,
        position: row.position,
        cursor: encodeCursor({ tx: BigInt(row.tx), position: BigInt(row.position) }),
        type: row.event_type,
        recordedAt: row.recorded_at,
      });
    }
  }
  return state;
}

/** Rows to insert, column by column (the shape unnest takes). */
export interface InsertColumns {
  streamIds: string[];
  versions: number[];
  eventIds: string[];
  types: string[];
  schemaVersions: number[];
  data: string[];
  metadata: string[];
  owners: (string | null)[];
  escaped: boolean[];
}

export function emptyInsertColumns(): InsertColumns {
  return { streamIds: [], versions: [], eventIds: [], types: [], schemaVersions: [], data: [], metadata: [], owners: [], escaped: [] };
}

export interface InsertedRow {
  eventId: string;
  position: number;
  tx: bigint;
  /** When the transaction began, to the millisecond (as readers see it). */
  recordedAt?: Date;
}

/**
 * data and metadata travel as one JSON array each, picked by ordinality: a jsonb[] parameter would
 * have every document escaped into an array literal on the client and parsed out of it on the
 * server (about 15% slower for a 100-event group, measured).
 */
function jsonArray(documents: readonly string[]): string {
  return `[${documents.join(',')}]`;
}

/** The group's other columns, one array each, numbered in order (`incoming.n`). */
function incomingRows(columns: InsertColumns) {
  return sql.fragment`unnest(
      ${sql.array(columns.streamIds, 'text')}, ${sql.array(columns.versions, 'int4')}, ${sql.array(columns.eventIds, 'uuid')},
      ${sql.array(columns.types, 'text')}, ${sql.array(columns.schemaVersions, 'int4')}, ${sql.array(columns.owners, 'text')},
      ${sql.array(columns.escaped, 'bool')}
    ) WITH ORDINALITY AS incoming`;
}

const insertedRow = z.object({ event_id: z.string(), position: int8, tx: z.string(), recorded_at: recordedAt });

/**
 * One multi-row INSERT for a whole group, as a single statement (its own transaction): every row
 * gets the same tx_id, and positions follow the order given (ORDER BY ordinality feeds the identity
 * column in that order). Versions are enforced by the unique keys, never by ON CONFLICT DO NOTHING:
 * a stale decision fails loudly and is retried by the caller.
 */
export async function insertEvents(db: CommonQueryMethods, columns: InsertColumns): Promise<Map<string, InsertedRow>> {
  const rows = await selectRows(
    db,
    insertedRow,
    sql.unsafe`
    INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped)
    SELECT incoming.stream_id, incoming.stream_version, incoming.event_id, incoming.event_type, incoming.schema_version,
      ${jsonArray(columns.data)}::jsonb -> (incoming.n - 1)::int, ${jsonArray(columns.metadata)}::jsonb -> (incoming.n - 1)::int,
      incoming.owner, incoming.text_escaped
    FROM ${incomingRows(columns)} (stream_id, stream_version, event_id, event_type, schema_version, owner, text_escaped, n)
    ORDER BY incoming.n
    RETURNING event_id::text AS event_id, position, tx_id::text AS tx, date_trunc('milliseconds', recorded_at) AS recorded_at`,
  );
  const inserted = new Map<string, InsertedRow>();
  for (const row of rows) inserted.set(row.event_id, { eventId: row.event_id, position: row.position, tx: BigInt(row.tx), recordedAt: row.recorded_at });
  return inserted;
}

/** One append's version condition in an optimistic group insert. */
export interface VersionCheck {
  streamId: string;
  /** Events of earlier appends in the group on the same stream. */
  offset: number;
  kind: 'any' | 'no_stream' | 'stream_exists' | 'exact';
  expected: number;
}

export interface WrittenRow extends InsertedRow {
  version: number;
  /** Per step of the statement (in order): the oid of the table it wrote for this event, or null. */
  applied?: (number | null)[];
}

const writtenRow = z.object({
  event_id: z.string(),
  position: int8,
  tx: z.string(),
  version: z.number(),
  recorded_at: recordedAt,
  applied: z
    .array(
      z
        .string()
        .nullable()
        .transform((oid) => (oid === null ? null : Number(oid))),
    )
    .optional(),
});

function writtenOf(row: z.infer<typeof writtenRow>): WrittenRow {
  return {
    eventId: row.event_id,
    position: row.position,
    tx: BigInt(row.tx),
    version: row.version,
    recordedAt: row.recorded_at,
    ...(row.applied === undefined ? {} : { applied: row.applied }),
  };
}

const returnedColumns = sql.fragment`event_id, stream_id, stream_version, event_type, data, owner, recorded_at, position, tx_id`;

/**
 * The insert as the statement's result, or, with steps, as CTE `inserted` followed by the steps, and
 * the select that returns what the insert returned and what each step applied.
 */
function withSteps(ctes: FragmentSqlToken | null, insert: FragmentSqlToken, steps: StepsInStatement | undefined): FragmentSqlToken {
  const before = ctes === null ? sql.fragment`` : sql.fragment`${ctes}, `;
  if (steps === undefined) {
    return sql.fragment`${ctes === null ? sql.fragment`` : sql.fragment`WITH ${ctes}`}
    ${insert}
    RETURNING event_id::text AS event_id, position, tx_id::text AS tx, stream_version AS version, date_trunc('milliseconds', recorded_at) AS recorded_at`;
  }
  return sql.fragment`WITH ${before}inserted AS (${insert} RETURNING ${returnedColumns}), ${steps.ctes}
    SELECT appended.event_id::text AS event_id, appended.position, appended.tx_id::text AS tx, appended.stream_version AS version, appended.recorded_at,
      ${steps.applied} AS applied
    FROM appended
    ORDER BY appended.position`;
}

/**
 * A whole group in ONE statement, when every append's expected version holds: reads each stream's
 * current version, checks every condition, and inserts all rows or none (the version of each row
 * is the stream's current version plus its place in the group). Returns null when a condition
 * failed: nothing was written, and the caller decides each append exactly. A concurrent writer of
 * the same version or event id makes it fail on a unique key, as the plain insert does.
 */
export async function insertIfVersionsHold(
  db: CommonQueryMethods,
  checks: readonly VersionCheck[],
  columns: InsertColumns,
  steps?: StepsInStatement,
): Promise<Map<string, WrittenRow> | null> {
  const ctes = sql.fragment`
    checks AS (
      SELECT * FROM unnest(
        ${sql.array(
          checks.map((check) => check.streamId),
          'text',
        )}, ${sql.array(
          checks.map((check) => check.offset),
          'int4',
        )},
        ${sql.array(
          checks.map((check) => check.kind),
          'text',
        )}, ${sql.array(
          checks.map((check) => check.expected),
          'int4',
        )}
      ) AS check_row (stream_id, version_offset, kind, expected)
    ), head AS (
      SELECT wanted.stream_id,
        coalesce((SELECT stream_version FROM events WHERE events.stream_id = wanted.stream_id ORDER BY stream_version DESC LIMIT 1), 0) AS version
      FROM (SELECT DISTINCT stream_id FROM checks) AS wanted
    ), allowed AS (
      SELECT coalesce(bool_and(CASE checks.kind
          WHEN 'any' THEN true
          WHEN 'no_stream' THEN head.version + checks.version_offset = 0
          WHEN 'stream_exists' THEN head.version + checks.version_offset > 0
          ELSE head.version + checks.version_offset = checks.expected END), false) AS ok
      FROM checks JOIN head USING (stream_id)
    )`;
  const insert = sql.fragment`
    INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped)
    SELECT incoming.stream_id, head.version + incoming.relative_version, incoming.event_id, incoming.event_type, incoming.schema_version,
      ${jsonArray(columns.data)}::jsonb -> (incoming.n - 1)::int, ${jsonArray(columns.metadata)}::jsonb -> (incoming.n - 1)::int,
      incoming.owner, incoming.text_escaped
    FROM ${incomingRows(columns)} (stream_id, relative_version, event_id, event_type, schema_version, owner, text_escaped, n)
    JOIN head USING (stream_id)
    CROSS JOIN allowed
    WHERE allowed.ok
    ORDER BY incoming.n`;
  const rows = await selectRows(db, writtenRow, prepared(sql.unsafe`${withSteps(ctes, insert, steps)}`));
  if (rows.length === 0) return null;
  const written = new Map<string, WrittenRow>();
  for (const row of rows) written.set(row.event_id, writtenOf(row));
  return written;
}

/**
 * The optimistic insert of a group of ONE append of ONE event (a single writer's every append, and
 * most appends under light load): the same check and the same result as `insertIfVersionsHold`, in a
 * statement without arrays. PostgreSQL plans a statement over parameter arrays anew at every
 * execution (a plan for the arrays' actual lengths always looks cheaper than the generic one), and
 * that planning, not the insert, was most of a single writer's append; this one it plans once per
 * connection.
 */
export async function insertOneIfVersionHolds(db: CommonQueryMethods, check: VersionCheck, columns: InsertColumns, steps?: StepsInStatement): Promise<Map<string, WrittenRow> | null> {
  const insert = sql.fragment`
    INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped)
    SELECT ${columns.streamIds[0]!}::text, head.version + 1, ${columns.eventIds[0]!}::uuid, ${columns.types[0]!}::text, ${columns.schemaVersions[0]!}::int4,
      ${columns.data[0]!}::jsonb, ${columns.metadata[0]!}::jsonb, ${columns.owners[0]!}::text, ${columns.escaped[0]!}::bool
    FROM (SELECT coalesce((SELECT stream_version FROM events WHERE stream_id = ${check.streamId}::text ORDER BY stream_version DESC LIMIT 1), 0) AS version) AS head
    WHERE CASE ${check.kind}::text
      WHEN 'any' THEN true
      WHEN 'no_stream' THEN head.version = 0
      WHEN 'stream_exists' THEN head.version > 0
      ELSE head.version = ${check.expected}::int4 END`;
  const rows = await selectRows(db, writtenRow, prepared(sql.unsafe`${withSteps(null, insert, steps)}`));
  const row = rows[0];
  if (row === undefined) return null;
  return new Map([[row.event_id, writtenOf(row)]]);
}
