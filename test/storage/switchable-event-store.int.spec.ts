import { describe, expect, it } from 'vitest';
import { MemoryEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { SwitchableEventStore } from '../../src/fallback/switchable-event-store.ts';
import { describeEventStoreContract } from '../event-store/contract.ts';

describeEventStoreContract('switchable (on the memory fallback)', async () => {
  const store = new SwitchableEventStore(new MemoryEventStore({ pollIntervalMs: 20 }));
  return { store, cleanup: () => store.close() };
});

async function take(iterator: AsyncIterator<RecordedEvent>, count: number): Promise<RecordedEvent[]> {
  const seen: RecordedEvent[] = [];
  while (seen.length < count) {
    const next = await Promise.race([iterator.next(), new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref())]);
    if (next === 'timeout') throw new Error(`timed out with ${seen.length} of ${count}`);
    if (next.done === true) break;
    seen.push(next.value);
  }
  return seen;
}

/**
 * The switch as fallback-storage.ts makes it, with a second memory log standing in for PostgreSQL:
 * the events are copied over (as the forwarder does), then the store switches.
 */
async function switched(): Promise<{ store: SwitchableEventStore; target: MemoryEventStore; before: string[] }> {
  const store = new SwitchableEventStore(new MemoryEventStore({ pollIntervalMs: 20 }));
  const target = new MemoryEventStore({ pollIntervalMs: 20 });
  for (const n of [1, 2, 3]) await store.append(`s${n}`, [{ type: 'OnMemory', data: { n } }]);
  const before = (await store.readAll()).events.map((event) => event.eventId);
  return { store, target, before };
}

async function forwardAndSwitch(store: SwitchableEventStore, target: MemoryEventStore): Promise<void> {
  await store.pause();
  for (const event of (await store.memory.readAll()).events) {
    await target.append(event.streamId, [{ eventId: event.eventId, type: event.type, data: event.data }], { expectedVersion: event.version - 1 });
  }
  store.switchTo(target, await target.headCursor());
}

describe('the switchable store', () => {
  it('gives a subscription that stays through the switch every event once, tells it the store changed, and goes on with the new store', async () => {
    const { store, target, before } = await switched();
    let changed = 0;
    const iterator = store.subscribe({ after: null, onStoreChanged: () => changed++ });
    expect((await take(iterator, 2)).map((event) => event.eventId)).toEqual(before.slice(0, 2));
    await forwardAndSwitch(store, target);
    await store.append('s9', [{ type: 'OnTarget', data: {} }]);
    const rest = await take(iterator, 2);
    expect(rest.map((event) => event.type)).toEqual(['OnMemory', 'OnTarget']);
    expect(rest[0]!.eventId).toBe(before[2]);
    expect(changed).toBe(1);
    expect(store.kind).toBe('memory');
    expect((await target.readAll()).events.map((event) => event.type)).toEqual(['OnMemory', 'OnMemory', 'OnMemory', 'OnTarget']);
    await iterator.return?.();
    await store.close();
  });

  it('holds appends back while paused and sends them to the new store after the switch', async () => {
    const { store, target } = await switched();
    await store.pause();
    let settled = false;
    const held = store.append('held', [{ type: 'Held', data: {} }]).then((result) => {
      settled = true;
      return result;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    store.switchTo(target, await target.headCursor());
    expect((await held).cursor.endsWith(target.storeId)).toBe(true);
    expect((await store.memory.readAll()).events.map((event) => event.type)).not.toContain('Held');
    await store.close();
  });

  it('resumes a reader from a memory cursor after the switch: the rest of the memory log, then the new store, each event once', async () => {
    const { store, target, before } = await switched();
    const first = (await store.readAll({ limit: 1 })).events[0]!;
    await forwardAndSwitch(store, target);
    await store.append('s9', [{ type: 'OnTarget', data: {} }]);
    await store.checkCursor(first.cursor);
    const page = await store.readAll({ after: first.cursor });
    expect(page.events.map((event) => event.eventId)).toEqual(before.slice(1));
    const next = await store.readAll({ after: page.cursor });
    expect(next.events.map((event) => event.type)).toEqual(['OnTarget']);
    const iterator = store.subscribe({ after: first.cursor });
    expect((await take(iterator, 3)).map((event) => event.type)).toEqual(['OnMemory', 'OnMemory', 'OnTarget']);
    await iterator.return?.();
    await store.close();
  });
});
