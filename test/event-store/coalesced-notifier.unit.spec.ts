import { describe, expect, it } from 'vitest';
import { CoalescedNotifier } from '../../src/event-store/postgres/coalesced-notifier.ts';

describe('coalesced notifications', () => {
  it('sends a burst of commits as the first cursor at once, then only the newest', async () => {
    // Given a notifier whose sends take a moment
    const sent: string[] = [];
    const notifier = new CoalescedNotifier({
      intervalMs: 5,
      send: async (cursor) => {
        sent.push(cursor);
        await new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    // When 100 commits are reported in one go
    for (let position = 1; position <= 100; position++) notifier.changed(`7-${position}`);
    await notifier.close();
    // Then two notifications went out: the first commit at once, the newest after the interval
    expect(sent).toEqual(['7-1', '7-100']);
  });

  it('never sends an older cursor than one already sent, and keeps going after a failed send', async () => {
    const sent: string[] = [];
    let fail = true;
    const notifier = new CoalescedNotifier({
      intervalMs: 0,
      send: async (cursor) => {
        sent.push(cursor);
        if (fail) {
          fail = false;
          throw new Error('connection lost');
        }
      },
    });
    notifier.changed('9-5'); // this send fails
    notifier.changed('8-40'); // an older transaction's cursor reported late
    await new Promise((resolve) => setTimeout(resolve, 5));
    notifier.changed('9-6');
    await notifier.close();
    notifier.changed('9-7'); // after close: ignored
    expect(sent).toEqual(['9-5', '9-6']);
  });
});
