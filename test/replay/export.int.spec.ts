/**
 * The replay's exporter on a real log: every filter selects what it says, in log order; every format
 * holds every event exactly; a replay continues where the last stopped; memory stays flat on a log
 * far larger than the bound.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEventLog } from '../../scripts/bench/seed-log.ts';
import type { RecordedEvent } from '../../src/event-store/index.ts';
import { eventLineColumns, exportEvents, lineFormats, type ReplayFilter, type ReplayFormat } from '../../src/replay/index.ts';
import { createLogBed, type LogBed, writeHistory } from './log-bed.ts';

let bed: LogBed;
let log: RecordedEvent[];

/** An in-memory sink, and the text it received. */
function textSink(): { write(chunk: string): boolean; once(): unknown; text: () => string } {
  let text = '';
  return {
    write(chunk: string) {
      text += chunk;
      return true;
    },
    once() {
      return undefined;
    },
    text: () => text,
  };
}

async function replay(filter: ReplayFilter, format: ReplayFormat = 'ndjson', limit?: number): Promise<{ text: string; cursor: string | null; events: number }> {
  const out = textSink();
  const result = await exportEvents({ store: bed.store, filter, format: lineFormats[format], out, limit, pageSize: 7 });
  return { text: out.text(), ...result };
}

const ids = (text: string): string[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { event_id: string }).event_id);

/** RFC 4180, enough for the test: quoted fields with doubled quotes, commas and line breaks inside. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  return rows;
}

beforeAll(async () => {
  bed = await createLogBed();
  await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 4 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await writeHistory(bed.writer, { users: 2, chatsPerUser: 1, messagesPerChat: 3, tag: 'late' });
  await bed.readable();
  log = (await bed.store.readAll({ limit: 10_000 })).events;
}, 120_000);

afterAll(async () => {
  await bed?.close();
});

describe('replay export', () => {
  it('writes every event once, in log order, as NDJSON lines with the documented columns', async () => {
    const { text, events, cursor } = await replay({});
    expect(events).toBe(log.length);
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.event_id)).toEqual(log.map((event) => event.eventId));
    expect(Object.keys(lines[0]!)).toEqual([...eventLineColumns]);
    const event = log[5]!;
    expect(lines[5]).toEqual({
      position: event.position,
      cursor: event.cursor,
      stream_id: event.streamId,
      stream_version: event.version,
      event_type: event.type,
      event_id: event.eventId,
      schema_version: event.schemaVersion,
      owner: event.owner,
      recorded_at: event.recordedAt.toISOString(),
      data: event.data,
      metadata: event.metadata,
    });
    // Nothing new: continuing from the cursor gives nothing.
    expect((await replay({ after: cursor })).events).toBe(0);
  });

  const at = (index: number) => log[index]!;
  const filters: [string, () => ReplayFilter, (event: RecordedEvent) => boolean][] = [
    ['--type (several)', () => ({ types: ['ChatRenamed', 'ProfileDeleted'] }), (e) => e.type === 'ChatRenamed' || e.type === 'ProfileDeleted'],
    ['--user', () => ({ owner: 'user1@example.com' }), (e) => e.owner === 'user1@example.com'],
    ['--stream', () => ({ streamId: at(3).streamId }), (e) => e.streamId === at(3).streamId],
    ['--stream-prefix', () => ({ streamPrefix: 'profile-' }), (e) => e.streamId.startsWith('profile-')],
    ['--from-position and --to-position', () => ({ fromPosition: at(10).position, toPosition: at(20).position }), (e) => e.position >= at(10).position && e.position <= at(20).position],
    ['--since', () => ({ since: at(log.length - 20).recordedAt }), (e) => e.recordedAt >= at(log.length - 20).recordedAt],
    ['--until', () => ({ until: at(15).recordedAt }), (e) => e.recordedAt < at(15).recordedAt],
    ['--after', () => ({ after: at(30).cursor }), (e) => e.position > at(30).position],
    [
      'several at once',
      () => ({ owner: 'user0@example.com', types: ['MessagePosted'], streamPrefix: 'chat-', since: at(5).recordedAt }),
      (e) => e.owner === 'user0@example.com' && e.type === 'MessagePosted' && e.recordedAt >= at(5).recordedAt,
    ],
  ];
  for (const [name, filter, keep] of filters) {
    it(`selects with ${name} exactly the events it names`, async () => {
      const expected = log.filter(keep).map((event) => event.eventId);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(log.length);
      expect(ids((await replay(filter())).text)).toEqual(expected);
    });
  }

  it('writes CSV with a header and data and metadata as JSON columns, one row per event', async () => {
    const { text } = await replay({ owner: 'user0@example.com' }, 'csv');
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([...eventLineColumns]);
    const expected = log.filter((event) => event.owner === 'user0@example.com');
    expect(rows).toHaveLength(expected.length);
    expect(text.trimEnd().split('\n')).toHaveLength(expected.length + 1);
    rows.forEach((row, index) => {
      const event = expected[index]!;
      expect(row.slice(0, 9)).toEqual([
        String(event.position),
        event.cursor,
        event.streamId,
        String(event.version),
        event.type,
        event.eventId,
        String(event.schemaVersion),
        event.owner ?? '',
        event.recordedAt.toISOString(),
      ]);
      expect(JSON.parse(row[9]!)).toEqual(event.data);
      expect(JSON.parse(row[10]!)).toEqual(event.metadata);
    });
  });

  it('writes JSON as one array of the NDJSON lines', async () => {
    const json = JSON.parse((await replay({ types: ['MessagePosted'] }, 'json')).text) as unknown[];
    const ndjson = (await replay({ types: ['MessagePosted'] })).text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(json).toEqual(ndjson);
    expect(JSON.parse((await replay({ types: ['NoSuchType'] }, 'json')).text)).toEqual([]);
  });

  it('stops after --limit events, and continues exactly there with --after', async () => {
    const first = await replay({ types: ['MessagePosted'] }, 'ndjson', 11);
    expect(first.events).toBe(11);
    const rest = await replay({ types: ['MessagePosted'], after: first.cursor });
    expect([...ids(first.text), ...ids(rest.text)]).toEqual(log.filter((event) => event.type === 'MessagePosted').map((event) => event.eventId));
  });

  it('keeps memory flat on a log far larger than the bound', { timeout: 300_000 }, async () => {
    await seedEventLog(bed.database.url, { events: 250_000, transactions: 5 });
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/replay/fixtures/heap-during-export.ts', bed.database.url], {
      maxBuffer: 1 << 20,
    });
    const measured = JSON.parse(stdout) as { events: number; bytes: number; baseline: number; max: number };
    const bound = 48 * 1024 * 1024;
    expect(measured.events).toBeGreaterThanOrEqual(250_000);
    // The text written is several times the bound: holding it, or the events, could not fit.
    expect(measured.bytes).toBeGreaterThan(2 * bound);
    expect(measured.max - measured.baseline).toBeLessThan(bound);
  });
});
