import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPool, type DatabasePool } from 'slonik';
import { eventStorePoolConfiguration, PostgresEventStore } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import type { BenchContext } from './scenario.ts';
import { seedEventLog } from './seed-log.ts';

/** A migrated database holding a realistic log (valid domain events), with the pools to read it. */
export interface RealisticLog {
  url: string;
  events: number;
  pool: DatabasePool;
  raw: pg.Pool;
  store: PostgresEventStore;
  close(): Promise<void>;
}

const seeded = new Map<number, Promise<string>>();

/**
 * A realistic log, seeded once per size for the whole run: the rebuild and export scenarios read the
 * same events (the rebuild writes only read-model tables). Each scenario opens its own pools and closes
 * them; the bench runner drops the database at the end.
 */
export async function openRealisticLog(context: BenchContext, events: number): Promise<RealisticLog> {
  let url = seeded.get(events);
  if (url === undefined) {
    url = (async () => {
      const created = await context.createDatabase('bench_realistic');
      await runMigrations({ connectionString: created });
      await seedEventLog(created, { events });
      return created;
    })();
    seeded.set(events, url);
  }
  const connectionString = await url;
  const pool = await createPool(connectionString, eventStorePoolConfiguration({ maxPoolSize: 8, idleInTransactionTimeoutMs: 60_000, statementTimeoutMs: 600_000 }));
  const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString }), instanceId: randomUUID() });
  const raw = new pg.Pool({ connectionString, max: 2 });
  // The bench drops its database at the end (WITH FORCE): an idle connection's error must not crash it.
  raw.on('error', () => undefined);
  return {
    url: connectionString,
    events,
    pool,
    raw,
    store,
    async close() {
      await store.close();
      await pool.end();
      await raw.end();
    },
  };
}

/**
 * The raw baseline both scenarios compare with: the events table read with pg in pages of 1,000 by
 * position, the columns the store reads, rows as pg parses them. `count` events from position `from`.
 */
export async function rawPagedRead(raw: pg.Pool, from: number, count: number): Promise<number> {
  const started = performance.now();
  let read = 0;
  let position = from;
  while (read < count) {
    const { rows } = await raw.query<{ position: string }>(
      `SELECT position, tx_id, stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped, recorded_at
       FROM events WHERE position > $1 ORDER BY position LIMIT 1000`,
      [position],
    );
    if (rows.length === 0) break;
    read += rows.length;
    position = Number(rows[rows.length - 1]!.position);
  }
  return Math.round(read / ((performance.now() - started) / 1_000));
}

/** The baseline measured around the scenario (half before, half after), so both see the same machine. */
export async function rawBaseline(raw: pg.Pool, events: number, measure: () => Promise<void>): Promise<number> {
  const slice = Math.min(150_000, Math.floor(events / 4));
  const before = await rawPagedRead(raw, Math.floor(events / 4), slice);
  await measure();
  const after = await rawPagedRead(raw, Math.floor(events / 2), slice);
  return Math.round((before + after) / 2);
}
