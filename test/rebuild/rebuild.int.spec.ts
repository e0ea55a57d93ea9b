/**
 * Projection rebuilds on a real PostgreSQL, with the live runner applying the same log as the app
 * does: shadow tables, the swap with the checkpoints, resumption, the lock, the dry run, status.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'slonik';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isLakechatError } from '../../src/errors.ts';
import { PostgresProjectionBackend } from '../../src/projection-runner/postgres-backend.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { selectRows } from '../../src/projection-runner/rows.ts';
import { ddl } from '../../src/rebuild/ddl.ts';
import { projectionsStatus, type RebuildOptions, rebuildProjections } from '../../src/rebuild/index.ts';
import { withOpenTransaction } from '../../src/rebuild/open-transaction.ts';
import { createTwin } from '../../src/rebuild/shadow-tables.ts';
import { describeLiveTable } from '../../src/rebuild/table-definition.ts';
import { createLogBed, type LogBed, writeHistory } from '../replay/log-bed.ts';

let bed: LogBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const rebuild = (options: Partial<RebuildOptions> = {}) => rebuildProjections({ pool: bed!.pool, store: bed!.store, projections: allProjections, batchSize: 40, ...options });

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

const names = z.object({ name: z.string() });
const relationNames = async (like: string): Promise<string[]> =>
  (await selectRows(bed!.pool, names, sql.unsafe`SELECT relname AS name FROM pg_class WHERE relname LIKE ${like} ORDER BY relname`)).map((row) => row.name);

async function everyEvent() {
  await bed!.readable();
  const events = [];
  for (let after: string | null = null; ; ) {
    const page = await bed!.store.readAll({ after, limit: 10_000 });
    events.push(...page.events);
    after = page.cursor;
    if (page.events.length < 10_000) return events;
  }
}

/** The whole log applied from scratch by the live backend into another schema: what the tables must hold. */
async function appliedFromScratch(schema: string): Promise<Record<string, unknown[]>> {
  await bed!.readable();
  await bed!.pool.query(ddl(`CREATE SCHEMA ${schema}`));
  for (const table of ['projection_checkpoints', ...allProjections.flatMap((projection) => Object.keys(projection.tables))]) {
    await createTwin(bed!.pool, await describeLiveTable(bed!.pool, table), { schema, suffix: '' });
  }
  const location = { schema, suffix: '' };
  const backend = new PostgresProjectionBackend(
    bed!.pool,
    allProjections.map((projection) => ({ projection, tables: location })),
    { checkpoints: location },
  );
  await backend.start();
  let after: string | null = null;
  for (;;) {
    const page = await bed!.store.readAll({ after, limit: 500 });
    if (page.events.length > 0) await backend.applyBatch(page.events);
    after = page.cursor;
    if (page.events.length < 500) break;
  }
  return bed!.tables(schema);
}

