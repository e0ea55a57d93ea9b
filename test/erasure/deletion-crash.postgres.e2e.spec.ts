/**
 * A chat or profile deletion appends its deletion event, then erases the content before it. A process
 * killed between the two must not leave that content in the log for ever: the next start of any
 * instance finds the deletions whose content is not yet erased and erases it (docs/privacy.md).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTombstone } from '../../src/event-store/index.ts';
import type { PostgresTestBed } from '../event-store/postgres-support.ts';
import { type AppUnderTest, postgresApp } from '../http/app-under-test.ts';
import { seedUser, userA, userB } from './erase-user.ts';
import { allEvents, databaseText } from './helpers.ts';

describe('a deletion interrupted before its content was erased (PostgreSQL)', () => {
  let t: AppUnderTest & { bed: PostgresTestBed };
  beforeEach(async () => {
    t = await postgresApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('DELETE /api/chats/:id, DELETE /api/chats and DELETE /api/profile killed after the deletion was appended: the next start erases the content', { timeout: 180_000 }, async () => {
    await seedUser(t, userA, 'Alice');
    await seedUser(t, userB, 'Bob');
    // The process "dies" between the deletion and the erasure of the content.
    t.app.lakechat.erasures.beforeContentErasure = () => {
      throw new Error('killed');
    };
    expect((await t.as(userA, 'DELETE', '/api/chats/budget')).statusCode).toBe(500);
    expect((await t.as(userA, 'DELETE', '/api/profile')).statusCode).toBe(500);
    expect((await t.as(userA, 'DELETE', '/api/chats')).statusCode).toBe(500);
    const deletions = (await allEvents(t.store, { owner: userA })).filter((event) => event.type === 'ChatDeleted' || event.type === 'ProfileDeleted');
    expect(deletions.map((event) => event.type).sort()).toEqual(['ChatDeleted', 'ChatDeleted', 'ProfileDeleted']);
    const left = await databaseText(t.bed.database.url);
    for (const secret of ['alice words one', 'Alice second chat', 'Alice Employer']) expect(left).toContain(secret);

    // The next start (another instance on the same database) finishes what was left.
    const next = await postgresApp({ bed: t.bed });
    try {
      await next.app.lakechat.erasures.settled();
      const events = await allEvents(next.store, { owner: userA });
      expect(events.filter((event) => event.type !== 'ChatDeleted' && event.type !== 'ProfileDeleted' && !isTombstone(event.data))).toEqual([]);
      expect(events.filter((event) => isTombstone(event.data)).length).toBe(events.length - 3);
      const dump = await databaseText(t.bed.database.url);
      for (const secret of [
        'Alice secret budget title',
        'Alice renamed title',
        'alice words one',
        'alice words two',
        'Alice Trace Summary',
        'Alice second chat',
        'Alice Employer',
        '1979-03-04',
        'Alice goal',
      ]) {
        expect(dump).not.toContain(secret);
      }
      for (const kept of ['Bob secret budget title', 'bob words two', 'Bob Employer']) expect(dump).toContain(kept);
      // Nothing left to do: a third start erases nothing more.
      const events2 = JSON.stringify(await allEvents(next.store));
      const third = await postgresApp({ bed: t.bed });
      await third.app.lakechat.erasures.settled();
      expect(JSON.stringify(await allEvents(third.store))).toBe(events2);
      await third.close();
    } finally {
      await next.close();
    }
  });

  it('DELETE /api/chats/:id whose erasure failed (the database went away a moment) while the process lives on: the process erases the content itself soon after', {
    timeout: 120_000,
  }, async () => {
    await seedUser(t, userA, 'Alice');
    const erase = t.store.erase!.bind(t.store);
    let failures = 1;
    t.store.erase = async (selection, options) => {
      if (failures-- > 0) throw new Error('the database went away');
      return erase(selection, options);
    };
    expect((await t.as(userA, 'DELETE', '/api/chats/budget')).statusCode).toBe(500);
    for (const deadline = Date.now() + 60_000; ; ) {
      const left = (await allEvents(t.store, { owner: userA })).filter(
        (event) => event.type !== 'ChatDeleted' && !isTombstone(event.data) && event.streamId === t.app.lakechat.chats.streamIdOf(userA, 'budget'),
      );
      if (left.length === 0) break;
      if (Date.now() > deadline) throw new Error(`the content was not erased: ${JSON.stringify(left)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await t.app.lakechat.erasures.settled();
    const dump = await databaseText(t.bed.database.url);
    for (const secret of ['Alice secret budget title', 'alice words one', 'Alice Trace Summary']) expect(dump).not.toContain(secret);
    expect(dump).toContain('Alice second chat');
  });
});
