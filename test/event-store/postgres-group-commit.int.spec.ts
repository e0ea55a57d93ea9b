import { randomUUID } from 'node:crypto';
import { createPool, type DatabasePool, sql } from 'slonik';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeCursor } from '../../src/event-store/cursor.ts';
import { compareCursors, eventStorePoolConfiguration, WrongExpectedVersionError } from '../../src/event-store/index.ts';
import { PgProxy } from '../support/pg-proxy.ts';
import { createPostgresTestBed, type PostgresTestBed, withClient } from './postgres-support.ts';

let bed: PostgresTestBed;
let otherPool: DatabasePool;
beforeAll(async () => {
  bed = await createPostgresTestBed();
  otherPool = await createPool(bed.database.url, eventStorePoolConfiguration({ maxPoolSize: 4, idleInTransactionTimeoutMs: 10_000 }));
});
afterAll(async () => {
  await bed.close().finally(() => otherPool.end());
});
beforeEach(async () => {
  await bed.truncate();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(10);
  }
}

/** Waits until some session of the test database is blocked on a lock (our INSERT behind another writer's). */
async function untilBlocked(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const blocked = await withClient(url, async (client) => {
      const { rows } = await client.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      return rows.length > 0;
    });
    if (blocked) return;
    await sleep(10);
  }
  throw new Error('no session blocked on a lock');
}

