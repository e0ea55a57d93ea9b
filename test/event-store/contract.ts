/**
 * The event store's specification. Every implementation runs this same suite and must pass it
 * unchanged: the PostgreSQL store and the in-memory store behave identically.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLakechatError } from '../../src/errors.ts';
import {
  compareCursors,
  decodeCursor,
  type EventStore,
  encodeCursor,
  isTombstone,
  MemoryEventStore,
  type NewEvent,
  type RecordedEvent,
  WrongExpectedVersionError,
} from '../../src/event-store/index.ts';

export interface StoreUnderTest {
  store: EventStore;
  cleanup(): Promise<void>;
}

const event = (type: string, data: Record<string, unknown> = {}, extra: Partial<NewEvent> = {}): NewEvent => ({ type, data, ...extra });

async function collect(iterator: AsyncIterator<RecordedEvent>, count: number, timeoutMs = 10_000): Promise<RecordedEvent[]> {
  const seen: RecordedEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (seen.length < count) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out with ${seen.length} of ${count} events`);
    const next = await Promise.race([iterator.next(), new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), remaining).unref())]);
    if (next === 'timeout') throw new Error(`timed out with ${seen.length} of ${count} events`);
    if (next.done === true) break;
    seen.push(next.value);
  }
  return seen;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${code}, but it succeeded`);
    },
    (caught: unknown) => caught,
  );
  expect(isLakechatError(error) ? error.code : error).toBe(code);
  return error;
}

export function describeEventStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name} event store contract`, () => {
    let subject: StoreUnderTest;
    let store: EventStore;
    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('append', () => {
      it('numbers a new stream 1, 2, 3 and gives each event a position and a cursor', async () => {
        const result = await store.append('chat-1', [event('A'), event('B'), event('C')], { expectedVersion: 'no_stream' });
        expect(result.nextExpectedVersion).toBe(3);
        expect(result.duplicate).toBe(false);
        expect(result.events.map((e) => e.version)).toEqual([1, 2, 3]);
        const positions = result.events.map((e) => e.position);
        expect([...positions].sort((a, b) => a - b)).toEqual(positions);
        expect(new Set(positions).size).toBe(3);
        expect(result.cursor).toBe(result.events[2]!.cursor);
        for (const appended of result.events) expect(typeof appended.cursor).toBe('string');
      });

      it('stores type, data, metadata, owner, schema version and the time recorded', async () => {
        const eventId = randomUUID();
        await store.append(
          'profile-a',
          [{ eventId, type: 'ProfileUpdated', schemaVersion: 2, data: { changes: { notes: 'é 🚀 \u0000-free' } }, metadata: { actor: 'a@x.com', correlationId: 'req-1' } }],
          { owner: 'a@x.com' },
        );
        const [stored] = (await store.readStream('profile-a')).events;
        expect(stored).toMatchObject({
          eventId,
          streamId: 'profile-a',
          version: 1,
          type: 'ProfileUpdated',
          schemaVersion: 2,
          data: { changes: { notes: 'é 🚀 \u0000-free' } },
          metadata: { actor: 'a@x.com', correlationId: 'req-1' },
          owner: 'a@x.com',
        });
        expect(stored!.recordedAt).toBeInstanceOf(Date);
        expect(Math.abs(stored!.recordedAt.getTime() - Date.now())).toBeLessThan(60_000);
      });

      it('keeps what was stored when the caller later mutates its own objects', async () => {
        const data = { text: 'original' };
        await store.append('s', [event('A', data)]);
        data.text = 'mutated';
        expect((await store.readStream('s')).events[0]!.data).toEqual({ text: 'original' });
      });

      it('appends when the expected version matches, and rejects a stale one writing nothing', async () => {
        await store.append('s', [event('A'), event('B')], { expectedVersion: 0 });
        await store.append('s', [event('C')], { expectedVersion: 2 });
        const error = await expectCode(store.append('s', [event('D'), event('E')], { expectedVersion: 2 }), 'LAKECHAT_ERR_STORE_WRONG_EXPECTED_VERSION');
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ streamId: 's', expected: 2, actual: 3 });
        const { version, events } = await store.readStream('s');
        expect(version).toBe(3);
        expect(events.map((e) => e.type)).toEqual(['A', 'B', 'C']);
      });

      it('honours no_stream, stream_exists and any', async () => {
        await expectCode(store.append('s', [event('A')], { expectedVersion: 'stream_exists' }), 'LAKECHAT_ERR_STORE_WRONG_EXPECTED_VERSION');
        await store.append('s', [event('A')], { expectedVersion: 'no_stream' });
        await expectCode(store.append('s', [event('B')], { expectedVersion: 'no_stream' }), 'LAKECHAT_ERR_STORE_WRONG_EXPECTED_VERSION');
        await store.append('s', [event('B')], { expectedVersion: 'stream_exists' });
        const result = await store.append('s', [event('C')], { expectedVersion: 'any' });
        expect(result.nextExpectedVersion).toBe(3);
        expect((await store.readStream('other')).version).toBe(0);
      });

      it('lets exactly one of many concurrent appends at the same expected version win', async () => {
        await store.append('race', [event('Start')]);
        const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => store.append('race', [event('Move', { i })], { expectedVersion: 1 })));
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(WrongExpectedVersionError);
        }
        expect((await store.readStream('race')).version).toBe(2);
      });

      it('serializes concurrent "any" appends to one stream without losing any', async () => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.append('busy', [event('Tick', { i })])));
        const { events } = await store.readStream('busy');
        expect(events.map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(new Set(events.map((e) => e.data.i)).size).toBe(20);
      });

      it('treats a retried append with the same event ids as done: no duplicate, original positions', async () => {
        const ids = [randomUUID(), randomUUID()];
        const first = await store.append('s', [event('A', {}, { eventId: ids[0] }), event('B', {}, { eventId: ids[1] })], { expectedVersion: 'no_stream' });
        await store.append('s', [event('C')]);
        const retry = await store.append('s', [event('A', {}, { eventId: ids[0] }), event('B', {}, { eventId: ids[1] })], { expectedVersion: 'no_stream' });
        expect(retry.duplicate).toBe(true);
        expect(retry.events).toEqual(first.events);
        expect(retry.cursor).toBe(first.cursor);
        expect((await store.readStream('s')).version).toBe(3);
      });

      it('makes concurrent retries of one append store it once', async () => {
        const eventId = randomUUID();
        const results = await Promise.all(Array.from({ length: 8 }, () => store.append('s', [event('A', {}, { eventId })])));
        expect(new Set(results.map((r) => r.events[0]!.position)).size).toBe(1);
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
        expect((await store.readStream('s')).version).toBe(1);
      });

      it('rejects an event id already stored in another stream or batch, writing nothing', async () => {
        const eventId = randomUUID();
        await store.append('s1', [event('A', {}, { eventId })]);
        await expectCode(store.append('s2', [event('A', {}, { eventId })]), 'LAKECHAT_ERR_STORE_EVENT_ID_CONFLICT');
        await expectCode(store.append('s1', [event('A', {}, { eventId }), event('B')]), 'LAKECHAT_ERR_STORE_EVENT_ID_CONFLICT');
        expect((await store.readStream('s2')).version).toBe(0);
        expect((await store.readStream('s1')).version).toBe(1);
      });

      it('returns data and metadata strings exactly, even characters PostgreSQL text cannot hold', async () => {
        const tricky = {
          nul: 'a\u0000b',
          mark: '\uE000 private use, \uE0000 and \uE000e',
          lone: 'x\uD800y\uDC00z',
          pair: '\uD83D\uDE80',
          escapes: '\\u0000 and \\\u0000',
          ['key\u0000with nul']: ['\u0000', { deep: '\uE000\u0000' }],
        };
        await store.append('s', [event('Tricky', tricky, { metadata: { client: 'c\u0000', plain: 'ok' } }), event('Plain', { mark: '\uE000' })]);
        const { events } = await store.readStream('s');
        expect(events[0]!.data).toEqual(tricky);
        expect(events[0]!.metadata).toEqual({ client: 'c\u0000', plain: 'ok' });
        expect(events[1]!.data).toEqual({ mark: '\uE000' });
        expect((await store.readAll()).events.map((e) => e.data)).toEqual([tricky, { mark: '\uE000' }]);
      });

      it('keeps data and metadata as JSON: refuses what JSON cannot hold, returns what JSON makes of the rest', async () => {
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await expectCode(store.append('s', [event('A', { n: 1n })]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A', cyclic)]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A', {}, { metadata: { n: 1n } })]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A', { toJSON: () => 'not an object' })]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        const at = new Date('2026-01-02T03:04:05.678Z');
        await store.append('s', [event('A', { at, gone: undefined, nan: Number.NaN, list: [1, undefined] })]);
        expect((await store.readStream('s')).events[0]!.data).toEqual({ at: '2026-01-02T03:04:05.678Z', nan: null, list: [1, null] });
      });

      it('rejects stream ids, types and owners holding U+0000 or an unpaired surrogate', async () => {
        await expectCode(store.append('s\u0000', [event('A')]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s\uD800', [event('A')]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A\u0000')]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A')], { owner: 'a\u0000@x.com' }), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        expect((await store.readAll()).events).toHaveLength(0);
      });

      it('refuses an expected version far beyond the stream with the concurrency error', async () => {
        await store.append('s', [event('A')]);
        const error = await expectCode(store.append('s', [event('B')], { expectedVersion: 2 ** 40 }), 'LAKECHAT_ERR_STORE_WRONG_EXPECTED_VERSION');
        expect(error).toMatchObject({ expected: 2 ** 40, actual: 1 });
      });

      it('decides appends issued together in order, each against the version the ones before it left', async () => {
        const outcomes = await Promise.allSettled([
          store.append('g', [event('A')], { expectedVersion: 'no_stream' }),
          store.append('g', [event('B'), event('C')], { expectedVersion: 1 }),
          store.append('g', [event('Stale')], { expectedVersion: 1 }),
          store.append('g', [event('D')], { expectedVersion: 3 }),
          store.append('g', [event('Again')], { expectedVersion: 'no_stream' }),
          store.append('h', [event('E')], { expectedVersion: 'stream_exists' }),
          store.append('g', [event('F')], { expectedVersion: 'any' }),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
        expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ expected: 1, actual: 3 });
        expect((outcomes[4] as PromiseRejectedResult).reason).toMatchObject({ expected: 'no_stream', actual: 4 });
        expect((outcomes[5] as PromiseRejectedResult).reason).toMatchObject({ expected: 'stream_exists', actual: 0 });
        expect((outcomes[6] as PromiseFulfilledResult<{ nextExpectedVersion: number }>).value.nextExpectedVersion).toBe(5);
        expect((await store.readStream('g')).events.map((e) => `${e.version}${e.type}`)).toEqual(['1A', '2B', '3C', '4D', '5F']);
      });

      it('rejects malformed appends with a clear code', async () => {
        await expectCode(store.append('s', []), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('', [event('A')]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [{ type: '', data: {} }]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [{ type: 'A', data: [] as unknown as Record<string, unknown> }]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A', {}, { eventId: 'not-a-uuid' })]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        const id = randomUUID();
        await expectCode(store.append('s', [event('A', {}, { eventId: id }), event('B', {}, { eventId: id })]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A')], { expectedVersion: -1 }), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        await expectCode(store.append('s', [event('A', {}, { schemaVersion: 2 ** 31 })]), 'LAKECHAT_ERR_STORE_INVALID_APPEND');
        expect((await store.readAll()).events).toHaveLength(0);
      });
    });

    describe('readStream', () => {
      beforeEach(async () => {
        await store.append(
          's',
          Array.from({ length: 10 }, (_, i) => event('E', { i: i + 1 })),
        );
        await store.append('other', [event('X')]);
      });

      it('reads forwards from a version with a limit', async () => {
        const { version, events } = await store.readStream('s', { fromVersion: 4, limit: 3 });
        expect(version).toBe(10);
        expect(events.map((e) => e.version)).toEqual([4, 5, 6]);
      });

      it('reads backwards from the end, or from a version', async () => {
        expect((await store.readStream('s', { direction: 'backwards', limit: 3 })).events.map((e) => e.version)).toEqual([10, 9, 8]);
        expect((await store.readStream('s', { direction: 'backwards', fromVersion: 2 })).events.map((e) => e.version)).toEqual([2, 1]);
      });

      it('returns nothing, at version 0, for a stream that does not exist', async () => {
        expect(await store.readStream('missing')).toEqual({ streamId: 'missing', version: 0, events: [] });
      });
    });

    describe('readAll', () => {
      it('returns every event once, in order, when paged by cursor', async () => {
        for (let i = 0; i < 7; i++) {
          await store.append(`s${i % 3}`, [event('E', { i, part: 0 }), event('E', { i, part: 1 })], { owner: `u${i % 2}@x.com` });
        }
        const seen: RecordedEvent[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 20; pages++) {
          const page = await store.readAll({ after: cursor, limit: 3 });
          seen.push(...page.events);
          cursor = page.cursor;
          if (page.events.length < 3) break;
        }
        expect(seen).toHaveLength(14);
        expect(new Set(seen.map((e) => e.eventId)).size).toBe(14);
        for (let i = 1; i < seen.length; i++) expect(compareCursors(seen[i - 1]!.cursor, seen[i]!.cursor)).toBeLessThan(0);
        expect((await store.readAll({ after: cursor })).events).toEqual([]);
      });

      it('filters by type, owner, stream and stream prefix', async () => {
        await store.append('chat-1', [event('ChatStarted'), event('MessagePosted')], { owner: 'a@x.com' });
        await store.append('chat-2', [event('ChatStarted')], { owner: 'b@x.com' });
        await store.append('profile-a', [event('ProfileUpdated')], { owner: 'a@x.com' });
        const types = (options: Parameters<EventStore['readAll']>[0]) => store.readAll(options).then((r) => r.events.map((e) => `${e.streamId}/${e.type}`));
        expect(await types({ types: ['ChatStarted'] })).toEqual(['chat-1/ChatStarted', 'chat-2/ChatStarted']);
        expect(await types({ owner: 'a@x.com' })).toEqual(['chat-1/ChatStarted', 'chat-1/MessagePosted', 'profile-a/ProfileUpdated']);
        expect(await types({ streamId: 'chat-2' })).toEqual(['chat-2/ChatStarted']);
        expect(await types({ streamPrefix: 'chat-', owner: 'a@x.com', types: ['MessagePosted', 'ProfileUpdated'] })).toEqual(['chat-1/MessagePosted']);
      });

      it('narrows by position range and by recorded time, resuming past what did not match', async () => {
        const appended: RecordedEvent[] = [];
        for (let i = 0; i < 4; i++) {
          await store.append('s', [event('E', { i })]);
          // Distinct recording times, so each bound falls between two events.
          const before = Date.now();
          while (Date.now() <= before + 2) await new Promise((resolve) => setTimeout(resolve, 1));
        }
        appended.push(...(await store.readAll()).events);
        const [, second, third, fourth] = appended;
        const indexes = (options: Parameters<EventStore['readAll']>[0]) => store.readAll(options).then((r) => r.events.map((e) => e.data.i));
        expect(await indexes({ fromPosition: second!.position, toPosition: third!.position })).toEqual([1, 2]);
        expect(await indexes({ fromPosition: fourth!.position + 1 })).toEqual([]);
        // recordedAt is read at millisecond precision; PostgreSQL keeps microseconds, so a bound taken
        // from an event's recordedAt is at or just before the event itself.
        expect(await indexes({ since: second!.recordedAt })).toEqual([1, 2, 3]);
        expect(await indexes({ until: fourth!.recordedAt })).toEqual([0, 1, 2]);
        expect(await indexes({ since: second!.recordedAt, until: third!.recordedAt })).toEqual([1]);
        const page = await store.readAll({ toPosition: second!.position, limit: 10 });
        expect(page.events.map((e) => e.data.i)).toEqual([0, 1]);
        await store.append('s', [event('E', { i: 4 })]);
        expect((await store.readAll({ after: page.cursor, toPosition: second!.position })).events).toEqual([]);
        // A short page's cursor is past everything that existed, matched or not.
        expect(await indexes({ after: page.cursor })).toEqual([4]);
      });

      it('refuses a malformed position or time filter', async () => {
        await expectCode(store.readAll({ fromPosition: -1 }), 'LAKECHAT_ERR_STORE_INVALID_FILTER');
        await expectCode(store.readAll({ toPosition: 1.5 }), 'LAKECHAT_ERR_STORE_INVALID_FILTER');
        await expectCode(store.readAll({ since: new Date('nonsense') }), 'LAKECHAT_ERR_STORE_INVALID_FILTER');
      });

      it('resumes a filtered read past events that did not match', async () => {
        await store.append('a', [event('Wanted')]);
        const first = await store.readAll({ types: ['Wanted'] });
        await store.append('b', [event('Other'), event('Other')]);
        await store.append('a', [event('Wanted', { second: true })]);
        const next = await store.readAll({ types: ['Wanted'], after: first.cursor });
        expect(next.events.map((e) => e.data)).toEqual([{ second: true }]);
      });

      it('rejects a cursor it did not issue', async () => {
        await expectCode(store.readAll({ after: 'garbage' }), 'LAKECHAT_ERR_STORE_INVALID_CURSOR');
        await expectCode(store.readAll({ after: "1-1'; drop table events; --" }), 'LAKECHAT_ERR_STORE_INVALID_CURSOR');
      });

      it('refuses a cursor of another store (another memory log, or a bare PostgreSQL cursor given to memory), reading or checking it', async () => {
        const appended = await store.append('s', [event('Mine'), event('Mine')]);
        const other = new MemoryEventStore();
        const theirs = (await other.append('s', [event('Theirs')])).cursor;
        await other.close();
        const { tx, position, store: name } = decodeCursor(appended.cursor);
        // The same point, named as the other kind of store names it.
        const renamed = encodeCursor({ tx, position, store: name === null ? 'mforeign01' : null });
        for (const foreign of [theirs, renamed]) {
          await expectCode(store.checkCursor!(foreign), 'LAKECHAT_ERR_STORE_INVALID_CURSOR');
          await expectCode(store.readAll({ after: foreign }), 'LAKECHAT_ERR_STORE_INVALID_CURSOR');
        }
        await store.checkCursor!(appended.cursor);
      });

      it('refuses a cursor beyond its head (which would answer caught up and then deliver nothing)', async () => {
        const appended = await store.append('s', [event('One')]);
        const { tx, position, store: name } = decodeCursor(appended.cursor);
        await expectCode(store.checkCursor!(encodeCursor({ tx: tx + 1_000_000n, position, store: name })), 'LAKECHAT_ERR_STORE_INVALID_CURSOR');
        await expectCode(store.checkCursor!(encodeCursor({ tx, position: position + 1_000_000n, store: name })), 'LAKECHAT_ERR_STORE_INVALID_CURSOR');
        await store.checkCursor!((await store.headCursor())!);
        await store.checkCursor!(appended.cursor);
      });

      it('cuts a page by bytes of event data, keeping at least one event, and resumes after it without loss', async () => {
        const big = 'x'.repeat(1_000);
        for (let i = 0; i < 10; i++) await store.append(`s${i % 2}`, [event('Big', { i, big })], { owner: 'a@x.com' });
        await store.append('huge', [event('Huge', { big: 'y'.repeat(5_000) })], { owner: 'a@x.com' });
        await store.append('s0', [event('Big', { i: 10, big })], { owner: 'a@x.com' });
        const seen: RecordedEvent[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 30; pages++) {
          const page = await store.readAll({ after: cursor, limit: 100, maxBytes: 3_500, owner: 'a@x.com' });
          expect(page.events.length).toBeGreaterThan(0);
          const bytes = page.events.reduce((sum, e) => sum + JSON.stringify(e.data).length, 0);
          // At most the budget (the JSON text each store measures differs by a few spaces), or one event alone.
          if (page.events.length > 1) expect(bytes).toBeLessThanOrEqual(3_500 + 20 * page.events.length);
          seen.push(...page.events);
          cursor = page.cursor;
          if (page.truncated !== true) break;
          expect(page.events.length).toBeLessThan(100);
          expect(page.cursor).toBe(page.events[page.events.length - 1]!.cursor);
        }
        expect(seen.map((e) => (e.type === 'Huge' ? 'huge' : e.data.i))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'huge', 10]);
        expect((await store.readAll({ after: cursor, maxBytes: 3_500 })).events).toEqual([]);
      });

      it('gives a head cursor after which only new events are read', async () => {
        await store.append('s', [event('Old')]);
        const head = await store.headCursor();
        await store.append('s', [event('New')]);
        expect((await store.readAll({ after: head })).events.map((e) => e.type)).toEqual(['New']);
      });
    });

    describe('subscribe', () => {
      it('catches up from the beginning, signals the live edge once, then delivers live events', async () => {
        await store.append('s', [event('H1'), event('H2')]);
        const caughtUp: (string | null)[] = [];
        const controller = new AbortController();
        const iterator = store.subscribe({ after: null, signal: controller.signal, onCaughtUp: (cursor) => caughtUp.push(cursor) });
        const history = await collect(iterator, 2);
        expect(history.map((e) => e.type)).toEqual(['H1', 'H2']);
        const live = collect(iterator, 2);
        await store.append('s', [event('L1')]);
        await store.append('t', [event('L2')]);
        expect((await live).map((e) => e.type)).toEqual(['L1', 'L2']);
        expect(caughtUp).toHaveLength(1);
        controller.abort();
        expect((await iterator.next()).done).toBe(true);
      });

      it('starts at the live edge by default', async () => {
        await store.append('s', [event('Before')]);
        const iterator = store.subscribe();
        const next = collect(iterator, 1);
        await new Promise((resolve) => setTimeout(resolve, 50));
        await store.append('s', [event('After')]);
        expect((await next).map((e) => e.type)).toEqual(['After']);
        await iterator.return?.();
      });

      it('delivers only what the filter selects, and resumes after a cursor', async () => {
        const first = await store.append('chat-1', [event('A')], { owner: 'a@x.com' });
        await store.append('chat-2', [event('B')], { owner: 'b@x.com' });
        await store.append('chat-1', [event('C')], { owner: 'a@x.com' });
        const iterator = store.subscribe({ after: first.cursor, filter: { owner: 'a@x.com' } });
        const got = collect(iterator, 2);
        await store.append('chat-3', [event('D')], { owner: 'b@x.com' });
        await store.append('chat-1', [event('E')], { owner: 'a@x.com' });
        expect((await got).map((e) => e.type)).toEqual(['C', 'E']);
        await iterator.return?.();
      });

      it('delivers every event exactly once, in order, to many subscribers while writers append', async () => {
        await store.append('seed', [event('Seed')]);
        const live: Promise<void>[] = [];
        const subscribers = Array.from({ length: 5 }, (_, i) => {
          let reached!: () => void;
          live.push(new Promise<void>((resolve) => (reached = resolve)));
          return store.subscribe({ after: i % 2 === 0 ? null : undefined, onCaughtUp: () => reached() });
        });
        const total = 1 + 8 * 25;
        const received = subscribers.map((s, i) => collect(s, i % 2 === 0 ? total : total - 1, 20_000));
        await Promise.all(live);
        await Promise.all(
          Array.from({ length: 8 }, async (_, writer) => {
            for (let n = 0; n < 25; n++) await store.append(`w${writer}`, [event('W', { writer, n })]);
          }),
        );
        for (const [i, events] of (await Promise.all(received)).entries()) {
          const ids = events.map((e) => e.eventId);
          expect(new Set(ids).size, `subscriber ${i}`).toBe(ids.length);
          for (let k = 1; k < events.length; k++) expect(compareCursors(events[k - 1]!.cursor, events[k]!.cursor)).toBeLessThan(0);
          for (let w = 0; w < 8; w++) {
            expect(events.filter((e) => e.streamId === `w${w}`).map((e) => e.data.n)).toEqual(Array.from({ length: 25 }, (_, n) => n));
          }
        }
        await Promise.all(subscribers.map((s) => s.return?.()));
      });

      it('catches up in pages cut by bytes, pulling a page only when the previous one was consumed', async () => {
        const big = 'z'.repeat(2_000);
        for (let i = 0; i < 20; i++) await store.append('s', [event('Big', { i, big })]);
        let reads = 0;
        const iterator = store.subscribe({
          after: null,
          maxPageBytes: 5_000,
          beforeRead: async () => {
            reads++;
            return () => undefined;
          },
        });
        const first = await collect(iterator, 1);
        expect(first[0]!.data.i).toBe(0);
        // The first page held two or three events: nothing more was read while they were not consumed.
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(reads).toBe(1);
        const rest = await collect(iterator, 19);
        expect(rest.map((e) => e.data.i)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
        expect(reads).toBeGreaterThanOrEqual(7);
        await iterator.return?.();
      });

      it('reads nothing for a subscription aborted while it waits for its turn to read', async () => {
        await store.append('s', [event('H')]);
        const controller = new AbortController();
        let read = 0;
        let admit!: () => void;
        const iterator = store.subscribe({
          after: null,
          signal: controller.signal,
          beforeRead: (signal) =>
            new Promise((resolve) => {
              admit = () => resolve(() => undefined);
              signal?.addEventListener('abort', () => resolve(() => undefined), { once: true });
            }).then((release) => {
              if (signal?.aborted !== true) read++;
              return release as () => void;
            }),
        });
        const next = iterator.next();
        await new Promise((resolve) => setTimeout(resolve, 20));
        controller.abort();
        expect((await next).done).toBe(true);
        admit();
        expect(read).toBe(0);
      });

      it('ends when its signal aborts while waiting for events', async () => {
        const controller = new AbortController();
        const iterator = store.subscribe({ signal: controller.signal });
        const next = iterator.next();
        setTimeout(() => controller.abort(), 20);
        expect((await next).done).toBe(true);
      });
    });

    describe('erase', () => {
      const erasure = { erasureId: 'e-1', streamKey: 'key-1', batchSize: 2 };

      it("erasing an owner rewrites each of their events in place as a tombstone and leaves everyone else's untouched", async () => {
        await store.append('chat-a1', [event('Started', { title: 'secret' }), event('Posted', { content: 'a words' })], { owner: 'a@x.com' });
        await store.append('chat-b1', [event('Started', { title: 'b title' })], { owner: 'b@x.com' });
        await store.append('profile-a', [event('Updated', { income: 1 }, { metadata: { actor: 'a@x.com' } })], { owner: 'a@x.com' });
        const before = (await store.readAll()).events;
        const result = await store.erase!({ owner: 'a@x.com' }, erasure);
        expect(result.events).toBe(3);
        expect(result.streamIds.sort()).toEqual(['chat-a1', 'profile-a']);
        const after = (await store.readAll()).events;
        expect(after.map((e) => [e.position, e.cursor, e.type, e.version, e.recordedAt.getTime()])).toEqual(
          before.map((e) => [e.position, e.cursor, e.type, e.version, e.recordedAt.getTime()]),
        );
        const erased = after.filter((e) => e.streamId !== 'chat-b1');
        for (const tombstone of erased) {
          expect(tombstone.data).toEqual({ erased: true, erasureId: 'e-1' });
          expect(isTombstone(tombstone.data)).toBe(true);
          expect(tombstone.metadata).toEqual({});
          expect(tombstone.owner).toBeNull();
          expect(tombstone.streamId).toMatch(/^erased-/);
          expect(before.map((e) => e.eventId)).not.toContain(tombstone.eventId);
        }
        expect(after.find((e) => e.streamId === 'chat-b1')).toEqual(before.find((e) => e.streamId === 'chat-b1'));
        // Not findable from the old ids, and the user may start afresh on them.
        expect((await store.readStream('chat-a1')).version).toBe(0);
        expect((await store.readAll({ owner: 'a@x.com' })).events).toEqual([]);
        const fresh = await store.append('chat-a1', [event('Started', { title: 'new' })], { owner: 'a@x.com', expectedVersion: 'no_stream' });
        expect(fresh.nextExpectedVersion).toBe(1);
        // Twice is harmless.
        expect((await store.erase!({ owner: 'b@x.com', streamIds: [] }, { ...erasure, erasureId: 'e-2' })).events).toBe(1);
      });

      it("erasing streams' content keeps their ids, owners, metadata and the kept types", async () => {
        await store.append('chat-1', [event('Started', { title: 't' }), event('Posted', { content: 'c' }), event('Deleted', { chatId: '1' })], { owner: 'a@x.com' });
        const result = await store.erase!({ streamIds: ['chat-1'], keepTypes: ['Deleted'] }, erasure);
        expect(result.events).toBe(2);
        const stream = (await store.readStream('chat-1')).events;
        expect(stream.map((e) => [e.type, isTombstone(e.data), e.owner])).toEqual([
          ['Started', true, 'a@x.com'],
          ['Posted', true, 'a@x.com'],
          ['Deleted', false, 'a@x.com'],
        ]);
        expect((await store.erase!({ streamIds: ['chat-1'], keepTypes: ['Deleted'] }, erasure)).events).toBe(0);
      });

      it('a subscriber following the log gets tombstones in place of events erased before it read them, with no gap or duplicate', async () => {
        await store.append('chat-a', [event('A1', { content: 'secret 1' }), event('A2', { content: 'secret 2' })], { owner: 'a@x.com' });
        await store.append('chat-b', [event('B1', { content: 'kept' })], { owner: 'b@x.com' });
        const iterator = store.subscribe({ after: null });
        const first = await collect(iterator, 1);
        await store.erase!({ owner: 'a@x.com' }, erasure);
        const rest = await collect(iterator, 2);
        const all = [...first, ...rest];
        expect(all.map((e) => e.position)).toEqual((await store.readAll()).events.map((e) => e.position));
        expect(new Set(all.map((e) => e.position)).size).toBe(3);
        expect(rest[0]!.data).toEqual({ erased: true, erasureId: 'e-1' });
        expect(rest[1]!.data).toEqual({ content: 'kept' });
        await iterator.return?.();
      });
    });
  });
}
