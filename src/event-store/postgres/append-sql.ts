import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { encodeCursor } from '../cursor.ts';
import type { RecordedEvent } from '../types.ts';
import { int8 } from './event-row.ts';
import { selectRows } from './select-rows.ts';

export type StoredIdentity = Pick<RecordedEvent, 'eventId' | 'streamId' | 'version' | 'position' | 'cursor' | 'type'>;

export interface AppendState {
  /** Stored events among the ids looked up, by event id. */
  stored: Map<string, StoredIdentity>;
  /** The current version of each stream looked up (0 when it does not exist). */
  versions: Map<string, number>;
}

const lookupRow = z.union([
  z.object({ kind: z.literal('event'), event_id: z.string(), stream_id: z.string(), version: z.number(), position: int8, tx: z.string(), event_type: z.string() }),
  z.object({ kind: z.literal('stream'), stream_id: z.string(), version: z.number() }),
]);

/**
 * What a group of appends must know before deciding, in one round trip: which of its event ids
 * are stored (idempotent retries), and the current version of each stream it touches (read with a
 * backward index scan of one row per stream, however long the stream).
 */
export async function lookupAppendState(db: CommonQueryMethods, eventIds: readonly string[], streamIds: readonly string[]): Promise<AppendState> {
  const rows = await selectRows(db, lookupRow, sql.unsafe`
    SELECT 'event' AS kind, event_id::text AS event_id, stream_id, stream_version AS version, position, tx_id::text AS tx, event_type
    FROM events WHERE event_id = ANY(${sql.array(eventIds, 'uuid')})
    UNION ALL
    SELECT 'stream', NULL, wanted.stream_id,
      coalesce((SELECT stream_version FROM events WHERE events.stream_id = wanted.stream_id ORDER BY stream_version DESC LIMIT 1), 0),
      NULL, NULL, NULL
    FROM unnest(${sql.array(streamIds, 'text')}) AS wanted(stream_id)`);
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
}

const insertedRow = z.object({ event_id: z.string(), position: int8, tx: z.string() });

/**
 * One multi-row INSERT for a whole group, as a single statement (its own transaction): every row
 * gets the same tx_id, and positions follow the order given (ORDER BY ordinality feeds the identity
 * column in that order). Versions are enforced by the unique keys, never by ON CONFLICT DO NOTHING:
 * a stale decision fails loudly and is retried by the caller.
 */
export async function insertEvents(db: CommonQueryMethods, columns: InsertColumns): Promise<Map<string, InsertedRow>> {
  const rows = await selectRows(db, insertedRow, sql.unsafe`
    INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped)
    SELECT stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped
    FROM unnest(
      ${sql.array(columns.streamIds, 'text')}, ${sql.array(columns.versions, 'int4')}, ${sql.array(columns.eventIds, 'uuid')},
      ${sql.array(columns.types, 'text')}, ${sql.array(columns.schemaVersions, 'int4')}, ${sql.array(columns.data, 'jsonb')},
      ${sql.array(columns.metadata, 'jsonb')}, ${sql.array(columns.owners, 'text')}, ${sql.array(columns.escaped, 'bool')}
    ) WITH ORDINALITY AS row (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped, n)
    ORDER BY n
    RETURNING event_id::text AS event_id, position, tx_id::text AS tx`);
  const inserted = new Map<string, InsertedRow>();
  for (const row of rows) inserted.set(row.event_id, { eventId: row.event_id, position: row.position, tx: BigInt(row.tx) });
  return inserted;
}
