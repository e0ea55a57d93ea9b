/**
 * An instance that started on its memory fallback (the database was unreachable) erases a user from
 * the read models it serves: the memory ones while on the fallback, PostgreSQL's once it switched
 * (docs/privacy.md, "What remains").
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { chatStreamId } from '../../src/chats/index.ts';
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
  const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_SECOND: '0', STORAGE_RECONNECT_MIN_MS: '50', STORAGE_RECONNECT_MAX_MS: '100', PROJECTION_WAIT_TIMEOUT_MS: '30000' });
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

async function eraseAndWait(t: AppUnderTest, user: string): Promise<string> {
  const accepted = await t.as(user, 'DELETE', '/api/me');
  expect(accepted.statusCode).toBe(202);
  const id = accepted.json().erasureId as string;
  await completion(t, user, id);
  return id;
}

async function completion(t: AppUnderTest, user: string, id: string): Promise<Record<string, unknown>> {
  for (const deadline = Date.now() + 60_000; ; ) {
    const body = (await t.as(user, 'GET', `/api/me/erasure?id=${id}`)).json();
    if (body.state === 'completed') return body;
    if (Date.now() > deadline) throw new Error('the erasure did not complete');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The app's next erasure stops after its first batch, as if slow, until `release()`. */
function holdAfterFirstBatch(t: AppUnderTest): { stoppedOnce: Promise<void>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  closing.push(async () => release());
  let stopped!: () => void;
  const stoppedOnce = new Promise<void>((resolve) => (stopped = resolve));
  const erasures = t.app.lakechat.erasures;
  erasures.afterBatch = async () => {
    erasures.afterBatch = undefined;
    stopped();
    await held;
  };
  return { stoppedOnce, release };
}

