/**
 * The erased user's own `user` subscription, resumed after the erasure on the instance that ran it
 * (issue 13; docs/privacy.md, "What every reader sees"): it receives the tombstones of the events it
 * had not read yet, at their places in the log, with the cursors the `all` stream gives them; from
 * the start, every erased event as a tombstone; and what the user writes afresh, as usual.
 * Run over PostgreSQL and memory.
 */
import { expect } from 'vitest';
import type { Client, Frame, Instance } from '../ws/ws-support.ts';
import { userA, userB } from './erase-user.ts';
import { allEvents } from './helpers.ts';

async function seed(at: Instance, user: string, tag: string): Promise<void> {
  for (const [method, path, body] of [
    ['POST', '/api/chats', { id: 'budget', title: `${tag} secret title` }],
    ['POST', '/api/chats/budget/messages', { content: `${tag} secret words 1` }],
    ['POST', '/api/chats/budget/messages', { content: `${tag} secret words 2` }],
    ['POST', '/api/chats', { id: 'second', title: `${tag} second title` }],
    ['PATCH', '/api/profile', { employerName: `${tag} Employer` }],
  ] as const) {
    const answer = await at.http(user, method, path, body);
    if (answer.status >= 300) throw new Error(JSON.stringify(answer.body));
  }
}

const place = (frame: Frame): unknown[] => [frame.position, frame.cursor, frame.eventType, frame.version];

/** The subscription's frames up to its `caught_up`: what it read from the log. */
async function catchUp(client: Client, id: string, after: string | null): Promise<Frame[]> {
  const from = client.frames.length;
  const caughtUp = await client.subscribe({ id, scope: 'user', after });
  expect(caughtUp.type, JSON.stringify(caughtUp)).toBe('caught_up');
  const end = client.frames.indexOf(caughtUp);
  return client.frames.slice(from, end).filter((frame) => frame.type === 'event' && frame.subscription === id);
}

export async function ownSubscriptionAcrossErasure(a: Instance, client: (url: string, user: string) => Promise<Client>): Promise<void> {
  await seed(a, userA, 'Alice');
  await seed(a, userB, 'Bob');
  const n = 5;

  // Before: the user follows their scope from the start, reads it all, remembers a cursor midway.
  const before = await client(a.url, userA);
  const read = await catchUp(before, 'me', null);
  expect(read.length).toBe(n);
  const midway = read[1]!.cursor as string;
  before.close();

  const accepted = await a.http(userA, 'DELETE', '/api/me');
  expect(accepted.status).toBe(202);
  const erasureId = accepted.body.erasureId as string;
  for (const deadline = Date.now() + 60_000; (await a.http(userA, 'GET', `/api/me/erasure?id=${erasureId}`)).body.state !== 'completed'; ) {
    if (Date.now() > deadline) throw new Error('the erasure did not complete');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const log = await allEvents(a.store);
  const tombstoneAt = (position: number): unknown[] => {
    const event = log.find((candidate) => candidate.position === position)!;
    return [event.position, event.cursor, event.type, event.version, event.data];
  };

  // Resumed from the cursor midway: exactly the tombstones of the events after it, in their places.
  const resumed = await client(a.url, userA);
  const rest = await catchUp(resumed, 'me', midway);
  expect(rest.map((frame) => [...place(frame), frame.data])).toEqual(read.slice(2).map((frame) => tombstoneAt(frame.position)));
  expect(rest.every((frame) => frame.data.erased === true && frame.data.erasureId === erasureId)).toBe(true);

  // From the start: every one of the user's events, as its tombstone.
  const fresh = await client(a.url, userA);
  const all = await catchUp(fresh, 'me', null);
  expect(all.map(place)).toEqual(read.map(place));
  expect(all.every((frame) => frame.data.erased === true && frame.data.erasureId === erasureId)).toBe(true);
  const text = JSON.stringify([rest, all]);
  for (const secret of ['Alice', 'Bob', userA, userB]) expect(text).not.toContain(secret);

  // The user writes afresh: both subscriptions receive it as usual, after the tombstones.
  expect((await a.http(userA, 'POST', '/api/chats', { id: 'budget', title: 'a fresh start' })).status).toBe(201);
  for (const [subscriber, count] of [
    [resumed, rest.length],
    [fresh, all.length],
  ] as const) {
    await subscriber.until(() => (subscriber.events('me').length > count ? true : undefined), 'the fresh start');
    expect(
      subscriber
        .events('me')
        .slice(count)
        .map((frame) => [frame.eventType, frame.data.title]),
    ).toEqual([['ChatStarted', 'a fresh start']]);
  }
}
