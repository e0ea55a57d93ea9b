import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/event-store/index.ts';
import { AppliedInAppend } from '../../src/projection-runner/in-append.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';

const post = (eventId: string) => ({ eventId, type: 'MessagePosted' });

describe('the marks of what appends applied', () => {
  it('covers a write only when every read model that handles its events applied them', () => {
    const marks = new AppliedInAppend();
    marks.record(
      new Map([
        [
          'both',
          new Map([
            ['chats', 1],
            ['messages', 2],
          ]),
        ],
        ['messages-only', new Map([['messages', 2]])],
      ]),
    );
    expect(marks.covers([post('both')], allProjections)).toBe(true);
    expect(marks.covers([post('messages-only')], allProjections)).toBe(false);
    expect(marks.covers([post('both'), post('unmarked')], allProjections)).toBe(false);
    expect(marks.covers([], allProjections)).toBe(false);
    // A profile event handled by read models that applied nothing here.
    expect(marks.covers([{ eventId: 'both', type: 'ProfileUpdated' }], allProjections)).toBe(false);
    expect(marks.tableOf('both', 'chats')).toBe(1);
  });

  it('forgets the marks of events the runner passed, and keeps at most 100,000', () => {
    const marks = new AppliedInAppend();
    marks.record(new Map([['a', new Map([['messages', 2]])]]));
    marks.forget([{ eventId: 'a' } as RecordedEvent]);
    expect(marks.tableOf('a', 'messages')).toBeUndefined();
    marks.record(new Map(Array.from({ length: 100_005 }, (_, i) => [`e${i}`, new Map([['messages', 2]])])));
    expect(marks.size).toBe(100_000);
    expect(marks.tableOf('e0', 'messages')).toBeUndefined();
    expect(marks.tableOf('e100004', 'messages')).toBe(2);
  });
});
