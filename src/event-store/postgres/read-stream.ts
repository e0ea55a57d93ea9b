import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import type { ReadStreamResult } from '../types.ts';
import { readEventRow } from './event-row.ts';

const versionRow = z.object({ current_version: z.number() });

const maxVersion = 2_147_483_647;

/**
 * A stream's events by version, with its current version, in one query. No snapshot filter is
 * needed here: version n + 1 is only ever written after version n committed, so a stream read never
 * has a hole to skip.
 */
export async function readStreamPage(
  db: CommonQueryMethods,
  streamId: string,
  options: { fromVersion: number | undefined; limit: number; backwards: boolean },
  storeSuffix = '',
): Promise<ReadStreamResult> {
  const from = Math.max(Math.min(options.fromVersion ?? (options.backwards ? maxVersion : 1), maxVersion), options.backwards ? 0 : 1);
  const page = options.backwards ? sql.fragment`stream_version <= ${from} ORDER BY stream_version DESC` : sql.fragment`stream_version >= ${from} ORDER BY stream_version`;
  const result = await db.query(sql.unsafe`
    SELECT current.version AS current_version, page.*
    FROM (
      SELECT coalesce((SELECT stream_version FROM events WHERE stream_id = ${streamId} ORDER BY stream_version DESC LIMIT 1), 0) AS version
    ) AS current
    LEFT JOIN LATERAL (
      SELECT position, tx_id::text AS tx, stream_id, stream_version, event_id::text AS event_id, event_type, schema_version,
        data, metadata, owner, text_escaped, recorded_at
      FROM events WHERE stream_id = ${streamId} AND ${page} LIMIT ${options.limit}
    ) AS page ON true`);
  const rows = result.rows as readonly Record<string, unknown>[];
  const events = [];
  for (const row of rows) if (row.position !== null) events.push(readEventRow(row, storeSuffix).event);
  return { streamId, version: versionRow.parse(rows[0]).current_version, events };
}
