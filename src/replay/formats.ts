import type { RecordedEvent } from '../event-store/index.ts';
import { eventLineColumns, toEventLine } from './event-line.ts';

export const replayFormats = ['ndjson', 'csv', 'json'] as const;
export type ReplayFormat = (typeof replayFormats)[number];

/** How a stream of events becomes text: what comes first, each event, and what comes last. */
export interface LineFormat {
  readonly contentType: string;
  /** Written before the first event (a CSV header, a JSON array's bracket). */
  readonly start: string;
  /** One event; `index` counts from 0 (JSON separates with commas). */
  line(event: RecordedEvent, index: number): string;
  readonly end: string;
}

const ndjson: LineFormat = {
  contentType: 'application/x-ndjson; charset=utf-8',
  start: '',
  line: (event) => `${JSON.stringify(toEventLine(event))}\n`,
  end: '',
};

const json: LineFormat = {
  contentType: 'application/json; charset=utf-8',
  start: '[',
  line: (event, index) => `${index === 0 ? '\n' : ',\n'}${JSON.stringify(toEventLine(event))}`,
  end: '\n]\n',
};

// RFC 4180: a field is quoted when it holds a comma, a quote or a line break, and quotes are doubled.
// JSON columns are always quoted; JSON text never holds a raw line break, so every row is one line.
const needsQuotes = /[",\r\n]|^\s|\s$/;

function csvField(value: string | number | null, alwaysQuote = false): string {
  if (value === null) return '';
  const text = String(value);
  return alwaysQuote || needsQuotes.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csv: LineFormat = {
  contentType: 'text/csv; charset=utf-8',
  start: `${eventLineColumns.join(',')}\n`,
  line: (event) =>
    [
      csvField(event.position),
      csvField(event.cursor),
      csvField(event.streamId),
      csvField(event.version),
      csvField(event.type),
      csvField(event.eventId),
      csvField(event.schemaVersion),
      csvField(event.owner),
      csvField(event.recordedAt.toISOString()),
      csvField(JSON.stringify(event.data), true),
      csvField(JSON.stringify(event.metadata), true),
    ].join(',') + '\n',
  end: '',
};

export const lineFormats: Readonly<Record<ReplayFormat, LineFormat>> = { ndjson, csv, json };