describe('group commit', () => {
  it('writes appends issued together in one transaction, each decided against its own expected version', async () => {
    const store = bed.openStore();
    await store.append('s1', [{ type: 'Start', data: {} }]);
    const outcomes = await Promise.allSettled([
      store.append('s1', [{ type: 'A', data: {} }], { expectedVersion: 1 }),
      store.append('s1', [{ type: 'Stale', data: {} }], { expectedVersion: 1 }),
      store.append(
        's2',
        [
          { type: 'B', data: {} },
          { type: 'C', data: {} },
        ],
        { expectedVersion: 'no_stream' },
      ),
      store.append('s1', [{ type: 'D', data: {} }], { expectedVersion: 2 }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const stale = (outcomes[1] as PromiseRejectedResult).reason as WrongExpectedVersionError;
    expect(stale).toBeInstanceOf(WrongExpectedVersionError);
    expect(stale).toMatchObject({ expected: 1, actual: 2 });
    const cursors = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value.events.map((e) => e.cursor) : []));
    expect(new Set(cursors.map((c) => decodeCursor(c).tx)).size).toBe(1);
    const positions = cursors.map((c) => decodeCursor(c).position);
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
  });

  it('falls back to one append at a time when another writer wins a version race, and reports the real outcome', async () => {
    const store = bed.openStore();
    const retriedId = randomUUID();
    // Another writer holds versions and an event id in an open transaction: invisible to the group's
    // lookup, so the group decides on stale state and its INSERT waits, then fails on the unique keys.
    await withClient(bed.database.url, async (other) => {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO events (stream_id, stream_version, event_id, event_type, data) VALUES
         ('contested', 1, gen_random_uuid(), 'Theirs', '{}'), ('retried', 1, $1, 'Mine', '{}')`,
        [retriedId],
      );
      const outcomes = Promise.allSettled([
        store.append('contested', [{ type: 'Expecting0', data: {} }], { expectedVersion: 0 }),
        store.append('contested', [{ type: 'Any', data: {} }], { expectedVersion: 'any' }),
        store.append('retried', [{ eventId: retriedId, type: 'Mine', data: {} }]),
        store.append('free', [{ type: 'Unrelated', data: {} }], { expectedVersion: 'no_stream' }),
      ]);
      await untilBlocked(bed.database.url);
      await other.query('COMMIT');
      const [expecting0, any, retried, free] = await outcomes;
      expect(expecting0.status).toBe('rejected');
      expect((expecting0 as PromiseRejectedResult).reason).toMatchObject({ code: 'LAKECHAT_ERR_STORE_WRONG_EXPECTED_VERSION', expected: 0, actual: 1 });
      expect(any).toMatchObject({ status: 'fulfilled', value: { nextExpectedVersion: 2, duplicate: false } });
      expect(retried).toMatchObject({ status: 'fulfilled', value: { duplicate: true, nextExpectedVersion: 1 } });
      expect(free).toMatchObject({ status: 'fulfilled', value: { nextExpectedVersion: 1 } });
    });
    expect((await store.readStream('contested')).events.map((e) => e.type)).toEqual(['Theirs', 'Any']);
    expect((await store.readStream('retried')).events).toHaveLength(1);
  });

  it('keeps every stream gap-free while two instances race on the same streams', async () => {
    const a = bed.openStore();
    const b = bed.openStore({ pool: otherPool, appendFlushers: 2 });
    const streams = ['hot-1', 'hot-2', 'hot-3'];
    const results = await Promise.all(Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? a : b).append(streams[i % 3]!, [{ type: 'Tick', data: { i } }])));
    expect(results.every((r) => !r.duplicate)).toBe(true);
    for (const streamId of streams) {
      const { events } = await a.readStream(streamId);
      expect(events.map((e) => e.version)).toEqual(Array.from({ length: 40 }, (_, k) => k + 1));
    }
    // B's commits reach A's readers once every older transaction on the server has ended.
    const all = await eventually(
      () => a.readAll({ limit: 1_000 }),
      (page) => page.events.length >= 120,
    );
    expect(new Set(all.events.map((e) => e.data.i)).size).toBe(120);
  });

  it('settles appends already queued when the store closes, and refuses new ones', async () => {
    const store = bed.openStore();
    const pending = Promise.all(Array.from({ length: 10 }, (_, i) => store.append(`c${i}`, [{ type: 'A', data: {} }])));
    await store.close();
    expect((await pending).length).toBe(10);
    await expect(store.append('late', [{ type: 'A', data: {} }])).rejects.toMatchObject({ code: 'LAKECHAT_ERR_STORE_CLOSED' });
  });
});

describe('long-open transactions', () => {
  it('holds an event committed behind an older open transaction back from readers, reports it, then returns it once', async () => {
    // Other test files share the server, and their transactions hold readers back too: wait for
    // what this test needs rather than assume an idle cluster.
    const store = bed.openStore({ readYourWritesMs: 0 });
    await store.append('before', [{ type: 'Seen', data: {} }]);
    const first = await eventually(
      () => store.readAll(),
      (page) => page.events.length === 1,
    );
    await withClient(bed.database.url, async (other) => {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()');
      const behind = await store.append('behind', [{ type: 'HeldBack', data: {} }]);
      const during = await store.readAll({ after: first.cursor });
      expect(during.events).toEqual([]);
      expect(compareCursors(during.cursor, first.cursor)).toBeGreaterThanOrEqual(0);
      expect(compareCursors(during.cursor, behind.cursor)).toBeLessThan(0);
      const lag = await store.visibilityLag();
      expect(lag.heldBackEvents).toBe(1);
      expect(lag.oldestHeldBackMs).toBeGreaterThanOrEqual(0);
      expect(lag.oldestTransactionMs).toBeGreaterThanOrEqual(0);
      await other.query('COMMIT');
    });
    const after = await eventually(
      () => store.readAll({ after: first.cursor }),
      (page) => page.events.length > 0,
    );
    expect(after.events.map((e) => e.type)).toEqual(['HeldBack']);
    expect((await store.readAll({ after: after.cursor })).events).toEqual([]);
    await eventually(
      () => store.visibilityLag(),
      (lag) => lag.heldBackEvents === 0,
    );
  });

  it('lets a reader on the appending instance see its own commit once the older transaction ends', async () => {
    const store = bed.openStore({ readYourWritesMs: 10_000 });
    const head = await store.headCursor();
    await withClient(bed.database.url, async (other) => {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()');
      await store.append('mine', [{ type: 'Mine', data: {} }]);
      const read = store.readAll({ after: head });
      await sleep(50);
      await other.query('COMMIT');
      expect((await read).events.map((e) => e.type)).toEqual(['Mine']);
    });
  });
});

/** The sessions of the test database waiting on a lock. */
async function blockedPids(url: string): Promise<number[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    return rows.map((row) => row.pid as number);
  });
}

async function until(done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await sleep(10);
  }
}

const streamVersions = (streamId: string) =>
  bed.pool.anyFirst(sql.type(z.object({ stream_version: z.number() }))`SELECT stream_version FROM events WHERE stream_id = ${streamId} ORDER BY stream_version`);

describe('a single writer', () => {
  it('appends one after another on one connection, not on the next of the pool at every append (taking one cost a single writer a fifth of its rate)', async () => {
    const fourPool = await createPool(bed.database.url, eventStorePoolConfiguration({ maxPoolSize: 4, idleInTransactionTimeoutMs: 10_000 }));
    try {
      // Four open connections, so that a pool handing out the next idle one would use them all.
      await Promise.all(Array.from({ length: 4 }, () => fourPool.query(sql.unsafe`SELECT pg_sleep(0.05)`)));
      const store = bed.openStore({ pool: fourPool, notifyIntervalMs: 3_600_000 });
      for (let version = 0; version < 20; version++) await store.append('single-writer', [{ type: 'Posted', data: { version } }], { expectedVersion: version });
      const sessions = await withClient(bed.database.url, async (client) => {
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%INSERT INTO events%'`,
        );
        return rows[0].n as number;
      });
      expect(sessions).toBe(1);
      await store.close();
    } finally {
      await fourPool.end();
    }
  });

  it('writes each append once when its held connection is closed under its statement: it is retried on a new one', async () => {
    const store = bed.openStore({ notifyIntervalMs: 3_600_000 });
    await store.append('closed-under', [{ type: 'Posted', data: { n: 0 } }], { expectedVersion: 'no_stream' });
    await withClient(bed.database.url, async (other) => {
      // The append's INSERT waits on this lock, so its connection can be closed in the middle of it.
      await other.query('BEGIN');
      await other.query('LOCK TABLE events IN EXCLUSIVE MODE');
      const appended = store.append('closed-under', [{ type: 'Posted', data: { n: 1 } }], { expectedVersion: 1 });
      const next = appended.then(() => store.append('closed-under', [{ type: 'Posted', data: { n: 2 } }], { expectedVersion: 2 }));
      await until(async () => (await blockedPids(bed.database.url)).length === 1);
      const [closed] = await blockedPids(bed.database.url);
      await withClient(bed.database.url, (admin) => admin.query('SELECT pg_terminate_backend($1)', [closed]));
      // The retry waits on the lock too, on another session.
      await until(async () => (await blockedPids(bed.database.url)).some((pid) => pid !== closed));
      await other.query('COMMIT');
      expect((await appended).duplicate).toBe(false);
      expect((await next).duplicate).toBe(false);
    });
    expect(await streamVersions('closed-under')).toEqual([1, 2, 3]);
    await store.close();
  });

  it('writes each append once when the server closes the held connection between two appends (its last answer and the FATAL arriving in one read)', async () => {
    const target = new URL(bed.database.url);
    const proxy = await PgProxy.start({ host: target.hostname, port: Number(target.port) });
    const url = new URL(proxy.urlFor(bed.database.url));
    url.searchParams.set('application_name', 'lease_closed_between');
    const proxied = await createPool(url.toString(), eventStorePoolConfiguration({ maxPoolSize: 2, idleInTransactionTimeoutMs: 10_000 }));
    try {
      const store = bed.openStore({ pool: proxied, notifyIntervalMs: 3_600_000 });
      await store.append('closed-between', [{ type: 'Posted', data: { n: 0 } }], { expectedVersion: 'no_stream' });
      proxy.holdNextAppendAnswer();
      // A single writer appends again as soon as it has its answer: here, once the server has closed the connection.
      const first = store.append('closed-between', [{ type: 'Posted', data: { n: 1 } }], { expectedVersion: 1 });
      const second = first.then(() => store.append('closed-between', [{ type: 'Posted', data: { n: 2 } }], { expectedVersion: 2 }));
      await until(() => proxy.held === 1);
      await withClient(bed.database.url, (admin) => admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lease_closed_between'`));
      expect((await first).duplicate).toBe(false);
      expect((await second).duplicate).toBe(false);
      expect(await streamVersions('closed-between')).toEqual([1, 2, 3]);
      await store.close();
    } finally {
      await proxied.end();
      await proxy.close();
    }
  });

  it('appends with a statement PostgreSQL plans once per connection, not at every append (a single writer pays every millisecond of it)', async () => {
    // One connection, so every append runs on the session whose prepared statements are read after.
    const onePool = await createPool(bed.database.url, eventStorePoolConfiguration({ maxPoolSize: 1, idleInTransactionTimeoutMs: 10_000 }));
    try {
      const store = bed.openStore({ pool: onePool });
      let version = 0;
      for (let i = 0; i < 12; i++) {
        const result = await store.append(`single-${i % 3}`, [{ type: 'Posted', data: { i } }], { expectedVersion: Math.floor(i / 3) === 0 ? 'no_stream' : Math.floor(i / 3) });
        version = result.nextExpectedVersion;
      }
      expect(version).toBe(4);
      const plans = await onePool.any(
        sql.type(z.object({ name: z.string(), generic_plans: z.coerce.number(), custom_plans: z.coerce.number() }))`
          SELECT name, generic_plans::int AS generic_plans, custom_plans::int AS custom_plans FROM pg_prepared_statements WHERE name LIKE 'lakechat_%'`,
      );
      expect(plans.length).toBeGreaterThan(0);
      // PostgreSQL tries a custom plan for the first five executions, then keeps the generic one if it is no worse.
      for (const plan of plans) expect(plan, plan.name).toMatchObject({ custom_plans: expect.toSatisfy((n: number) => n <= 5) });
    } finally {
      await onePool.end();
    }
  });
});
