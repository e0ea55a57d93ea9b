import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/event-store/index.ts';
import { withSuffix } from '../../src/rebuild/ddl.ts';
import { lineFormats } from '../../src/replay/formats.ts';
import { replayFilterSchema, toReplayFilter } from '../../src/replay/replay-filter.ts';

const event: RecordedEvent = {
  position: 42,
  cursor: '900-42',
  streamId: 'chat-1',
  version: 3,
  eventId: '0b7e7b1c-5e2f-4e55-9d0b-3f5a7f2b9c11',
  type: 'MessagePosted',
  schemaVersion: 1,
  data: { content: 'a "quote", a comma\nand a line break' },
  metadata: { actor: 'a@b.c' },
  owner: null,
  recordedAt: new Date('2026-03-01T12:00:00.123Z'),
};

describe('replay line formats', () => {
  it('writes a CSV row on one line, quoting JSON columns and fields that need it', () => {
    const row = lineFormats.csv.line({ ...event, streamId: 'chat, with a comma' }, 0);
    expect(row).toBe(
      '42,900-42,"chat, with a comma",3,MessagePosted,0b7e7b1c-5e2f-4e55-9d0b-3f5a7f2b9c11,1,,2026-03-01T12:00:00.123Z,' +
        '"{""content"":""a \\""quote\\"", a comma\\nand a line break""}","{""actor"":""a@b.c""}"\n',
    );
    expect(row.split('\n')).toHaveLength(2);
  });

  it('writes JSON as an array whatever the number of events', () => {
    const json = lineFormats.json;
    expect(JSON.parse(json.start + json.end)).toEqual([]);
    expect(JSON.parse(json.start + json.line(event, 0) + json.line(event, 1) + json.end)).toHaveLength(2);
  });
});

describe('replay filters', () => {
  it('reads times as ISO 8601, a date or a time without offset as UTC', () => {
    const parsed = replayFilterSchema.parse({ since: '2026-03-01', until: '2026-03-01T12:30', type: 'A' });
    expect(toReplayFilter(parsed)).toEqual({ since: new Date('2026-03-01T00:00:00Z'), until: new Date('2026-03-01T12:30:00Z'), types: ['A'] });
    expect(replayFilterSchema.parse({ since: '2026-03-01T12:30:00+02:00' }).since).toEqual(new Date('2026-03-01T10:30:00Z'));
    for (const since of ['yesterday', '2026-13-01', '01/03/2026']) expect(replayFilterSchema.safeParse({ since }).success).toBe(false);
  });

  it('refuses positions that are not whole numbers and cursors it did not issue', () => {
    expect(replayFilterSchema.safeParse({ fromPosition: '-1' }).success).toBe(false);
    expect(replayFilterSchema.safeParse({ toPosition: '1.5' }).success).toBe(false);
    expect(replayFilterSchema.safeParse({ after: 'abc' }).success).toBe(false);
    expect(toReplayFilter(replayFilterSchema.parse({ fromPosition: '7', user: 'Someone@Example.com' }))).toEqual({ fromPosition: 7, owner: 'someone@example.com' });
  });
});

describe('shadow names', () => {
  it('keep the suffix and stay within 63 bytes', () => {
    expect(withSuffix('chats', '__rebuild')).toBe('chats__rebuild');
    const long = withSuffix('x'.repeat(63), '__rebuild');
    expect(long).toHaveLength(63);
    expect(long.endsWith('__rebuild')).toBe(true);
    expect(withSuffix('chats', '')).toBe('chats');
  });
});
