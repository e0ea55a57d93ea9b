import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Erasures } from '../../src/erasure/index.ts';
import type { PostgresTestBed } from '../event-store/postgres-support.ts';
import { type AppUnderTest, postgresApp } from '../http/app-under-test.ts';
import { seedUser, userA, userB } from './erase-user.ts';
import { allEvents, databaseText } from './helpers.ts';

describe('erasing a user: interruptions and races (PostgreSQL)', () => {
  let t: AppUnderTest & { bed: PostgresTestBed };
  beforeEach(async () => {
    t = await postgresApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('an erasure killed mid-way, right after a batch committed, is taken up again by the next start and completes, its record says it resumed, and its count is exact', {
    timeout: 180_000,
  }, async () => {
    await seedUser(t, userA, 'Alice');
    await seedUser(t, userB, 'Bob');
    const crashing = new Erasures({
      store: t.store,
      projections: t.app.lakechat.projections,
      pool: t.bed.pool,
      batchSize: 2,
      vacuum: false,
      afterBatch: () => {
        throw new Error('killed');
      },
    });
    const { record } = await crashing.records.open(userA, 'operator-jo');
    await expect(crashing.run(record)).rejects.toThrow('killed');
    const interrupted = await crashing.records.get(record.id);
    expect(interrupted).toMatchObject({ state: 'running', eventsErased: 2 });
    expect((await allEvents(t.store, { owner: userA })).length).toBe(5);

    // The next process: resumes what was left open.
    const next = new Erasures({ store: t.store, projections: t.app.lakechat.projections, pool: t.bed.pool, batchSize: 2 });
    const [done] = await next.resumeOpen();
    expect(done).toMatchObject({ id: record.id, state: 'completed', resumed: 1, eventsErased: 7, subject: null, streamKey: null, requestedBy: 'operator-jo' });
    expect(await allEvents(t.store, { owner: userA })).toEqual([]);
    const dump = await databaseText(t.bed.database.url);
    expect(dump).not.toContain(userA);
    expect(dump).not.toContain('Alice Employer');
    expect(dump).toContain('Bob Employer');
  });

  it("the user's writes during their erasure are refused here with LAKECHAT_ERR_ERASURE_IN_PROGRESS, or erased with it when another instance took them", { timeout: 180_000 }, async () => {
    await seedUser(t, userA, 'Alice');
    const other = await postgresApp({ bed: t.bed });
    try {
      const refused: number[] = [];
      const codes: string[] = [];
      let otherPosted = 0;
      const otherAnswers: string[] = [];
      let raced = false;
      t.app.lakechat.erasures.afterBatch = async () => {
        if (raced) return;
        raced = true;
        const here = await t.as(userA, 'POST', '/api/chats/second/messages', { body: { role: 'user', content: 'racing' } });
        refused.push(here.statusCode);
        codes.push(here.json().error?.code);
        // Another instance knows nothing of the erasure: its write lands, and a later pass erases it.
        const there = await other.as(userA, 'POST', '/api/chats', { body: { id: 'racing-elsewhere', title: 'written elsewhere meanwhile' } });
        if (there.statusCode === 201) otherPosted++;
        else otherAnswers.push(`${there.statusCode} ${there.body}`);
      };
      const accepted = await t.as(userA, 'DELETE', '/api/me');
      const erasureId = accepted.json().erasureId as string;
      for (const deadline = Date.now() + 60_000; ; ) {
        const state = (await t.as(userA, 'GET', `/api/me/erasure?id=${erasureId}`)).json().state;
        if (state === 'completed') break;
        if (Date.now() > deadline) throw new Error('not completed');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused)).toEqual(new Set([409]));
      expect(new Set(codes)).toEqual(new Set(['LAKECHAT_ERR_ERASURE_IN_PROGRESS']));
      expect(otherAnswers).toEqual([]);
      expect(otherPosted).toBeGreaterThan(0);
      expect(await allEvents(t.store, { owner: userA })).toEqual([]);
      const dump = await databaseText(t.bed.database.url);
      expect(dump).not.toContain('written elsewhere meanwhile');
      expect(dump).not.toContain(userA);
      // Completed: the user starts afresh, on either instance.
      expect((await t.as(userA, 'POST', '/api/chats', { body: { id: 'second', title: 'new' } })).statusCode).toBe(201);
      expect((await other.as(userA, 'POST', '/api/chats/second/messages', { body: { role: 'user', content: 'hi' } })).statusCode).toBe(201);
    } finally {
      t.app.lakechat.erasures.afterBatch = undefined;
      await other.close();
    }
  });
});
