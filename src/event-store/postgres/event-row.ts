import { z } from 'zod';
import { encodeCursor } from '../cursor.ts';
import type { RecordedEvent } from '../types.ts';
import { unescapeJson } from './json-text.ts';

/**
 * The columns every event read selects. `tx_id` is read as text: xid8 has no JavaScript type, and
 * the text form parses exactly into a BigInt whatever type parsers the pool was built with.
 */
export const eventColumns = `position, tx_id::text AS tx, stream_id, stream_version, event_id::text AS event_id,
  event_type, schema_version, data, metadata, owner, text_escaped, recorded_at`;

const jsonObject = z.custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value));

/** int8 arrives as a bigint, a string or a number depending on the pool's type parsers. */
export const int8 = z.union([z.number(), z.bigint(), z.string()]).transform((value) => Number(value));
/** timestamptz arrives as a Date (pg) or epoch milliseconds (Slonik's preset). */
const timestamp = z.union([z.date(), z.number(), z.string()]).transform((value) => (value instanceof Date ? value : new Date(value)));

export const eventRowShape = {
  position: int8,
  tx: z.string(),
  stream_id: z.string(),
  stream_version: z.number(),
  event_id: z.string(),
  event_type: z.string(),
  schema_version: z.number(),
  data: jsonObject,
  metadata: jsonObject,
  owner: z.string().nullable(),
  text_escaped: z.boolean(),
  recorded_at: timestamp,
};

export const eventRow = z.object(eventRowShape);
export type EventRow = z.infer<typeof eventRow>;

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    position: row.position,
    cursor: encodeCursor({ tx: BigInt(row.tx), position: BigInt(row.position) }),
    streamId: row.stream_id,
    version: row.stream_version,
    eventId: row.event_id,
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: row.text_escaped ? (unescapeJson(row.data) as Record<string, unknown>) : row.data,
    metadata: row.text_escaped ? (unescapeJson(row.metadata) as Record<string, unknown>) : row.metadata,
    owner: row.owner,
    recordedAt: row.recorded_at,
  };
}
