import { LakechatError } from '../errors.ts';
import type { AppendResult, RecordedEvent } from './types.ts';
import type { PreparedAppend } from './validate-append.ts';

type StoredIdentity = Pick<RecordedEvent, 'eventId' | 'streamId' | 'version' | 'position' | 'cursor' | 'type'> & { recordedAt?: Date };

/**
 * A retried append (same event ids, same stream, same order) returns the original result and writes
 * nothing: a client that timed out and retries must not post its message twice. Any other overlap
 * with stored event ids is a conflict, never a silent partial write.
 */
export function findDuplicateAppend(prepared: PreparedAppend, lookup: (eventId: string) => StoredIdentity | undefined): AppendResult | null {
  const stored = prepared.events.map((event) => lookup(event.eventId));
  const found = stored.filter((event) => event !== undefined);
  if (found.length === 0) return null;
  const isRetry =
    found.length === stored.length &&
    found.every((event, index) => event.streamId === prepared.streamId && event.type === prepared.events[index]!.type && (index === 0 || event.version === found[index - 1]!.version + 1));
  if (!isRetry) {
    throw new LakechatError('LAKECHAT_ERR_STORE_EVENT_ID_CONFLICT', undefined, {
      details: { streamId: prepared.streamId, eventIds: found.map((event) => event.eventId) },
    });
  }
  const last = found[found.length - 1]!;
  return {
    streamId: prepared.streamId,
    nextExpectedVersion: last.version,
    events: found.map(({ eventId, position, version, cursor, recordedAt }) => ({ eventId, position, version, cursor, ...(recordedAt === undefined ? {} : { recordedAt }) })),
    cursor: last.cursor,
    duplicate: true,
  };
}
