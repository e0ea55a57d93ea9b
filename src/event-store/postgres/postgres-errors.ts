/**
 * Reading PostgreSQL errors by SQLSTATE and constraint name, never by message. Slonik wraps some
 * driver errors (the driver's error is then its `cause`) and passes others through, so both look
 * along the cause chain.
 */

function* causeChain(error: unknown): Generator<Record<string, unknown>> {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    yield current as Record<string, unknown>;
    current = (current as { cause?: unknown }).cause;
  }
}

/** The SQLSTATE of a PostgreSQL error, if `error` is or wraps one. */
export function sqlState(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    if (typeof link.code === 'string' && /^[0-9A-Z]{5}$/.test(link.code)) return link.code;
  }
  return undefined;
}

export type EventsUniqueKey = 'stream_version' | 'event_id';

/** Which of the events table's unique keys an error violated, if it is a unique violation there. */
export function violatedUniqueKey(error: unknown): EventsUniqueKey | undefined {
  if (sqlState(error) !== '23505') return undefined;
  for (const link of causeChain(error)) {
    if (link.constraint === 'events_stream_version_key') return 'stream_version';
    if (link.constraint === 'events_event_id_key') return 'event_id';
  }
  return undefined;
}

/** Errors caused by one append's own values (class 22, data exception): retrying alone isolates them. */
export function isDataException(error: unknown): boolean {
  return sqlState(error)?.startsWith('22') === true;
}
