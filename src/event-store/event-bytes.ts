import type { RecordedEvent } from './types.ts';

/** Sizes already measured: events are immutable and shared by every reader of a page. */
const measured = new WeakMap<RecordedEvent, number>();

/**
 * The bytes of an event's data as JSON text: what the byte budgets of pages and live queues count.
 * Measured once per event object (the PostgreSQL store records the size its page query computed).
 */
export function eventBytes(event: RecordedEvent): number {
  let bytes = measured.get(event);
  if (bytes === undefined) {
    bytes = Buffer.byteLength(JSON.stringify(event.data));
    measured.set(event, bytes);
  }
  return bytes;
}

export function rememberEventBytes(event: RecordedEvent, bytes: number): void {
  measured.set(event, bytes);
}

/** Checks a `maxBytes` option: undefined (no byte budget) or a whole number >= 1. */
export function validMaxBytes(maxBytes: number | undefined): number | undefined {
  if (maxBytes === undefined) return undefined;
  return Number.isSafeInteger(maxBytes) && maxBytes >= 1 ? maxBytes : 1;
}
