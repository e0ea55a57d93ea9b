/**
 * The NDJSON export built from the table's text (what `npm run replay` runs) against the export built
 * from the store's events, event by event: the same bytes, whatever the filters, page sizes and limits,
 * on a log holding the cases where the text and JavaScript could differ (escaped strings, keys that
 * are array indexes, numbers JavaScript prints otherwise, quotes and control characters, no owner).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareCursors, type RecordedEvent } from '../../src/event-store/index.ts';
import { exportEvents, lineFormats, type ReplayFilter } from '../../src/replay/index.ts';
import { createLogBed, type LogBed, writeHistory } from './log-bed.ts';

let bed: LogBed;
let log: RecordedEvent[];

function textSink(): { write(chunk: string): boolean; once(): unknown; text: () => string } {
  let text = '';
  return {
    write(chunk: string) {
      text += chunk;
      return true;
    },
    once: () => undefined,
    text: () => text,
  };
}

async function both(filter: ReplayFilter, pageSize: number, limit?: number): Promise<{ fast: string; slow: string; fastCursor: string | null; slowCursor: string | null }> {
  const fastOut = textSink();
  const slowOut = textSink();
  const fast = await exportEvents({ store: bed.store, database: bed.pool, filter, format: lineFormats.ndjson, out: fastOut, pageSize, limit });
  const slow = await exportEvents({ store: bed.store, filter, format: lineFormats.ndjson, out: slowOut, pageSize, limit });
  expect(fast.events).toBe(slow.events);
  return { fast: fastOut.text(), slow: slowOut.text(), fastCursor: fast.cursor, slowCursor: slow.cursor };
}

/**
 * Both exports end at the same place: the last event's cursor after a full page, else the head's
 * boundary, which each read takes from its own snapshot (other test files' transactions move it), so
 * both must only be boundaries past the last event written.
 */
function expectSameEnd(result: { fast: string; fastCursor: string | null; slowCursor: string | null }): void {
  if (result.slowCursor === null || !result.slowCursor.endsWith('-0')) {
    expect(result.fastCursor).toBe(result.slowCursor);
    return;
  }
  expect(result.fastCursor).toMatch(/^\d+-0$/);
  const lines = result.fast.trimEnd().split('\n');
  const last = lines[lines.length - 1] === '' ? null : (JSON.parse(lines[lines.length - 1]!) as { cursor: string }).cursor;
  expect(compareCursors(result.fastCursor, last)).toBeGreaterThan(0);
}

/** Data whose text PostgreSQL and JavaScript could print differently. */
const oddData: Record<string, unknown>[] = [
  { nul: 'a\u0000b', note: 'U+0000 cannot be stored in jsonb: the row is escaped' },
  { lone: 'x\ud800y', mark: '\ue000 private use' },
  { '1': 'an array index key', a: 'comes after it in JavaScript', '10': [1, 2], '-1': 'not an index' },
  // biome-ignore lint/correctness/noPrecisionLoss: numbers a double cannot hold exactly, on purpose
  { small: 1e-7, large: 1e21, fraction: 0.1, negative: -0, big: 12345678901234567890, exact: 9007199254740993, list: [1.5, 2, -3.25e-10] },
  { quotes: 'say "hi" \\ back\\slash', controls: '\b\f\n\r\t\u0001\u001f\u007f', unicode: 'é 中文 😀 \u2028\u2029', slash: 'a/b', empty: '' },
  { nested: { deep: { deeper: [{ a: null }, [], {}, [[]]] } }, bools: [true, false, null], '': 'empty key', 'a b': 'space' },
  { __proto__: 'a key, not a prototype', constructor: 'also a key' },
];

