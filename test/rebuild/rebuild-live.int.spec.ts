/**
 * A rebuild while the app serves, on a real PostgreSQL: every reader of the log returns only events of
 * transactions older than every running one, so no transaction of the rebuild may hold a transaction
 * id for long (docs/rebuild.md, "What blocks, and for how long"). And a dry run leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPool, type DatabasePool, sql } from 'slonik';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { seedEventLog } from '../../scripts/bench/seed-log.ts';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { compareCursors, eventStorePoolConfiguration, PostgresEventStore } from '../../src/event-store/index.ts';
import { allProjections } from '../../src/projection-runner/read-models.ts';
import { selectRows } from '../../src/projection-runner/rows.ts';
import { projectionsStatus, rebuildProjections } from '../../src/rebuild/index.ts';
import { createLogBed, type LogBed, waitReadable, writeHistory } from '../replay/log-bed.ts';

let bed: LogBed | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await bed?.close();
  bed = undefined;
});

const rebuildApplication = 'lakechat_rebuild_under_test';

/** The rebuild's own pool and store, its sessions named so pg_stat_activity tells them apart. */
async function rebuildConnection(url: string): Promise<{ pool: DatabasePool; store: PostgresEventStore }> {
  const named = new URL(url);
  named.searchParams.set('application_name', rebuildApplication);
  const pool = await createPool(named.toString(), eventStorePoolConfiguration({ maxPoolSize: 8, idleInTransactionTimeoutMs: 60_000, statementTimeoutMs: 600_000 }));
  const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: url }) });
  closers.push(async () => {
    await store.close();
    await pool.end();
  });
  return { pool, store };
}

interface HeldXid {
  pid: number;
  xid: string;
  first: number;
  last: number;
  queries: Set<string>;
}

/**
 * Watches pg_stat_activity as fast as it can: for each transaction id a session of the rebuild held,
 * from when it was first seen to when it was last seen, and the statements it was seen running.
 */
function watchTransactionIds(url: string): { stop(): Promise<HeldXid[]> } {
  const client = new pg.Client({ connectionString: url });
  const held = new Map<string, HeldXid>();
  let running = true;
  const watching = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query<{ pid: number; xid: string; query: string }>(
        `SELECT pid, backend_xid::text AS xid, left(query, 120) AS query FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1 AND backend_xid IS NOT NULL`,
        [rebuildApplication],
      );
      const now = performance.now();
      for (const row of rows) {
        const key = `${row.pid}:${row.xid}`;
        const seen = held.get(key) ?? { pid: row.pid, xid: row.xid, first: now, last: now, queries: new Set<string>() };
        seen.last = now;
        seen.queries.add(row.query.replace(/\s+/g, ' '));
        held.set(key, seen);
      }
    }
    await client.end();
  })();
  return {
    async stop() {
      running = false;
      await watching;
      return [...held.values()];
    },
  };
}

/** Appends `count` events of one new chat with SQL, in transactions of 2,000 (each short). */
/** Appends the burst; returns the cursor of its last event. */
async function appendBurst(pool: DatabasePool, count: number): Promise<string> {
  const owner = 'burst@example.com';
  const stream = chatStreamId(owner, `burst-${randomUUID().slice(0, 8)}`);
  for (let from = 1; from <= count; from += 2_000) {
    await pool.query(sql.unsafe`
      INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, owner)
      SELECT ${stream}, v, gen_random_uuid(),
        CASE WHEN v = 1 THEN 'ChatStarted' ELSE 'MessagePosted' END,
        CASE WHEN v = 1 THEN jsonb_build_object('chatId', 'burst', 'userEmail', ${owner}::text, 'title', 'Burst', 'agentId', NULL)
             ELSE jsonb_build_object('chatId', 'burst', 'messageId', gen_random_uuid()::text, 'position', v - 1, 'role', 'user', 'content', 'burst message ' || v) END,
        jsonb_build_object('actor', ${owner}::text, 'correlationId', gen_random_uuid()::text, 'client', 'test'),
        ${owner}
      FROM generate_series(${from}::int, ${Math.min(count, from + 1_999)}::int) AS v`);
  }
  return (await pool.oneFirst(sql.unsafe`
    SELECT tx_id::text || '-' || position::text FROM events WHERE stream_id = ${stream} ORDER BY stream_version DESC LIMIT 1`)) as string;
}

