import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { type EraseOptions, type EraseSelection, erasedStreamId, tombstoneOf } from '../tombstone.ts';
import type { RecordedEvent } from '../types.ts';
import { readEventRow } from './event-row.ts';
import { selectRows } from './select-rows.ts';

/** The channel on which instances tell each other that events were erased (`{"i", "from", "to"}`: positions). */
export const erasureChannel = 'lakechat_erasures';

const returnedColumns = sql.fragment`events.position, events.tx_id::text AS tx, events.stream_id, events.stream_version,
  events.event_id::text AS event_id, events.event_type, events.schema_version, events.data, events.metadata, events.owner,
  events.text_escaped, events.recorded_at`;

const candidateRow = z.object({ position: z.union([z.number(), z.bigint(), z.string()]).transform(Number), stream_id: z.string() });
const snapshotRow = z.object({ xmin: z.string(), xmax: z.string() });

/**
 * Runs a batch's `UPDATE events ... RETURNING` and, with `countIn`, adds the rows it rewrote to that
 * erasure record's count in the same statement: the count never misses a committed batch.
 */
async function rewrite(db: CommonQueryMethods, update: ReturnType<typeof sql.fragment>, countIn: string | undefined): Promise<readonly Record<string, unknown>[]> {
  if (countIn === undefined) return (await db.query(sql.unsafe`${update}`)).rows as Record<string, unknown>[];
  const { rows } = await db.query(sql.unsafe`
    WITH erased AS (${update}),
      counted AS (UPDATE erasures SET events_erased = events_erased + (SELECT count(*) FROM erased) WHERE id = ${countIn})
    SELECT * FROM erased`);
  return rows as Record<string, unknown>[];
}

function toEvents(rows: readonly Record<string, unknown>[]): RecordedEvent[] {
  return rows.map((row) => readEventRow(row).event).sort((a, b) => a.position - b.position);
}

/**
 * One batch of a user's erasure: up to `limit` of the owner's events (oldest first, by the owner
 * index), each rewritten in place in one short statement. Returns the tombstones and the old stream
 * ids. The update names the owner again, so a batch racing another erasure of the same user (another
 * instance, or the script) skips rows already done; the same key renames a stream the same way.
 */
export async function eraseOwnerBatch(db: CommonQueryMethods, owner: string, options: EraseOptions, limit: number): Promise<{ tombstones: RecordedEvent[]; streamIds: string[] }> {
  const candidates = await selectRows(db, candidateRow, sql.unsafe`SELECT position, stream_id FROM events WHERE owner = ${owner} ORDER BY tx_id, position LIMIT ${limit}`);
  if (candidates.length === 0) return { tombstones: [], streamIds: [] };
  const positions = candidates.map((row) => String(row.position));
  const renamed = candidates.map((row) => erasedStreamId(options.streamKey, row.stream_id));
  const rows = await rewrite(
    db,
    sql.fragment`
    UPDATE events SET
      stream_id = batch.new_stream_id,
      event_id = gen_random_uuid(),
      data = ${JSON.stringify(tombstoneOf(options.erasureId))}::jsonb,
      metadata = '{}'::jsonb,
      owner = NULL,
      text_escaped = false
    FROM unnest(${sql.array(positions, 'int8')}, ${sql.array(renamed, 'text')}) AS batch(position, new_stream_id)
    WHERE events.position = batch.position AND events.owner = ${owner}
    RETURNING ${returnedColumns}`,
    options.countIn,
  );
  return { tombstones: toEvents(rows), streamIds: [...new Set(candidates.map((row) => row.stream_id))] };
}

/** One batch of a deleted chat's or profile's erasure: the content of its events, nothing else. */
export async function eraseStreamsBatch(db: CommonQueryMethods, selection: EraseSelection, options: EraseOptions, limit: number): Promise<RecordedEvent[]> {
  const streamIds = [...(selection.streamIds ?? [])];
  if (streamIds.length === 0) return [];
  const keep = [...(selection.keepTypes ?? [])];
  const through = selection.throughVersion ?? 2_147_483_647;
  const rows = await rewrite(
    db,
    sql.fragment`
    UPDATE events SET data = ${JSON.stringify(tombstoneOf(options.erasureId))}::jsonb, text_escaped = false
    WHERE position IN (
      SELECT position FROM events
      WHERE stream_id = ANY(${sql.array(streamIds, 'text')})
        AND stream_version <= ${through}
        AND event_type <> ALL(${sql.array(keep, 'text')})
        AND data->'erased' IS DISTINCT FROM 'true'::jsonb
      ORDER BY position LIMIT ${limit})
    RETURNING ${returnedColumns}`,
    options.countIn,
  );
  return toEvents(rows);
}

/** The events at these positions, as stored now (to replace what another instance erased). */
export async function readPositions(db: CommonQueryMethods, positions: readonly number[]): Promise<RecordedEvent[]> {
  if (positions.length === 0) return [];
  const { rows } = await db.query(sql.unsafe`SELECT ${returnedColumns} FROM events WHERE position = ANY(${sql.array(positions.map(String), 'int8')})`);
  return toEvents(rows as Record<string, unknown>[]);
}

/**
 * Waits (bounded) until every transaction running now has ended: a write of the erased user that
 * another instance has not committed yet is then visible to the next pass.
 */
export async function waitForRunningTransactions(db: CommonQueryMethods, maxMs: number, signal?: AbortSignal): Promise<void> {
  const [first] = await selectRows(db, snapshotRow, sql.unsafe`SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax FROM pg_current_snapshot() AS s`);
  const target = BigInt(first!.xmax);
  const started = Date.now();
  for (let delayMs = 2; Date.now() - started < maxMs; delayMs = Math.min(delayMs * 2, 100)) {
    signal?.throwIfAborted();
    const [now] = await selectRows(db, snapshotRow, sql.unsafe`SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax FROM pg_current_snapshot() AS s`);
    if (BigInt(now!.xmin) >= target) return;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}