async function switched(t: AppUnderTest & { storage: Storage }): Promise<void> {
  for (const deadline = Date.now() + 60_000; (t.storage.status() as { fallback?: { switchedAt: string | null } }).fallback?.switchedAt == null; ) {
    if (Date.now() > deadline) throw new Error('the instance did not switch to PostgreSQL');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const erasureRow = async (bed: PostgresTestBed, id: string) =>
  (
    await bed.pool.query(sql.unsafe`
      SELECT state, subject, stream_key, requested_by, requested_at, started_at, completed_at, events_erased::int AS events, rows_erased::int AS rows
      FROM erasures WHERE id = ${id}`)
  ).rows[0] as Record<string, unknown> | undefined;

const eventsOf = async (bed: PostgresTestBed, owner: string): Promise<number> =>
  Number(((await bed.pool.query(sql.unsafe`SELECT count(*) AS n FROM events WHERE owner = ${owner}`)).rows[0] as { n: string }).n);

const tombstonesOf = async (bed: PostgresTestBed, erasureId: string): Promise<number> =>
  Number(((await bed.pool.query(sql.unsafe`SELECT count(*) AS n FROM events WHERE data->>'erasureId' = ${erasureId} AND owner IS NULL`)).rows[0] as { n: string }).n);

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

  it('an erasure completed on the fallback reaches the erasures table at the switch with its counts and times; its events reach PostgreSQL as tombstones only', {
    timeout: 180_000,
  }, async () => {
    const bed = await createPostgresTestBed(6);
    closing.push(() => bed.close());
    let reachable = false;
    const t = await fallbackApp(bed, () => reachable);
    await seedUser(t, userA, 'Alice');
    await seedUser(t, userB, 'Bob');
    const id = await eraseAndWait(t, userA);
    const onMemory = await completion(t, userA, id);
    reachable = true;
    await switched(t);
    const row = await erasureRow(bed, id);
    expect(row).toMatchObject({ state: 'completed', subject: null, stream_key: null, requested_by: 'self', events: onMemory.eventsErased, rows: onMemory.rowsErased });
    expect(new Date(row!.requested_at as string).toISOString()).toBe(onMemory.requestedAt);
    expect(new Date(row!.completed_at as string).toISOString()).toBe(onMemory.completedAt);
    expect(await eventsOf(bed, userA)).toBe(0);
    expect(await tombstonesOf(bed, id)).toBe(onMemory.eventsErased);
    // Answered by PostgreSQL now, the same record.
    expect(await completion(t, userA, id)).toEqual(onMemory);
    const dump = await databaseText(bed.database.url);
    for (const secret of secretsOfA) expect(dump).not.toContain(secret);
    expect(dump).toContain('Bob Employer');
  });

  it("an erasure open at the switch is recorded in the erasures table and completes there, with the user's events PostgreSQL held from before the fallback", {
    timeout: 180_000,
  }, async () => {
    const bed = await createPostgresTestBed(6);
    closing.push(() => bed.close());
    // Before this instance started, A wrote to PostgreSQL (through another instance).
    const before = bed.openStore();
    await before.append(
      chatStreamId(userA, 'older'),
      [{ eventId: randomUUID(), type: 'ChatStarted', data: { chatId: 'older', userEmail: userA, title: 'Alice older secret title', agentId: null } }],
      { expectedVersion: 0, owner: userA },
    );
    let reachable = false;
    const t = await fallbackApp(bed, () => reachable);
    await seedUser(t, userA, 'Alice');
    await seedUser(t, userB, 'Bob');
    // The erasure stops after its first batch on the memory log, as if slow, until the instance has switched.
    const { stoppedOnce, release } = holdAfterFirstBatch(t);
    const accepted = await t.as(userA, 'DELETE', '/api/me');
    expect(accepted.statusCode).toBe(202);
    const id = accepted.json().erasureId as string;
    await stoppedOnce;
    reachable = true;
    await switched(t);
    // At the switch: in the table, open, so a process killed now would take it up again at its next start.
    expect(await erasureRow(bed, id)).toMatchObject({ state: 'running', subject: userA, requested_by: 'self' });
    release();
    const done = await completion(t, userA, id);
    const row = await erasureRow(bed, id);
    expect(row).toMatchObject({ state: 'completed', subject: null, stream_key: null, events: done.eventsErased });
    expect(await eventsOf(bed, userA)).toBe(0);
    expect(await tombstonesOf(bed, id)).toBe(done.eventsErased);
    const dump = await databaseText(bed.database.url);
    for (const secret of [...secretsOfA, 'Alice older secret title']) expect(dump).not.toContain(secret);
    expect(dump).toContain('Bob Employer');
  });

  it('events of an erasure still running on the fallback are forwarded at the switch as tombstones, never with their old payload', { timeout: 240_000 }, async () => {
    const bed = await createPostgresTestBed(6);
    closing.push(() => bed.close());
    let reachable = false;
    const t = await fallbackApp(bed, () => reachable);
    // More than one batch (500) of A's events, the secrets last: the first batch erases none of them.
    expect((await t.as(userA, 'POST', '/api/chats', { body: { id: 'filler', title: 'filler' } })).statusCode).toBe(201);
    for (let n = 0; n < 510; n++) expect((await t.as(userA, 'POST', '/api/chats/filler/messages', { body: { role: 'user', content: `filler ${n}` } })).statusCode).toBe(201);
    await seedUser(t, userA, 'Alice');
    await seedUser(t, userB, 'Bob');
    const { stoppedOnce, release } = holdAfterFirstBatch(t);
    const accepted = await t.as(userA, 'DELETE', '/api/me');
    const id = accepted.json().erasureId as string;
    await stoppedOnce;
    reachable = true;
    await switched(t);
    // Forwarded while the erasure had not reached them yet: tombstones already.
    expect(await eventsOf(bed, userA)).toBe(0);
    // (The open erasure's row holds the email until it completes; nothing else does.)
    const midway = await databaseText(bed.database.url);
    for (const secret of secretsOfA.filter((secret) => !userA.includes(secret))) expect(midway).not.toContain(secret);
    release();
    const done = await completion(t, userA, id);
    expect(await eventsOf(bed, userA)).toBe(0);
    // Each of A's events once in the PostgreSQL log, as a tombstone.
    const tombstones = Number(((await bed.pool.query(sql.unsafe`SELECT count(*) AS n FROM events WHERE data->>'erased' = 'true'`)).rows[0] as { n: string }).n);
    expect(tombstones).toBe(510 + 1 + 7);
    expect(done.eventsErased).toBeGreaterThanOrEqual(510 + 1 + 7);
    expect(await databaseText(bed.database.url)).toContain('Bob Employer');
  });

  it("the records wait in memory while the table refuses them (another instance's open erasure of the same user), and reach it once it allows", { timeout: 180_000 }, async () => {
    const bed = await createPostgresTestBed(6);
    closing.push(() => bed.close());
    const other = randomUUID();
    await bed.pool.query(sql.unsafe`INSERT INTO erasures (id, requested_by, state, subject, stream_key) VALUES (${other}, 'self', 'running', ${userA}, 'other-key')`);
    let reachable = false;
    const t = await fallbackApp(bed, () => reachable);
    await seedUser(t, userA, 'Alice');
    // Open at the switch: held after its first batch.
    const { stoppedOnce, release } = holdAfterFirstBatch(t);
    const id = (await t.as(userA, 'DELETE', '/api/me')).json().erasureId as string;
    await stoppedOnce;
    reachable = true;
    await switched(t);
    expect(await erasureRow(bed, id)).toBeUndefined();
    release();
    // Completed meanwhile, answered from memory.
    expect((await completion(t, userA, id)).erasureId).toBe(id);
    expect(await erasureRow(bed, id)).toBeUndefined();
    await bed.pool.query(sql.unsafe`UPDATE erasures SET state = 'completed', subject = NULL, stream_key = NULL, completed_at = now() WHERE id = ${other}`);
    for (const deadline = Date.now() + 60_000; (await erasureRow(bed, id))?.state !== 'completed'; ) {
      if (Date.now() > deadline) throw new Error('the record did not reach the erasures table');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});
