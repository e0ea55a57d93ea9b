import type { RecordedEvent } from '../event-store/index.ts';

/**
 * One event as the replay writes it (NDJSON, CSV, JSON and `GET /api/events`): the columns of the
 * `events` table an analyst would query in the lakehouse, plus the cursor to resume after it, so a file
 * and the registered table read alike.
 */
export interface EventLine {
  position: number;
  cursor: string;
  stream_id: string;
  stream_version: number;
  event_type: string;
  event_id: string;
  schema_version: number;
  owner: string | null;
  /** ISO 8601, UTC, milliseconds. */
  recorded_at: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** The columns, in the order every format writes them. */
export const eventLineColumns = [
  'position',
  'cursor',
  'stream_id',
  'stream_version',
  'event_type',
  'event_id',
  'schema_version',
  'owner',
  'recorded_at',
  'data',
  'metadata',
] as const satisfies readonly (keyof EventLine)[];

export function toEventLine(event: RecordedEvent): EventLine {
  return {
    position: event.position,
    cursor: event.cursor,
    stream_id: event.streamId,
    stream_version: event.version,
    event_type: event.type,
    event_id: event.eventId,
    schema_version: event.schemaVersion,
    owner: event.owner,
    recorded_at: event.recordedAt.toISOString(),
    data: event.data,
    metadata: event.metadata,
  };
}