describe('projection rebuilds', { timeout: 120_000 }, () => {
  it('rebuild tables equal to the live ones; rebuilding again, or a current projection, changes nothing', async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 5, chatsPerUser: 3, messagesPerChat: 6 });
    await bed.caughtUp(runner);
    const live = await bed.tables();

    const dry = await rebuild({ dryRun: true });
    expect(dry.swapped).toBe(false);
    for (const comparison of dry.comparisons!) {
      expect(comparison.rebuiltAhead).toBe(false);
      for (const table of comparison.tables) expect({ ...table, liveRows: 0, rebuiltRows: 0 }).toEqual({ table: table.table, added: 0, removed: 0, changed: 0, liveRows: 0, rebuiltRows: 0 });
    }
    expect(await bed.tables()).toEqual(live);

    // The dry run left nothing: the rebuild starts afresh.
    expect(await relationNames('%\\_\\_rebuild%')).toEqual([]);
    const first = await rebuild();
    expect(first.swapped).toBe(true);
    expect(first.projections.every((outcome) => outcome.startedBecause === 'no saved progress')).toBe(true);
    expect(await bed.tables()).toEqual(live);
    expect(await relationNames('%\\_\\_rebuild%')).toEqual([]);
    expect(await relationNames('chats%')).toEqual(['chats', 'chats_owner_chat_id', 'chats_owner_recent', 'chats_pkey']);

    const second = await rebuild({ restart: true });
    expect(second.projections.every((outcome) => outcome.startedBecause === 'asked to restart')).toBe(true);
    expect(await bed.tables()).toEqual(live);

    // The live runner goes on, on the tables swapped in.
    await bed.writer.post('user0@example.com', 'h0', 'after the swaps');
    await bed.caughtUp(runner);
    const after = await bed.tables();
    expect(after.messages).toContainEqual(expect.objectContaining({ content: 'after the swaps' }));
    expect(after).toEqual(await appliedFromScratch('scratch'));
  });

  it('loses nothing that writers append during the rebuild, while the live runner applies it too', async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 6, chatsPerUser: 3, messagesPerChat: 8 });
    await bed.caughtUp(runner);
    const headBefore = (await bed.store.readAll({ limit: 10_000 })).events.length;

    let writing = true;
    let written = 0;
    const writers = [0, 1, 2].map(async (w) => {
      for (let i = 0; writing; i++) {
        const owner = `writer${w}@example.com`;
        if (i % 10 === 0) await bed!.writer.startChat(owner, `w${i}`);
        await bed!.writer.post(owner, `w${i - (i % 10)}`, `written during the rebuild ${i}`);
        if (i % 7 === 0) await bed!.writer.updateProfile(owner, { notes: `note ${i}` });
        written++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    });
    // Between the rebuild's last catch-up and its swap, the live runner applies more: the swap must
    // take those events into the rebuilt tables too (it catches up again under the checkpoint lock).
    const report = await rebuild({
      batchSize: 25,
      beforeSwap: async () => {
        for (let i = 0; i < 5; i++) await bed!.writer.post('user0@example.com', 'h0', `written during the rebuild, just before the swap ${i}`);
        await bed!.caughtUp(runner);
      },
    });
    const writtenDuring = written;
    await new Promise((resolve) => setTimeout(resolve, 200));
    writing = false;
    await Promise.all(writers);
    await bed.caughtUp(runner);

    expect(report.swapped).toBe(true);
    expect(writtenDuring).toBeGreaterThan(0);
    const tables = await bed.tables();
    expect(tables).toEqual(await appliedFromScratch('scratch'));
    const events = await everyEvent();
    expect(events.length).toBeGreaterThan(headBefore);
    expect(tables.messages!.filter((row) => String((row as { content: string }).content).startsWith('written during'))).toHaveLength(
      events.filter((event) => event.type === 'MessagePosted' && String(event.data.content).startsWith('written during')).length,
    );
  });

  it('resumes an interrupted rebuild where it stopped', async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 5, chatsPerUser: 3, messagesPerChat: 8 });
    await bed.caughtUp(runner);
    const live = await bed.tables();
    const total = (await bed.store.readAll({ limit: 10_000 })).events.length;

    const controller = new AbortController();
    const interrupted = await failure(
      rebuild({
        batchSize: 30,
        signal: controller.signal,
        onProgress: (progress) => {
          if (progress.events >= 90) controller.abort();
        },
      }),
    );
    expect(isLakechatError(interrupted, 'LAKECHAT_ERR_REBUILD_INTERRUPTED')).toBe(true);
    expect(await bed.tables()).toEqual(live);
    const status = await projectionsStatus(bed.pool, allProjections);
    const saved = status.projections[0]!.rebuild!;
    expect(saved.state).toBe('interrupted');
    expect(saved.events).toBeGreaterThanOrEqual(90);
    expect(saved.events).toBeLessThan(total);

    const resumed = await rebuild({ batchSize: 30 });
    expect(resumed.projections.map((outcome) => outcome.resumedFrom)).toEqual(allProjections.map(() => saved.cursor));
    expect(resumed.events).toBeLessThan(total);
    expect(resumed.events + saved.events).toBeGreaterThanOrEqual(total);
    expect(await bed.tables()).toEqual(live);
  });

  it('lets one rebuild of a projection run at a time, and status shows it running', async () => {
    bed = await createLogBed();
    await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 4 });
    // The first rebuild's swap waits behind this lock, so it is surely still running meanwhile.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const blocker = withOpenTransaction(bed.pool, 'BEGIN', async (tx) => {
      await tx.query(sql.unsafe`LOCK TABLE projection_checkpoints IN EXCLUSIVE MODE`);
      locked();
      await released;
    });
    await isLocked;
    let catchingUp!: () => void;
    const reachedCatchUp = new Promise<void>((resolve) => (catchingUp = resolve));
    const first = rebuild({ batchSize: 20, onProgress: (progress) => progress.phase === 'catch-up' && catchingUp() });
    await reachedCatchUp;

    const second = await failure(rebuild({ projections: allProjections.filter((projection) => projection.name === 'messages') }));
    expect(isLakechatError(second, 'LAKECHAT_ERR_REBUILD_IN_PROGRESS')).toBe(true);
    expect((second as Error).message).toContain('"messages"');
    const status = await projectionsStatus(bed.pool, allProjections);
    expect(status.projections.map((projection) => projection.rebuild?.state)).toEqual(['running', 'running', 'running', 'running']);

    release();
    await blocker;
    expect((await first).swapped).toBe(true);
    expect((await projectionsStatus(bed.pool, allProjections)).projections.every((projection) => projection.rebuild === null)).toBe(true);
  });

  it('reports what a rebuild would change, row by row, without swapping', async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 4 });
    await bed.caughtUp(runner);
    await runner.stop();
    // A live read model gone wrong: a message lost, a chat renamed by hand, a stray profile.
    await bed.pool.query(sql.unsafe`DELETE FROM messages WHERE position = 2 AND chat_id = 'h0' AND owner = 'user0@example.com'`);
    await bed.pool.query(sql.unsafe`UPDATE chats SET title = 'tampered' WHERE chat_id = 'h1' AND owner = 'user1@example.com'`);
    await bed.pool.query(sql.unsafe`
      INSERT INTO profiles (owner, stream_id, version, created_at, updated_at) VALUES ('stray@example.com', 'profile-x', 1, now(), now())`);
    const tampered = await bed.tables();

    const report = await rebuild({ dryRun: true });
    const diff = Object.fromEntries(report.comparisons!.flatMap((comparison) => comparison.tables.map((table) => [table.table, [table.added, table.removed, table.changed]])));
    expect(diff).toEqual({ chats: [0, 0, 1], messages: [1, 0, 0], profiles: [0, 1, 0], profile_history: [0, 0, 0] });
    expect(report.swapped).toBe(false);
    expect(await bed.tables()).toEqual(tampered);
  });

  it('keeps grants and refuses to swap while a view depends on a live table, then swaps once it is gone', async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 2, chatsPerUser: 2, messagesPerChat: 3 });
    await bed.caughtUp(runner);
    const role = `lakechat_analyst_${randomBytes(4).toString('hex')}`;
    await bed.pool.query(ddl(`CREATE ROLE ${role}`));
    try {
      await bed.pool.query(ddl(`GRANT SELECT ON chats TO ${role}`));
      await bed.pool.query(ddl('CREATE VIEW recent_chats AS SELECT chat_id FROM chats'));
      const blocked = await failure(rebuild());
      expect(isLakechatError(blocked, 'LAKECHAT_ERR_REBUILD_SWAP_BLOCKED')).toBe(true);
      expect((blocked as { details: { table: string } }).details.table).toBe('chats');
      expect(await relationNames('chats')).toEqual(['chats']);
      await bed.pool.query(ddl('DROP VIEW recent_chats'));
      const report = await rebuild();
      expect(report.projections.every((outcome) => outcome.resumedFrom !== null)).toBe(true);
      const [granted] = await selectRows(bed.pool, z.object({ allowed: z.boolean() }), sql.unsafe`SELECT has_table_privilege(${role}, 'chats', 'SELECT') AS allowed`);
      expect(granted!.allowed).toBe(true);
    } finally {
      await bed.pool.query(ddl(`DROP OWNED BY ${role}`));
      await bed.pool.query(ddl(`DROP ROLE ${role}`));
    }
  });

  it('gives up the swap while a long reader holds a live table, keeping what it built, and swaps once it is gone', async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 2, chatsPerUser: 2, messagesPerChat: 3 });
    await bed.caughtUp(runner);
    const live = await bed.tables();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let reading!: () => void;
    const isReading = new Promise<void>((resolve) => (reading = resolve));
    // An analyst's long query: its transaction holds a lock on messages until it ends.
    const reader = withOpenTransaction(bed.pool, 'BEGIN', async (tx) => {
      await tx.query(sql.unsafe`SELECT count(*) FROM messages`);
      reading();
      await released;
    });
    await isReading;
    const timedOut = await failure(rebuild({ swapLockTimeoutMs: 50 }));
    expect(isLakechatError(timedOut, 'LAKECHAT_ERR_REBUILD_SWAP_TIMEOUT')).toBe(true);
    release();
    await reader;
    expect(await bed.tables()).toEqual(live);
    expect(await relationNames('messages\\_\\_rebuild')).toEqual(['messages__rebuild']);
    const report = await rebuild();
    expect(report.swapped).toBe(true);
    expect(report.projections.every((outcome) => outcome.resumedFrom !== null)).toBe(true);
    expect(await bed.tables()).toEqual(live);
  });

  it("shows each projection's cursor and its lag behind the log", async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 2, chatsPerUser: 1, messagesPerChat: 2 });
    const head = await bed.caughtUp(runner);
    await runner.stop();
    const caughtUp = await projectionsStatus(bed.pool, allProjections);
    expect(caughtUp.projections.map((projection) => projection.lag.events)).toEqual([0, 0, 0, 0]);
    await bed.writer.post('user0@example.com', 'h0', 'unapplied');
    await bed.writer.post('user1@example.com', 'h0', 'unapplied');
    // Other test files share the server: a transaction of theirs can keep new events unreadable a while.
    let behind = await projectionsStatus(bed.pool, allProjections);
    for (const deadline = Date.now() + 20_000; behind.projections[0]!.lag.events < 2 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      behind = await projectionsStatus(bed.pool, allProjections);
    }
    for (const projection of behind.projections) {
      expect(projection.cursor).not.toBeNull();
      expect(projection.lag).toMatchObject({ events: 2, capped: false });
      expect(projection.lag.seconds).toBeGreaterThanOrEqual(0);
      expect(projection.rebuild).toBeNull();
    }
    expect(head).not.toBeNull();
  });
});
