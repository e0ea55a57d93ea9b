/**
 * The memory store and the PostgreSQL store read the same log the same way: for any combination of
 * filters (types repeated or not, owner, stream, prefix, other streams besides, positions, times) and any page size, both
 * return the same events, once each, in the same order.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventFilter, type EventStore, MemoryEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { createPostgresTestBed, type PostgresTestBed } from './postgres-support.ts';

const types = ['ChatStarted', 'MessagePosted', 'ProfileUpdated', 'Noted'];
const owners = ['a@x.com', 'b@x.com', 'c@x.com'];
const streams = ['chat-1', 'chat-2', 'chat-10', 'profile-a', 'profile-b', 'other'];

let bed: PostgresTestBed;
let postgres: EventStore;
const memory = new MemoryEventStore({ pollIntervalMs: 50 });
/** Each store's own copy of the log, in append order (times and positions are each store's own). */
const logs = new Map<EventStore, RecordedEvent[]>();

async function everything(store: EventStore, filter: EventFilter = {}, limit = 10_000): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (let after: string | null = null; ; ) {
    const page = await store.readAll({ ...filter, after, limit });
    events.push(...page.events);
    if (page.events.length < limit) return events;
    after = page.cursor;
  }
}

beforeAll(async () => {
  bed = await createPostgresTestBed(4);
  postgres = bed.openStore({ pollIntervalMs: 100 });
  const plan = fc.sample(fc.record({ stream: fc.constantFrom(...streams), type: fc.constantFrom(...types), owner: fc.constantFrom(...owners) }), { numRuns: 60, seed: 12 });
  for (const [index, step] of plan.entries()) {
    const event = { eventId: randomUUID(), type: step.type, data: { index } };
    for (const store of [memory, postgres]) await store.append(step.stream, [event], { expectedVersion: 'any', owner: step.owner });
    // A few milliseconds between some appends, so time windows split the log.
    if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // Other test files share the server: their open transactions can keep new rows unreadable a while.
  for (const deadline = Date.now() + 30_000; (await everything(postgres)).length < plan.length && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const store of [memory, postgres]) logs.set(store, await everything(store));
}, 120_000);

afterAll(async () => {
  await memory.close();
  await bed?.close();
});

/** A filter, with positions and times named by an event's index in the log, so each store reads its own. */
// Each filter is left out half the time, so combinations of few filters (where a repeat shows) are common.
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 2 });
const filterPlan = fc.record({
  types: maybe(fc.array(fc.constantFrom(...types, 'Unknown'), { maxLength: 6 })),
  owner: maybe(fc.constantFrom(...owners, 'nobody@x.com')),
  streamId: maybe(fc.constantFrom(...streams)),
  streamPrefix: maybe(fc.constantFrom('chat-', 'chat-1', 'profile-', 'o', 'none-')),
  alsoStreamIds: maybe(fc.subarray([...streams, 'none'])),
  fromIndex: maybe(fc.nat(59)),
  toIndex: maybe(fc.nat(59)),
  sinceIndex: maybe(fc.nat(59)),
  untilIndex: maybe(fc.nat(59)),
});

type FilterPlan = typeof filterPlan extends fc.Arbitrary<infer T> ? T : never;

function filterFor(store: EventStore, plan: FilterPlan): EventFilter {
  const log = logs.get(store)!;
  const filter: EventFilter = {};
  if (plan.types !== undefined) filter.types = plan.types;
  if (plan.owner !== undefined) filter.owner = plan.owner;
  if (plan.streamId !== undefined) filter.streamId = plan.streamId;
  if (plan.streamPrefix !== undefined) filter.streamPrefix = plan.streamPrefix;
  if (plan.alsoStreamIds !== undefined) filter.alsoStreamIds = plan.alsoStreamIds;
  if (plan.fromIndex !== undefined) filter.fromPosition = log[plan.fromIndex]!.position;
  if (plan.toIndex !== undefined) filter.toPosition = log[plan.toIndex]!.position;
  if (plan.sinceIndex !== undefined) filter.since = log[plan.sinceIndex]!.recordedAt;
  if (plan.untilIndex !== undefined) filter.until = log[plan.untilIndex]!.recordedAt;
  return filter;
}

describe('the memory and PostgreSQL stores', () => {
  it('hold the same log', () => {
    expect(logs.get(postgres)!.map((event) => event.eventId)).toEqual(logs.get(memory)!.map((event) => event.eventId));
    expect(logs.get(postgres)).toHaveLength(60);
  });

  it('return the same events, once each, for any combination of filters, repeats included, at any page size', async () => {
    await fc.assert(
      fc.asyncProperty(filterPlan, fc.constantFrom(1, 3, 7, 10_000), async (plan, limit) => {
        const fromMemory = (await everything(memory, filterFor(memory, plan), limit)).map((event) => event.eventId);
        const fromPostgres = (await everything(postgres, filterFor(postgres, plan), limit)).map((event) => event.eventId);
        expect(fromPostgres).toEqual(fromMemory);
        expect(new Set(fromPostgres).size).toBe(fromPostgres.length);
      }),
      { numRuns: 150 },
    );
  });

  it("read the events of `alsoStreamIds` besides the owner's, whatever the owner (a user's subscription after their erasure)", async () => {
    for (const store of [memory, postgres]) {
      const log = logs.get(store)!;
      const got = await everything(store, { owner: 'a@x.com', alsoStreamIds: ['chat-2', 'other'], types: ['MessagePosted', 'Noted'] }, 3);
      const expected = log.filter((event) => (event.owner === 'a@x.com' || ['chat-2', 'other'].includes(event.streamId)) && ['MessagePosted', 'Noted'].includes(event.type));
      expect(got.map((event) => event.eventId)).toEqual(expected.map((event) => event.eventId));
      expect(got.some((event) => event.owner !== 'a@x.com')).toBe(true);
    }
  });

  it('return each event once when the type filter repeats a type (A, A)', async () => {
    for (const store of [memory, postgres]) {
      const once = await everything(store, { types: ['MessagePosted'] });
      expect(once.length).toBeGreaterThan(0);
      expect(await everything(store, { types: ['MessagePosted', 'MessagePosted', 'MessagePosted'] })).toEqual(once);
    }
  });
});
