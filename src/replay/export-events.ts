import { once } from 'node:events';
import type { EventStore, ReadAllResult } from '../event-store/index.ts';
import type { LineFormat } from './formats.ts';
import type { ReplayFilter } from './replay-filter.ts';

/** Where the text goes: a file, stdout, an HTTP response (Node's Writable). */
export interface TextSink {
  write(chunk: string): boolean;
  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface ExportOptions {
  store: EventStore;
  filter: ReplayFilter;
  format: LineFormat;
  out: TextSink;
  /** Stop after this many events. */
  limit?: number | undefined;
  /** Events per read (at most 10,000, the store's largest page). */
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((events: number) => void) | undefined;
}

export interface ExportResult {
  events: number;
  /** Where a later replay with the same filters continues (`--after`). */
  cursor: string | null;
}

/**
 * Writes the events the filter selects, in log order, page by page: one page in memory, the next one
 * already being read, the writer's backpressure respected. Memory stays the same whatever the size of
 * the log. Ends at the head of the log (the first short page) or after `limit` events.
 */
export async function exportEvents(options: ExportOptions): Promise<ExportResult> {
  const { store, filter, format, out, signal } = options;
  const pageSize = Math.min(options.pageSize ?? 5_000, 10_000);
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  let events = 0;
  let cursor = filter.after ?? null;
  const read = (after: string | null): Promise<ReadAllResult> => store.readAll({ ...filter, after, limit: Math.min(pageSize, remaining) });

  await write(out, format.start);
  let next: Promise<ReadAllResult> | null = remaining > 0 ? read(cursor) : null;
  while (next !== null) {
    signal?.throwIfAborted();
    const page = await next;
    const wanted = Math.min(pageSize, remaining);
    const full = page.events.length >= wanted;
    remaining -= page.events.length;
    cursor = page.cursor;
    next = full && remaining > 0 ? read(page.cursor) : null;
    let chunk = '';
    for (const event of page.events) chunk += format.line(event, events++);
    await write(out, chunk);
    options.onProgress?.(events);
  }
  await write(out, format.end);
  return { events, cursor };
}

async function write(out: TextSink, chunk: string): Promise<void> {
  if (chunk === '' || out.write(chunk)) return;
  await once(out as unknown as NodeJS.EventEmitter, 'drain');
}
