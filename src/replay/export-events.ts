import { once } from 'node:events';
import type { CommonQueryMethods } from 'slonik';
import type { EventStore, RecordedEvent } from '../event-store/index.ts';
import { type LineFormat, lineFormats } from './formats.ts';
import { type LineRow, ndjsonText, readLinePage } from './ndjson-pages.ts';
import type { ReplayFilter } from './replay-filter.ts';

/** Where the text goes: a file, stdout, an HTTP response (Node's Writable). */
export interface TextSink {
  write(chunk: string): boolean;
  once(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface ExportOptions {
  store: EventStore;
  /**
   * The store's database: with it, NDJSON is built from the table's columns (see ndjson-pages.ts),
   * with less of the process's work per event than from the store's events, and the same bytes.
   */
  database?: CommonQueryMethods | undefined;
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

/** Reads pages of something and turns a page into text. */
interface PageSource<Item> {
  read(after: string | null, limit: number): Promise<{ items: Item[]; cursor: string | null }>;
  text(items: Item[], firstIndex: number, after: string | null): string | Promise<string>;
}

function storeSource(options: ExportOptions): PageSource<RecordedEvent> {
  const { store, filter, format } = options;
  return {
    read: async (after, limit) => {
      const page = await store.readAll({ ...filter, after, limit });
      return { items: page.events, cursor: page.cursor };
    },
    text: (events, firstIndex) => {
      let chunk = '';
      let index = firstIndex;
      for (const event of events) chunk += format.line(event, index++);
      return chunk;
    },
  };
}

function ndjsonSource(options: ExportOptions, database: CommonQueryMethods): PageSource<LineRow> {
  const { store, filter } = options;
  return {
    read: async (after, limit) => {
      const page = await readLinePage(database, after, limit, filter, store.storeId ?? null);
      return { items: page.rows, cursor: page.cursor };
    },
    text: (rows, _firstIndex, after) => ndjsonText(rows, store, filter, after),
  };
}

/**
 * Writes the events the filter selects, in log order, page by page: one page in memory, the next one
 * already being read, the writer's backpressure respected. Memory stays the same whatever the size of
 * the log. Ends at the head of the log (the first short page) or after `limit` events.
 */
export async function exportEvents(options: ExportOptions): Promise<ExportResult> {
  if (options.database !== undefined && options.format === lineFormats.ndjson) return exportPages(options, ndjsonSource(options, options.database));
  return exportPages(options, storeSource(options));
}

async function exportPages<Item>(options: ExportOptions, source: PageSource<Item>): Promise<ExportResult> {
  const { filter, format, out, signal } = options;
  const pageSize = Math.min(options.pageSize ?? 5_000, 10_000);
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  let events = 0;
  let cursor = filter.after ?? null;

  await write(out, format.start);
  let next: Promise<{ items: Item[]; cursor: string | null }> | null = remaining > 0 ? source.read(cursor, Math.min(pageSize, remaining)) : null;
  while (next !== null) {
    signal?.throwIfAborted();
    const page = await next;
    const wanted = Math.min(pageSize, remaining);
    const full = page.items.length >= wanted;
    const pageAfter = cursor;
    remaining -= page.items.length;
    cursor = page.cursor;
    next = full && remaining > 0 ? source.read(page.cursor, Math.min(pageSize, remaining)) : null;
    // A failed read surfaces at its await; meanwhile it must not count as unhandled.
    next?.catch(() => undefined);
    await write(out, await source.text(page.items, events, pageAfter));
    events += page.items.length;
    options.onProgress?.(events);
  }
  await write(out, format.end);
  return { events, cursor };
}

async function write(out: TextSink, chunk: string): Promise<void> {
  if (chunk === '' || out.write(chunk)) return;
  await once(out as unknown as NodeJS.EventEmitter, 'drain');
}
