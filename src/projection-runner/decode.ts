import type { Logger } from 'pino';
import { isTombstone, type RecordedEvent } from '../event-store/index.ts';
import { type AnyReadModel, handles } from './read-model.ts';
import { schemaMismatch } from './unappliable.ts';

type Decoded = { type: string; data: unknown } | null;

// Projections sharing a parser (chats and messages both read chat events) parse each event once.
const parsed = new WeakMap<RecordedEvent, Map<AnyReadModel['parse'], Decoded | { failed: unknown }>>();

function parseOnce(projection: AnyReadModel, event: RecordedEvent): Decoded | { failed: unknown } {
  let byParser = parsed.get(event);
  if (byParser === undefined) parsed.set(event, (byParser = new Map()));
  const known = byParser.get(projection.parse);
  if (known !== undefined) return known;
  let result: Decoded | { failed: unknown };
  try {
    result = projection.parse(event);
  } catch (error) {
    result = { failed: error };
  }
  byParser.set(projection.parse, result);
  return result;
}

/**
 * The projection's view of a stored event, or null when it does not handle it. A stored event whose
 * data does not match its schema is logged and skipped: one bad event must not stop every read model.
 */
export function decodeFor(projection: AnyReadModel, event: RecordedEvent, logger: Logger | undefined): Decoded {
  if (!takes(projection, event)) return null;
  const result = parseOnce(projection, event);
  if (result !== null && 'failed' in result) {
    logSchemaMismatch(logger, projection, event, result.failed);
    return null;
  }
  return result;
}

/**
 * True when the read model takes this stored event: one of its types, and not erased. An erased event
 * (a tombstone) is applied by no read model, live or rebuilt: what it held is gone.
 */
export function takes(projection: AnyReadModel, event: RecordedEvent): boolean {
  return handles(projection, event.type) && !isTombstone(event.data);
}

/** The one log line for a stored event skipped because its data does not match its schema. */
export function logSchemaMismatch(logger: Logger | undefined, projection: AnyReadModel, event: RecordedEvent, error: unknown): void {
  logger?.error({ err: error, projection: projection.name, eventId: event.eventId, type: event.type, cursor: event.cursor }, 'skipping a stored event whose data does not match its schema');
}

/**
 * The live runner's view of a stored event: like decodeFor, but an event whose data does not match
 * its schema throws UnappliableEventError, so the runner parks it for this projection (recorded,
 * reported by /health) instead of skipping it without a trace.
 */
export function decodeStrict(projection: AnyReadModel, event: RecordedEvent): Decoded {
  // An erased event (a tombstone) is applied by no read model: what it held is gone.
  if (!takes(projection, event)) return null;
  const result = parseOnce(projection, event);
  if (result !== null && 'failed' in result) throw schemaMismatch(projection.name, result.failed);
  return result;
}
