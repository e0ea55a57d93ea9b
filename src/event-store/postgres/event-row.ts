import { z } from 'zod';
import { LakechatError } from '../../errors.ts';
import type { RecordedEvent } from '../types.ts';
import { unescapeJson } from './json-text.ts';

/** int8 arrives as a bigint, a string or a number depending on the pool's type parsers. */
export const int8 = z.union([z.number(), z.bigint(), z.string()]).transform((value) => Number(value));

/**
 * The shape of an event row as the reads select it (`tx_id::text AS tx`, `event_id::text`): xid8
 * has no JavaScript type, and its text parses exactly into a BigInt whatever the pool's type parsers.
 * The schema documents the row; `readEventRow` checks the same shape by hand, because parsing a
 * 1,000-row page with zod cost 1.6 ms of the ~8 ms a readAll page took (measured with `npm run
 * bench`), and the hand check costs a tenth of that.
 */
export const eventRow = z.object({
  position: int8,
  tx: z.string(),
  stream_id: z.string(),
  stream_version: z.number(),
  event_id: z.string(),
  event_type: z.string(),
  schema_version: z.number(),
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  owner: z.string().nullable(),
  text_escaped: z.boolean(),
  recorded_at: z.union([z.date(), z.number(), z.string()]).transform((value) => (value instanceof Date ? value : new Date(value))),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function badRow(column: string): LakechatError {
  return new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', `The events table returned an unexpected ${column}`);
}

const decimal = /^\d{1,20}$/;

/**
 * One row of `eventRow`'s shape as a RecordedEvent, and its transaction id as PostgreSQL printed
 * it (canonical decimal, so the cursor is built from the text without a BigInt round trip).
 * `storeSuffix` (`.` and the store's name, or empty) ends every cursor: cursors name their store.
 */
export function readEventRow(row: Record<string, unknown>, storeSuffix = ''): { event: RecordedEvent; tx: string } {
  const { position: rawPosition, tx: rawTx, recorded_at: rawRecordedAt, data, metadata, owner } = row;
  const position = typeof rawPosition === 'number' ? rawPosition : Number(rawPosition);
  if (!Number.isSafeInteger(position) || typeof rawTx !== 'string' || !decimal.test(rawTx)) throw badRow('position');
  if (typeof row.stream_id !== 'string' || typeof row.event_id !== 'string' || typeof row.event_type !== 'string') throw badRow('identity');
  if (typeof row.stream_version !== 'number' || typeof row.schema_version !== 'number') throw badRow('version');
  if (!isObject(data) || !isObject(metadata) || (owner !== null && typeof owner !== 'string')) throw badRow('payload');
  const recordedAt = rawRecordedAt instanceof Date ? rawRecordedAt : typeof rawRecordedAt === 'number' || typeof rawRecordedAt === 'string' ? new Date(rawRecordedAt) : undefined;
  if (recordedAt === undefined) throw badRow('recorded_at');
  const escaped = row.text_escaped === true;
  return {
    tx: rawTx,
    event: {
      position,
      cursor: `${rawTx}-${position}${storeSuffix}`,
      streamId: row.stream_id,
      version: row.stream_version,
      eventId: row.event_id,
      type: row.event_type,
      schemaVersion: row.schema_version,
      data: escaped ? (unescapeJson(data) as Record<string, unknown>) : data,
      metadata: escaped ? (unescapeJson(metadata) as Record<string, unknown>) : metadata,
      owner,
      recordedAt,
    },
  };
}
