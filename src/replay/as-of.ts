import { LakechatError } from '../errors.ts';
import { compareCursors, decodeCursor, type EventStore, type RecordedEvent } from '../event-store/index.ts';
import { replayFilterShape } from './replay-filter.ts';

/**
 * A moment of the log: up to and including one event (a cursor, or the position of an event, taken to
 * its cursor), or every event recorded before a time.
 */
export type AsOf = { kind: 'cursor'; cursor: string; position: number | null } | { kind: 'time'; before: Date };

/** Reads `--as-of`: a cursor (812-40211, or naming its store: 812-40211.p…), a position (40211) or an ISO 8601 time. */
export async function resolveAsOf(store: EventStore, text: string): Promise<AsOf> {
  const value = text.trim();
  if (/^\d{1,20}-\d{1,20}(\.[0-9a-z]{1,40})?$/.test(value)) {
    // A cursor naming another store (another database, or this one before a repair) means other events.
    if (value.includes('.')) await store.checkCursor?.(value);
    return { kind: 'cursor', cursor: value, position: Number(decodeCursor(value).position) };
  }
  if (/^\d{1,16}$/.test(value)) {
    const position = Number(value);
    const { events } = await store.readAll({ fromPosition: position, toPosition: position, limit: 1 });
    const event = events[0];
    if (event === undefined) throw new LakechatError('LAKECHAT_ERR_REPLAY_AS_OF_NOT_FOUND', undefined, { details: { position } });
    return { kind: 'cursor', cursor: event.cursor, position };
  }
  const time = replayFilterShape.since.safeParse(value);
  if (!time.success || time.data === undefined) {
    throw new LakechatError('LAKECHAT_ERR_REPLAY_INVALID_ARGUMENT', '--as-of takes a cursor, a position or an ISO 8601 time', { details: { argument: 'as-of' } });
  }
  return { kind: 'time', before: time.data };
}

/** True when the event belongs to the state as of that moment. */
export function includes(asOf: AsOf, event: RecordedEvent): boolean {
  return asOf.kind === 'cursor' ? compareCursors(event.cursor, asOf.cursor) <= 0 : event.recordedAt.getTime() < asOf.before.getTime();
}

export function describeAsOf(asOf: AsOf): string {
  return asOf.kind === 'cursor' ? asOf.cursor : asOf.before.toISOString();
}
