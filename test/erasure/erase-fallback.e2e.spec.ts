/**
 * An instance that started on its memory fallback (the database was unreachable) erases a user from
 * the read models it serves: the memory ones while on the fallback, PostgreSQL's once it switched
 * (docs/privacy.md, "What remains").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { fallbackStorage } from '../../src/fallback/index.ts';
import { createLogger } from '../../src/logger.ts';
import type { Storage } from '../../src/storage.ts';
import { createPostgresTestBed, type PostgresTestBed } from '../event-store/postgres-support.ts';
import { type AppUnderTest, wrap } from '../http/app-under-test.ts';
import { apiViewOf, secretsOfA, seedUser, userA, userB } from './erase-user.ts';
import { databaseText } from './helpers.ts';

const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

/** The app on its memory fallback; `connect` answers once `reachable()` says so. */
async function fallbackApp(bed: PostgresTestBed | null, reachable: () => boolean): Promise<AppUnderTest & { storage: Storage }> {
  const config = loadConfig({ LOG_LEVEL: 'silent', STORAGE_RECONNECT_MIN_MS: '50', STORAGE_RECONNECT_MAX_MS: '100', PROJECTION_WAIT_TIMEOUT_MS: '30000' });
  const logger = createLogger({ level: 'silent' });
  const storage = fallbackStorage({
    config,
    logger,
    status: { storage: 'memory', mode: 'url', degraded: true, reason: 'unreachable', host: null, user: null, database: null, tokenExpiresAt: null },
    describe: (error) => String(error),
    connect: async () => {
      if (bed === null || !reachable()) throw new Error('the database is unreachable');
      const store = bed.openStore({ pollIntervalMs: 100 });
      return {
        eventStore: store,
        pool: bed.pool,
        status: () => ({ storage: 'postgres', mode: 'url', degraded: false, host: '127.0.0.1', user: null, database: null, tokenExpiresAt: null }),
        close: () => store.close(),
      };
    },
  });
  const app = await buildApp({ config, logger, storage });
  const t = wrap(app, storage.eventStore, async () => {
    await app.close();
    await storage.close();
  });
  closing.push(t.close);
  return { ...t, storage };
}

async function eraseAndWait(t: AppUnderTest, user: string): Promise<void> {
  const accepted = await t.as(user, 'DELETE', '/api/me');
  expect(accepted.statusCode).toBe(202);
  const id = accepted.json().erasureId as string;
  for (const deadline = Date.now() + 60_000; (await t.as(user, 'GET', `/api/me/erasure?id=${id}`)).json().state !== 'completed'; ) {
    if (Date.now() > deadline) throw new Error('the erasure did not complete');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('erasing a user on an instance that started on its memory fallback', () => {
  it("on the fallback: the user's rows leave the memory read models; the other user's stay", { timeout: 60_000 }, async () => {
    const t = await fallbackApp(null, () => false);
    await seedUser(t, userA, 'Alice');
    await seedUser(t, userB, 'Bob');
    const bobBefore = await apiViewOf(t, userB);
    await eraseAndWait(t, userA);
    const models = t.app.lakechat.projections.readModels;
    expect(await models.chats.list(userA, { limit: 100 })).toEqual([]);
    expect(await models.profiles.get(userA)).toBeNull();
    expect(await models.profileHistory.list(userA, { after: 0, limit: 100 })).toEqual([]);
    const aliceView = await apiViewOf(t, userA);
    for (const secret of secretsOfA) expect(aliceView).not.toContain(secret);
    expect(await apiViewOf(t, userB)).toBe(bobBefore);
  });

  it("switched to PostgreSQL: the user's rows leave PostgreSQL's read models; the other user's stay", { timeout: 180_000 }, async () => {
    const bed = await createPostgresTestBed(6);
    closing.push(() => bed.close());
    let reachable = false;
    const t = await fallbackApp(bed, () => reachable);
    await seedUser(t, userA, 'Alice');
    await seedUser(t, userB, 'Bob');
    reachable = true;
    for (const deadline = Date.now() + 60_000; (t.storage.status() as { fallback?: { switchedAt: string | null } }).fallback?.switchedAt == null; ) {
      if (Date.now() > deadline) throw new Error('the instance did not switch to PostgreSQL');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const bobBefore = await apiViewOf(t, userB);
    await eraseAndWait(t, userA);
    const dump = await databaseText(bed.database.url);
    for (const secret of secretsOfA) expect(dump).not.toContain(secret);
    expect(dump).toContain('Bob Employer');
    expect(await apiViewOf(t, userB)).toBe(bobBefore);
  });
});
