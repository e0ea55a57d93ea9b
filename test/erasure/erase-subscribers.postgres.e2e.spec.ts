import { describe, expect, it } from 'vitest';
import { usePostgresInstances } from '../ws/postgres-fixture.ts';
import type { Frame, Instance } from '../ws/ws-support.ts';
import { userA, userB } from './erase-user.ts';
import { allEvents } from './helpers.ts';

const { instance, client } = usePostgresInstances();
const analyst = 'analyst@example.com';
const env = { ANALYST_EMAILS: analyst };

async function seed(at: Instance, user: string, tag: string): Promise<void> {
  for (const [method, path, body] of [
    ['POST', '/api/chats', { id: 'budget', title: `${tag} secret title` }],
    ['POST', '/api/chats/budget/messages', { content: `${tag} secret words 1` }],
    ['POST', '/api/chats/budget/messages', { content: `${tag} secret words 2` }],
    ['PATCH', '/api/profile', { employerName: `${tag} Employer` }],
  ] as const) {
    const answer = await at.http(user, method, path, body);
    if (answer.status >= 300) throw new Error(JSON.stringify(answer.body));
  }
}

const shape = (frames: readonly Frame[]): unknown[] => frames.map((frame) => [frame.position, frame.cursor, frame.eventType, frame.version]);

describe('subscribers across an erasure (PostgreSQL, two instances)', () => {
  it("an analyst's `all` stream and the user's own, resuming after the erasure, get tombstones in place: no gap, no duplicate, no old payload", { timeout: 180_000 }, async () => {
    const a = await instance({ env });
    const b = await instance({ env });
    await seed(a, userA, 'Alice');
    await seed(a, userB, 'Bob');

    // Before: an analyst follows everything from the start on B, and reads half of it.
    const before = await client(b.url, { user: analyst });
    expect((await before.subscribe({ id: 'all', scope: 'all', after: null })).type).toBe('caught_up');
    await before.until(() => (before.events('all').length >= 8 ? true : undefined), 'the history');
    const midway = before.events('all')[2]!.cursor as string;
    const own = await client(b.url, { user: userA });
    expect((await own.subscribe({ id: 'me', scope: 'user', after: null })).type).toBe('caught_up');
    await own.until(() => (own.events('me').length >= 4 ? true : undefined), "the user's history");
    const ownLast = own.events('me').at(-1)!.cursor as string;

    // The erasure runs on A; B hears of it through NOTIFY.
    const accepted = await a.http(userA, 'DELETE', '/api/me');
    expect(accepted.status).toBe(202);
    for (const deadline = Date.now() + 60_000; (await a.http(userA, 'GET', `/api/me/erasure?id=${accepted.body.erasureId}`)).body.state !== 'completed'; ) {
      if (Date.now() > deadline) throw new Error('the erasure did not complete');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await seed(a, 'carol@example.com', 'Carol');
    await before.until(() => (before.events('all').length >= 12 ? true : undefined), 'the live events after the erasure');

    const log = await allEvents(b.store);
    // The live analyst saw every event once, in order; those sent after the erasure carry no old payload.
    expect(shape(before.events('all'))).toEqual(log.map((event) => [event.position, event.cursor, event.type, event.version]));
    expect(JSON.stringify(before.events('all').slice(8))).not.toContain('Alice');

    // Resuming after the erasure, from the middle of what it had read: tombstones in place, then the rest.
    const resumed = await client(b.url, { user: analyst });
    expect((await resumed.subscribe({ id: 'all', scope: 'all', after: midway })).type).toBe('caught_up');
    const expected = log.slice(log.findIndex((event) => event.cursor === midway) + 1);
    await resumed.until(() => (resumed.events('all').length >= expected.length ? true : undefined), 'the rest of the log');
    const got = resumed.events('all');
    expect(got.map((frame) => frame.cursor)).toEqual(expected.map((event) => event.cursor));
    expect(new Set(got.map((frame) => frame.cursor)).size).toBe(got.length);
    const tombstones = got.filter((frame) => frame.data.erased === true);
    expect(tombstones.length).toBe(expected.filter((event) => event.data.erased === true).length);
    expect(tombstones.length).toBeGreaterThan(0);
    expect(tombstones.every((frame) => frame.data.erasureId === accepted.body.erasureId && String(frame.streamId).startsWith('erased-'))).toBe(true);
    const text = JSON.stringify(got);
    for (const secret of ['Alice secret', 'Alice Employer', userA]) expect(text).not.toContain(secret);
    expect(text).toContain('Bob secret words 2');

    // The user's own stream, resumed on B, which did not run the erasure: the erased events are no one's now, so
    // nothing of them (the instance that ran it delivers them: own-subscription.*.spec.ts); a fresh start arrives.
    const ownAgain = await client(b.url, { user: userA });
    expect((await ownAgain.subscribe({ id: 'me', scope: 'user', after: ownLast })).type).toBe('caught_up');
    expect((await a.http(userA, 'POST', '/api/chats', { id: 'fresh', title: 'a fresh start' })).status).toBe(201);
    await ownAgain.until(() => (ownAgain.events('me').length >= 1 ? true : undefined), 'the fresh start');
    expect(ownAgain.events('me').map((frame) => [frame.eventType, frame.data.title])).toEqual([['ChatStarted', 'a fresh start']]);
  });
});
