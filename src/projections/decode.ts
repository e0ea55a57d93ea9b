import type { Logger } from 'pino';
import type { RecordedEvent } from '../event-store/index.ts';
import type { AnyProjection } from './projection.ts';

/**
 * The projection's view of a stored event, or null when it does not handle it. A stored event whose
 * data does not match its schema is logged and skipped: one bad event must not stop every read model.
 */
export function decodeFor(projection: AnyProjection, event: RecordedEvent, logger: Logger | undefined): { type: string; data: unknown } | null {
  if (!Object.hasOwn(projection.postgres.handlers, event.type)) return null;
  try {
    return projection.parse(event);
  } catch (error) {
    logger?.error(
      { err: error, projection: projection.name, eventId: event.eventId, type: event.type, cursor: event.cursor },
      'skipping a stored event whose data does not match its schema',
    );
    return null;
  }
}
