/**
 * Erasing a user end to end (issue 13), through the whole app; run over memory and PostgreSQL.
 * User A has chats, messages (with trace summaries and client message ids), a profile and its
 * history; user B the same. A is erased; nothing of A may remain (API, replay, a rebuild, the
 * database's every table) and B's data must be byte for byte what it was.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { type EventStore, isTombstone, type RecordedEvent } from '../../src/event-store/index.ts';
import { profileStreamId } from '../../src/profiles/stream-id.ts';
import { exportEvents, lineFormats } from '../../src/replay/index.ts';
import type { AppUnderTest } from '../http/app-under-test.ts';

export const userA = 'erase-me.alice@example.com';
export const userB = 'keep-me.bob@example.com';
/** Every one of these is A's and must be gone. */
export const secretsOfA = [
  'erase-me',
  'Alice secret budget title',
  'Alice renamed title',
  'alice words one',
  'alice words two',
  'Alice Trace Summary',
  'Alice Employer',
  'alice-client-1',
  '1979-03-04',
  'Alice goal',
];

export async function seedUser(t: AppUnderTest, user: string, tag: string): Promise<void> {
  const ok = (response: { statusCode: number; body: string }): void => {
    if (response.statusCode >= 300) throw new Error(`${response.statusCode} ${response.body}`);
  };
  ok(await t.as(user, 'POST', '/api/chats', { body: { id: 'budget', title: `${tag} secret budget title` } }));
  ok(await t.as(user, 'PATCH', '/api/chats/budget', { body: { title: `${tag} renamed title` } }));
  ok(await t.as(user, 'POST', '/api/chats/budget/messages', { body: { role: 'user', content: `${tag.toLowerCase()} words one`, clientMessageId: `${tag.toLowerCase()}-client-1` } }));
  ok(
    await t.as(user, 'POST', '/api/chats/budget/messages', {
      body: { role: 'assistant', content: `${tag.toLowerCase()} words two`, traceId: 'trace-1', traceSummary: { note: `${tag} Trace Summary` } },
    }),
  );
  ok(await t.as(user, 'POST', '/api/chats', { body: { id: 'second', title: `${tag} second chat` } }));
  ok(await t.as(user, 'PATCH', '/api/profile', { body: { employerName: `${tag} Employer`, dateOfBirth: tag === 'Alice' ? '1979-03-04' : '1988-08-08', annualIncome: 123_456 } }));
  ok(await t.as(user, 'PATCH', '/api/profile', { body: { financialGoals: [`${tag} goal`], riskTolerance: 'moderate' } }));
}

/** What the API shows a user: their chats, messages, profile and its history. */
export async function apiViewOf(t: AppUnderTest, user: string): Promise<string> {
  const parts = await Promise.all([
    t.as(user, 'GET', '/api/chats'),
    t.as(user, 'GET', '/api/chats/budget'),
    t.as(user, 'GET', '/api/chats/budget/messages'),
    t.as(user, 'GET', '/api/profile'),
    t.as(user, 'GET', '/api/profile/history'),
  ]);
  return JSON.stringify(parts.map((part) => [part.statusCode, part.body]));
}

export async function allEvents(store: EventStore, filter: { owner?: string } = {}): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (let after: string | null = null; ; ) {
    const page = await store.readAll({ ...filter, after, limit: 1_000 });
    events.push(...page.events);
    if (page.events.length < 1_000) return events;
    after = page.cursor;
  }
}

/** The whole log as an analyst's export prints it, in every format. */
export async function exportedText(store: EventStore): Promise<string> {
  let text = '';
  for (const format of [lineFormats.ndjson, lineFormats.csv, lineFormats.json]) {
    await exportEvents({ store, filter: {}, format, out: { write: (chunk: string) => ((text += chunk), true), once: () => undefined } });
  }
  return text;
}

export async function waitForCompletion(t: AppUnderTest, user: string, erasureId: string): Promise<Record<string, unknown>> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    const response = await t.as(user, 'GET', `/api/me/erasure?id=${erasureId}`);
    expect(response.statusCode).toBe(200);
    if (response.json().state === 'completed') return response.json() as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the erasure did not complete within 60 s');
}

export function expectNothingOf(text: string, what: string): void {
  for (const secret of [...secretsOfA, userA, chatStreamId(userA, 'budget'), chatStreamId(userA, 'second'), profileStreamId(userA)]) {
    expect(text.includes(secret), `${what} still holds ${JSON.stringify(secret)}`).toBe(false);
  }
}

