import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPool, type DatabasePool } from 'slonik';
import { eventStorePoolConfiguration, PostgresEventStore, type PostgresEventStoreOptions } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import type { BenchContext } from './scenario.ts';

/** A migrated database with a Slonik pool, a raw pg pool, and stores to close at the end. */
export interface BenchDatabase {
  url: string;
  pool: DatabasePool;
  raw: pg.Pool;
  openStore(options?: Partial<PostgresEventStoreOptions>): PostgresEventStore;
  close(): Promise<void>;
}

export async function openBenchDatabase(context: BenchContext, prefix: string, poolSize = 16): Promise<BenchDatabase> {
  const url = await context.createDatabase(prefix);
  await runMigrations({ connectionString: url });
  const pool = await createPool(url, eventStorePoolConfiguration({ maxPoolSize: poolSize, idleInTransactionTimeoutMs: 10_000 }));
  const raw = new pg.Pool({ connectionString: url, max: poolSize });
  // The bench drops its database at the end (WITH FORCE): an idle connection's error must not crash it.
  raw.on('error', () => undefined);
  const stores: PostgresEventStore[] = [];
  return {
    url,
    pool,
    raw,
    openStore(options = {}) {
      const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: url }), ...options });
      stores.push(store);
      return store;
    },
    async close() {
      for (const store of stores) await store.close();
      await pool.end();
      await raw.end();
    },
  };
}

/** The raw baseline's table: the same columns, defaults, constraints and indexes as `events`. */
export async function createRawTable(raw: pg.Pool, name = 'raw_events'): Promise<void> {
  await raw.query(`CREATE TABLE ${name} (LIKE events INCLUDING ALL)`);
}

export function payload(i: number): { data: Record<string, unknown>; metadata: Record<string, unknown> } {
  return {
    data: { chatId: `chat-${i % 1000}`, text: `message ${i}: a line of chat about the weather, the news and lunch plans` },
    metadata: { actor: `user${i % 50}@example.com`, correlationId: randomUUID(), client: 'bench' },
  };
}

export function seconds(ms: number): number {
  return ms / 1000;
}

export function rate(count: number, elapsedMs: number): number {
  return Math.round(count / seconds(elapsedMs));
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export interface Measured {
  count: number;
  elapsedMs: number;
}

/** Runs `workers` loops until `durationMs` has passed; each loop calls `step` and counts what it returns. */
export async function measureFor(durationMs: number, workers: number, step: (worker: number, n: number) => Promise<number>): Promise<Measured> {
  const started = performance.now();
  const deadline = started + durationMs;
  let count = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let n = 0; performance.now() < deadline; n++) {
        // Not `count += await step()`: that reads `count` before awaiting and loses other workers' adds.
        const done = await step(worker, n);
        count += done;
      }
    }),
  );
  return { count, elapsedMs: performance.now() - started };
}

export async function runFor(durationMs: number, workers: number, step: (worker: number, n: number) => Promise<number>): Promise<number> {
  const { count, elapsedMs } = await measureFor(durationMs, workers, step);
  return rate(count, elapsedMs);
}

/**
 * Measures two contenders in alternating slices (A, B, A, B...) rather than one after the other,
 * so that a machine shared with other work slows both alike and their ratio stays meaningful.
 * Returns events per second of each over all its slices.
 */
export async function alternate(slices: number, a: (slice: number) => Promise<Measured>, b: (slice: number) => Promise<Measured>): Promise<[number, number]> {
  const totals = [
    { count: 0, elapsedMs: 0 },
    { count: 0, elapsedMs: 0 },
  ];
  for (let slice = 0; slice < slices; slice++) {
    for (const [index, run] of [a, b].entries()) {
      const { count, elapsedMs } = await run(slice);
      totals[index]!.count += count;
      totals[index]!.elapsedMs += elapsedMs;
    }
  }
  return [rate(totals[0]!.count, totals[0]!.elapsedMs), rate(totals[1]!.count, totals[1]!.elapsedMs)];
}

/** Drops the secondary indexes of `events`, runs `load`, and builds them again: bulk loads go ~2x faster. */
export async function withoutSecondaryIndexes(raw: pg.Pool, load: () => Promise<void>): Promise<void> {
  const { rows } = await raw.query<{ indexname: string; indexdef: string }>(
    `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events'
       AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'events'::regclass)`,
  );
  for (const row of rows) await raw.query(`DROP INDEX ${row.indexname}`);
  await load();
  const client = await raw.connect();
  try {
    await client.query(`SET maintenance_work_mem = '256MB'`);
    for (const row of rows) await client.query(row.indexdef);
    await client.query('VACUUM ANALYZE events');
  } finally {
    client.release();
  }
}

/**
 * Appends `count` events with SQL alone (generate_series), in transactions of 100,000 rows: a
 * large log in seconds, with the shape appends give (streams of 100 versions, 50 owners).
 */
export async function seedEvents(raw: pg.Pool, count: number): Promise<void> {
  const chunk = 100_000;
  for (let from = 0; from < count; from += chunk) {
    const to = Math.min(count, from + chunk) - 1;
    await raw.query(
      `INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, owner)
       SELECT 'chat-' || (g / 100), g % 100 + 1, md5(g::text)::uuid,
         CASE WHEN g % 100 = 0 THEN 'ChatStarted' ELSE 'MessagePosted' END,
         jsonb_build_object('chatId', 'chat-' || (g / 100), 'text', 'message ' || g || ': a line of chat about the weather, the news and lunch plans'),
         jsonb_build_object('actor', 'user' || (g / 100 % 50) || '@example.com', 'correlationId', md5((g + 1)::text)::uuid, 'client', 'bench'),
         'user' || (g / 100 % 50) || '@example.com'
       FROM generate_series($1::int, $2::int) AS g`,
      [from, to],
    );
  }
}

/** The cursor of the event at a given rank in reader order (1-based), for starting reads mid-log. */
export async function cursorAtRank(raw: pg.Pool, rank: number): Promise<string | null> {
  if (rank <= 0) return null;
  const { rows } = await raw.query<{ tx: string; position: string }>(`SELECT tx_id::text AS tx, position::text FROM events ORDER BY tx_id, position OFFSET $1 LIMIT 1`, [rank - 1]);
  return rows[0] === undefined ? null : `${rows[0].tx}-${rows[0].position}`;
}

const seeded = new Map<string, Promise<BenchDatabase>>();

/** One database holding a log of `count` events, shared by the scenarios of one run that need it. */
export function seededLog(context: BenchContext, count: number): Promise<BenchDatabase> {
  const key = `${context.adminDatabaseUrl}#${count}`;
  let database = seeded.get(key);
  if (database === undefined) {
    database = (async () => {
      const db = await openBenchDatabase(context, `bench_log_${count}`);
      await withoutSecondaryIndexes(db.raw, () => seedEvents(db.raw, count));
      return db;
    })();
    seeded.set(key, database);
  }
  return database;
}

/** Closes the shared seeded databases (the runner drops them afterwards). */
export async function closeSeededLogs(): Promise<void> {
  for (const database of seeded.values()) await (await database).close();
  seeded.clear();
}