beforeAll(async () => {
  bed = await createLogBed();
  await writeHistory(bed.writer, { users: 2, chatsPerUser: 2, messagesPerChat: 3 });
  for (const [index, data] of oddData.entries()) {
    const owner = index % 3 === 0 ? null : `odd"${index}\\@example.com`;
    await bed.store.append(`odd-${index % 2}`, [{ type: index % 2 === 0 ? 'OddHappened' : 'Odd"Quoted', data, metadata: { actor: 'test', nested: data } }], { owner });
  }
  const generated = fc.sample(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), { numRuns: 40, seed: 42 });
  await bed.store.append(
    'odd-generated',
    generated.map((data) => ({ type: 'Generated', data: data as Record<string, unknown> })),
    { owner: 'generated@example.com' },
  );
  await writeHistory(bed.writer, { users: 1, chatsPerUser: 1, messagesPerChat: 2, tag: 'late' });
  await bed.readable();
  log = (await bed.store.readAll({ limit: 10_000 })).events;
}, 120_000);

afterAll(async () => {
  await bed?.close();
});

describe('NDJSON export from the table text', () => {
  it('writes exactly the bytes the event-by-event export writes, escaped rows included', async () => {
    expect(log.some((event) => event.streamId.startsWith('odd-'))).toBe(true);
    for (const pageSize of [1, 3, 7, 5_000]) {
      const result = await both({}, pageSize);
      expect(result.fast.split('\n')).toHaveLength(log.length + 1);
      expect(result.fast).toBe(result.slow);
      expectSameEnd(result);
    }
  });

  it('parses back to the stored events, strings that jsonb cannot hold included', async () => {
    const { fast } = await both({ streamPrefix: 'odd-' }, 4);
    const lines = fast
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { event_id: string; data: unknown; metadata: unknown });
    const odd = log.filter((event) => event.streamId.startsWith('odd-'));
    expect(lines.map((line) => line.event_id)).toEqual(odd.map((event) => event.eventId));
    lines.forEach((line, index) => {
      expect(line.data).toEqual(odd[index]!.data);
      expect(line.metadata).toEqual(odd[index]!.metadata);
    });
    expect(lines.find((line) => (line.data as { nul?: string }).nul !== undefined)?.data).toMatchObject({ nul: 'a\u0000b' });
  });

  const at = (index: number) => log[index]!;
  const filters: [string, () => ReplayFilter][] = [
    ['--type', () => ({ types: ['OddHappened', 'MessagePosted'] })],
    ['--type with a quote', () => ({ types: ['Odd"Quoted'] })],
    ['--user', () => ({ owner: 'odd"1\\@example.com' })],
    ['--stream', () => ({ streamId: 'odd-0' })],
    ['--stream-prefix', () => ({ streamPrefix: 'chat-' })],
    ['positions', () => ({ fromPosition: at(5).position, toPosition: at(log.length - 5).position })],
    ['times', () => ({ since: at(3).recordedAt, until: at(log.length - 3).recordedAt })],
    ['--after', () => ({ after: at(10).cursor })],
    ['several at once', () => ({ types: ['OddHappened', 'Generated'], streamPrefix: 'odd-', after: at(2).cursor })],
  ];
  for (const [name, filter] of filters) {
    it(`writes the same bytes as the event-by-event export with ${name}`, async () => {
      const result = await both(filter(), 3);
      expect(result.fast.length).toBeGreaterThan(0);
      expect(result.fast).toBe(result.slow);
      expectSameEnd(result);
    });
  }

  it('stops after a limit at the same event and cursor, and continues from there', async () => {
    const first = await both({}, 5, 13);
    expect(first.fast).toBe(first.slow);
    expect(first.fastCursor).toBe(at(12).cursor);
    const rest = await both({ after: first.fastCursor! }, 5);
    expect(first.fast + rest.fast).toBe((await both({}, 5_000)).slow);
  });

  it('refuses a malformed cursor or filter as the store does', async () => {
    const out = textSink();
    await expect(exportEvents({ store: bed.store, database: bed.pool, filter: { after: 'nope' }, format: lineFormats.ndjson, out })).rejects.toMatchObject({
      code: 'LAKECHAT_ERR_STORE_INVALID_CURSOR',
    });
    await expect(exportEvents({ store: bed.store, database: bed.pool, filter: { fromPosition: -1 }, format: lineFormats.ndjson, out })).rejects.toMatchObject({
      code: 'LAKECHAT_ERR_STORE_INVALID_FILTER',
    });
  });
});
