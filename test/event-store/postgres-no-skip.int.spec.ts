import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPool, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareCursors, eventStorePoolConfiguration, type PostgresEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { createPostgresTestBed, type PostgresTestBed } from './postgres-support.ts';

let bed: PostgresTestBed;
const extraPools: DatabasePool[] = [];
beforeAll(async () => {
  bed = await createPostgresTestBed();
});
afterAll(async () => {
  await bed.close().finally(() => Promise.all(extraPools.map((pool) => pool.end())));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A writer outside the store whose transactions take their id early and commit late: exactly the
 * shape that makes a reader resuming by position skip rows (a lower id, a higher or lower
 * position, a commit after readers moved on).
 */
async function slowWriter(url: string, writer: number, transactions: number, ids: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let n = 0; n < transactions; n++) {
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
      await sleep(Math.random() * 8);
      const eventId = randomUUID();
      await client.query(`INSERT INTO events (stream_id, stream_version, event_id, event_type, data) VALUES ($1, $2, $3, 'Slow', $4)`, [
        `slow-${writer}`,
        n + 1,
        eventId,
        JSON.stringify({ writer, n }),
      ]);
      await sleep(Math.random() * 4);
      await client.query('COMMIT');
      ids.push(eventId);
    }
  } finally {
    await client.end();
  }
}

describe('no reader skips an event', () => {
  it('gives a polling reader and a live subscriber every event exactly once while 16 writers commit out of order', async () => {
    // Three store instances, each on its own pool, as three app instances would be.
    const stores: PostgresEventStore[] = [];
    for (let i = 0; i < 3; i++) {
      const pool = await createPool(bed.database.url, eventStorePoolConfiguration({ maxPoolSize: 6, idleInTransactionTimeoutMs: 10_000 }));
      extraPools.push(pool);
      stores.push(bed.openStore({ pool, pollIntervalMs: 100, appendFlushers: i === 2 ? 2 : 1 }));
    }
    const [storeA, storeB, reader] = stores as [PostgresEventStore, PostgresEventStore, PostgresEventStore];

    let caughtUp!: () => void;
    const live = new Promise<void>((resolve) => (caughtUp = resolve));
    const controller = new AbortController();
    const subscription = reader.subscribe({ after: null, signal: controller.signal, onCaughtUp: () => caughtUp() });
    const subscribed: RecordedEvent[] = [];
    const following = (async () => {
      for await (const event of subscription) subscribed.push(event);
    })();
    await live;

    const written: string[] = [];
    let writing = true;
    const polled: RecordedEvent[] = [];
    const polling = (async () => {
      let cursor: string | null = null;
      for (;;) {
        const done = !writing;
        const page = await reader.readAll({ after: cursor, limit: 100 });
        polled.push(...page.events);
        expect(compareCursors(page.cursor, cursor)).toBeGreaterThanOrEqual(0);
        cursor = page.cursor;
        if (done && page.events.length < 100 && polled.length >= written.length) return;
        if (page.events.length < 100) await sleep(Math.random() * 3);
      }
    })();

    const writers = Array.from({ length: 16 }, async (_, writer) => {
      if (writer < 4) return slowWriter(bed.database.url, writer, 80, written);
      const store = writer % 2 === 0 ? storeA : storeB;
      for (let n = 0; n < 80; n++) {
        const batch = writer < 10 ? 1 : 1 + (n % 5);
        const events = Array.from({ length: batch }, (_, k) => ({ type: 'Fast', data: { writer, n, k } }));
        const result = await store.append(`fast-${writer}`, events);
        written.push(...result.events.map((e) => e.eventId));
      }
    });
    await Promise.all(writers);
    writing = false;
    await polling;

    const expected = new Set(written);
    expect(expected.size).toBe(written.length);
    const polledIds = polled.map((e) => e.eventId);
    expect(polledIds.length).toBe(written.length);
    expect(new Set(polledIds)).toEqual(expected);
    for (let i = 1; i < polled.length; i++) expect(compareCursors(polled[i - 1]!.cursor, polled[i]!.cursor)).toBeLessThan(0);

    const deadline = Date.now() + 15_000;
    while (subscribed.length < written.length && Date.now() < deadline) await sleep(20);
    controller.abort();
    await following;
    expect(subscribed.map((e) => e.eventId)).toEqual(polledIds);
  });
});