export interface ErasureBed {
  t: AppUnderTest;
  /** Every row of every table of the database, as text (PostgreSQL only). */
  dump?: () => Promise<string>;
  /** In memory: the user's read-model rows as the app has them, and as read models built afresh from the log have them. */
  rebuiltView?: (user: string) => Promise<{ live: string; rebuilt: string }>;
  /** On PostgreSQL: rebuilds every read model from the log (the rebuild module) after a dry run; returns the rows the dry run found different. */
  rebuild?: () => Promise<number>;
}

export function describeUserErasure(name: string, open: () => Promise<ErasureBed>): void {
  // Each test does a few dozen requests; the shared machine can be slow.
  describe(`erasing a user (${name})`, { timeout: 180_000 }, () => {
    let bed: ErasureBed;
    let t: AppUnderTest;
    beforeEach(async () => {
      bed = await open();
      t = bed.t;
    });
    afterEach(async () => {
      await t.close();
    });

    it("DELETE /api/me leaves nothing of the user anywhere (API, replay, rebuild, every table) and the other user's data byte for byte as it was", async () => {
      await seedUser(t, userA, 'Alice');
      await seedUser(t, userB, 'Bob');
      const eventsBefore = await allEvents(t.store);
      const bEventsBefore = JSON.stringify(await allEvents(t.store, { owner: userB }));
      const bViewBefore = await apiViewOf(t, userB);
      const aEvents = eventsBefore.filter((event) => event.owner === userA).length;
      expect(aEvents).toBe(7);
      if (bed.dump !== undefined) expect(await bed.dump()).toContain('Alice secret budget title');

      const accepted = await t.as(userA, 'DELETE', '/api/me');
      expect(accepted.statusCode).toBe(202);
      const { erasureId, state } = accepted.json() as { erasureId: string; state: string };
      expect(['pending', 'running', 'completed']).toContain(state);
      const again = await t.as(userA, 'DELETE', '/api/me');
      expect([202]).toContain(again.statusCode);
      const completed = await waitForCompletion(t, userA, erasureId);
      expect(completed).toMatchObject({ erasureId, state: 'completed', requestedBy: 'self', eventsErased: aEvents });
      expect(completed.rowsErased as number).toBeGreaterThan(0);
      // The second call found the open erasure, or (if the first had completed already) erased nothing more.
      const second = await waitForCompletion(t, userA, again.json().erasureId);
      if (second.erasureId !== erasureId) expect(second.eventsErased).toBe(0);

      // The API: A has nothing; this instance still answers "completed" without the id, for a while.
      expect((await t.as(userA, 'GET', '/api/chats')).json()).toMatchObject({ chats: [] });
      expect((await t.as(userA, 'GET', '/api/chats/budget')).statusCode).toBe(404);
      expect((await t.as(userA, 'GET', '/api/profile')).statusCode).toBe(404);
      expect((await t.as(userA, 'GET', '/api/profile/history')).json()).toMatchObject({ entries: [] });
      expect((await t.as(userA, 'GET', '/api/me/erasure')).json()).toMatchObject({ erasureId: second.erasureId, state: 'completed' });
      expect((await t.as(userB, 'GET', '/api/me/erasure')).json().error.code).toBe('LAKECHAT_ERR_ERASURE_NOT_FOUND');

      // The log keeps its shape: the same positions, cursors, types, versions and times; A's events are tombstones.
      const eventsAfter = await allEvents(t.store);
      const shape = (events: RecordedEvent[]): unknown[] => events.map((e) => [e.position, e.cursor, e.type, e.version, e.recordedAt.toISOString()]);
      expect(shape(eventsAfter)).toEqual(shape(eventsBefore));
      expect(eventsAfter.filter((event) => isTombstone(event.data))).toHaveLength(aEvents);
      expect(eventsAfter.filter((event) => isTombstone(event.data)).every((event) => event.owner === null && event.data.erasureId === erasureId)).toBe(true);
      expectNothingOf(JSON.stringify(eventsAfter), 'the log');
      expectNothingOf(await exportedText(t.store), 'the replay');
      expect(JSON.stringify(await allEvents(t.store, { owner: userB }))).toBe(bEventsBefore);
      expect(await apiViewOf(t, userB)).toBe(bViewBefore);

      if (bed.rebuiltView !== undefined) {
        const b = await bed.rebuiltView(userB);
        expect(b.rebuilt).toBe(b.live);
        const a = await bed.rebuiltView(userA);
        expect(a.rebuilt).toBe(a.live);
        expectNothingOf(a.rebuilt, 'the rebuilt read models');
      }
      if (bed.rebuild !== undefined) {
        expect(await bed.rebuild()).toBe(0);
        expect(await apiViewOf(t, userB)).toBe(bViewBefore);
        expect((await t.as(userA, 'GET', '/api/chats')).json()).toMatchObject({ chats: [] });
      }
      if (bed.dump !== undefined) {
        const dump = await bed.dump();
        expectNothingOf(dump, 'the database');
        expect(dump).toContain('Bob secret budget title');
      }

      // A may start afresh, on the same chat ids.
      expect((await t.as(userA, 'POST', '/api/chats', { body: { id: 'budget', title: 'a fresh start' } })).statusCode).toBe(201);
      expect((await t.as(userA, 'POST', '/api/chats/budget/messages', { body: { role: 'user', content: 'hello again' } })).statusCode).toBe(201);
      expect((await t.as(userA, 'GET', '/api/chats/budget/messages')).json().messages).toHaveLength(1);
    });

    it("DELETE /api/chats/:id erases the chat's title, messages and trace summaries from the log, and keeps the fact it was deleted", async () => {
      await seedUser(t, userA, 'Alice');
      expect((await t.as(userA, 'DELETE', '/api/chats/budget')).statusCode).toBe(204);
      const chat = (await allEvents(t.store)).filter((event) => event.streamId === chatStreamId(userA, 'budget'));
      expect(chat.map((event) => [event.type, isTombstone(event.data)])).toEqual([
        ['ChatStarted', true],
        ['ChatRenamed', true],
        ['MessagePosted', true],
        ['MessagePosted', true],
        ['ChatDeleted', false],
      ]);
      const text = JSON.stringify(await allEvents(t.store)) + (await exportedText(t.store)) + ((await bed.dump?.()) ?? '');
      for (const secret of ['Alice secret budget title', 'Alice renamed title', 'alice words one', 'alice words two', 'Alice Trace Summary']) expect(text).not.toContain(secret);
      expect(text).toContain('Alice second chat');
      // Still deleted: nothing more is accepted, and its id cannot be started again.
      expect((await t.as(userA, 'POST', '/api/chats/budget/messages', { body: { role: 'user', content: 'x' } })).json().error.code).toBe('LAKECHAT_ERR_CHAT_DELETED');
      expect((await t.as(userA, 'POST', '/api/chats', { body: { id: 'budget', title: 'again' } })).json().error.code).toBe('LAKECHAT_ERR_CHAT_DELETED');
      expect((await t.as(userA, 'GET', '/api/chats')).json().chats.map((c: { id: string }) => c.id)).toEqual(['second']);
    });

    it("DELETE /api/profile erases the profile's values and its history; a new profile starts afresh", async () => {
      await seedUser(t, userA, 'Alice');
      expect((await t.as(userA, 'DELETE', '/api/profile')).statusCode).toBe(204);
      const profile = (await allEvents(t.store)).filter((event) => event.streamId === profileStreamId(userA));
      expect(profile.map((event) => [event.type, isTombstone(event.data)])).toEqual([
        ['ProfileUpdated', true],
        ['ProfileUpdated', true],
        ['ProfileDeleted', false],
      ]);
      const text = JSON.stringify(await allEvents(t.store)) + (await exportedText(t.store)) + ((await bed.dump?.()) ?? '');
      for (const secret of ['Alice Employer', '1979-03-04', 'Alice goal', '123456']) expect(text).not.toContain(secret);
      expect((await t.as(userA, 'GET', '/api/profile')).statusCode).toBe(404);
      // The deletion's own entry stays (it holds no value), as a rebuild from the log would have it.
      expect((await t.as(userA, 'GET', '/api/profile/history')).json().entries.map((entry: { kind: string; changes: unknown[] }) => [entry.kind, entry.changes])).toEqual([['deleted', []]]);
      const fresh = await t.as(userA, 'PATCH', '/api/profile', { body: { jobTitle: 'Baker' } });
      expect(fresh.statusCode).toBe(201);
      expect(fresh.json()).toMatchObject({ jobTitle: 'Baker', employerName: null, annualIncome: null });
    });
  });
}