/** A writer posting steadily, and a reader following the log from the head: what each saw. */
function postAndFollow(writerBed: LogBed): { stop(): Promise<{ posted: string[]; read: string[] }> } {
  const posted: string[] = [];
  const read: string[] = [];
  let running = true;
  const owner = 'pulse@example.com';
  const working = (async () => {
    let after = await writerBed.store.headCursor();
    await writerBed.writer.startChat(owner, 'pulse');
    const writing = (async () => {
      for (let i = 0; running; i++) {
        posted.push(await writerBed.writer.post(owner, 'pulse', `pulse ${i}`));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const reading = async (until: () => boolean) => {
      while (!until()) {
        const page = await writerBed.store.readAll({ after, limit: 1_000, types: ['MessagePosted'] });
        for (const event of page.events) if (event.data.chatId === 'pulse') read.push(event.cursor);
        after = page.cursor;
        if (page.events.length < 1_000) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await reading(() => !running);
    await writing;
    // Whatever was posted last becomes readable a moment later.
    const last = posted[posted.length - 1];
    await reading(() => last === undefined || read.some((cursor) => compareCursors(cursor, last) >= 0));
  })();
  return {
    async stop() {
      running = false;
      await working;
      return { posted, read };
    },
  };
}

const names = z.object({ name: z.string() });

describe('a rebuild while the app serves', { timeout: 300_000 }, () => {
  it('holds no transaction id for long, through its index builds and its swap, so readers and writers go on', async () => {
    bed = await createLogBed();
    await seedEventLog(bed.database.url, { events: 40_000, transactions: 4 });
    // An index an analyst added: the rebuild builds it on the full shadow table, a while on 38,000 rows.
    await bed.pool.query(sql.unsafe`CREATE INDEX messages_by_content ON messages (content, message_id, stream_id)`);
    const rebuilder = await rebuildConnection(bed.database.url);

    const watcher = watchTransactionIds(bed.database.url);
    const traffic = postAndFollow(bed);
    const report = await rebuildProjections({
      pool: rebuilder.pool,
      store: rebuilder.store,
      projections: allProjections,
      batchSize: 1_000,
      // A burst of writes just before the swap: the swap must not catch it all up inside one transaction.
      // Readable before the swap starts: other test files' open transactions must not hide part of it
      // from the swap's catch-up, which must then take all of it in bounded parts.
      beforeSwap: async () => waitReadable(bed!.store, await appendBurst(bed!.pool, 60_000)),
    });
    const held = await watcher.stop();
    const { posted, read } = await traffic.stop();

    expect(report.swapped).toBe(true);
    const longest = held.reduce<HeldXid | undefined>((worst, seen) => (worst === undefined || seen.last - seen.first > worst.last - worst.first ? seen : worst), undefined);
    expect(held.length).toBeGreaterThan(0);
    // A batch of 1,000 events takes tens of milliseconds; the whole rebuild, many seconds.
    const boundMs = 1_500;
    expect(
      longest!.last - longest!.first,
      `transaction ${longest!.xid} of the rebuild was held ${Math.round(longest!.last - longest!.first)} ms, running: ${[...longest!.queries].join(' | ')}`,
    ).toBeLessThan(boundMs);
    // The reader saw every post, once, in order, and the rebuilt tables hold them all too.
    expect(posted.length).toBeGreaterThan(0);
    expect(read.slice(0, posted.length)).toEqual(posted);
    // Every message of the burst, applied across batches of changing sizes, once each.
    expect(await bed.pool.one(sql.unsafe`SELECT count(*)::int AS count, count(DISTINCT position)::int AS positions FROM messages WHERE chat_id = 'burst'`)).toEqual({
      count: 59_999,
      positions: 59_999,
    });
    expect(await selectRows(bed.pool, names, sql.unsafe`SELECT relname AS name FROM pg_class WHERE relname = 'messages_by_content' AND relkind = 'i'`)).toEqual([
      { name: 'messages_by_content' },
    ]);
  });

  it('leaves no shadow tables and nothing interrupted after a dry run', async () => {
    bed = await createLogBed();
    const runner = await bed.startRunner();
    await writeHistory(bed.writer, { users: 3, chatsPerUser: 2, messagesPerChat: 4 });
    await bed.caughtUp(runner);

    const dry = await rebuildProjections({ pool: bed.pool, store: bed.store, projections: allProjections, batchSize: 40, dryRun: true });
    expect(dry.swapped).toBe(false);
    expect(dry.comparisons).toHaveLength(allProjections.length);

    expect(await selectRows(bed.pool, names, sql.unsafe`SELECT relname AS name FROM pg_class WHERE relname LIKE '%\\_\\_rebuild%'`)).toEqual([]);
    const status = await projectionsStatus(bed.pool, allProjections);
    expect(status.projections.map((projection) => projection.rebuild)).toEqual(allProjections.map(() => null));
  });
});
