import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { insertOneIfVersionHolds, optimisticGroup, type PostgresEventStore, prepareAppend } from '../../src/event-store/index.ts';
import type { BenchResult, BenchRow, BenchScenario } from './scenario.ts';
import { alternate, createRawTable, type Measured, measureFor, openBenchDatabase, payload, round } from './support.ts';

const streams = 1_000;
const sliceMs = 600;
const slices = 4;

type Contender = () => Promise<Measured>;

/** Worker w owns the streams s where s % workers == w, so it always knows the version to expect. */
function streamOf(worker: number, workers: number, n: number): number {
  return worker + workers * ((n * 7919) % Math.floor(streams / workers));
}

/** Single-event appends with an expected version to 1,000 streams. */
function ours(store: PostgresEventStore, workers: number, tag: string): Contender {
  const versions = new Array<number>(streams).fill(0);
  let next = 0;
  return () =>
    measureFor(sliceMs, workers, async (worker) => {
      const stream = streamOf(worker, workers, next++);
      const { data, metadata } = payload(next);
      const result = await store.append(`${tag}-${stream}`, [{ type: 'MessagePosted', data, metadata }], {
        expectedVersion: versions[stream]!,
        owner: metadata.actor as string,
      });
      versions[stream] = result.nextExpectedVersion;
      return 1;
    });
}

/** The raw baseline: one plain INSERT per event with pg, at the same concurrency. */
function raw(pool: pg.Pool, table: string, workers: number, tag: string, notifyInside = false): Contender {
  const versions = new Array<number>(streams).fill(0);
  const insert = `INSERT INTO ${table} (stream_id, stream_version, event_id, event_type, data, metadata, owner)
    VALUES ($1, $2, $3, 'MessagePosted', $4, $5, $6) RETURNING position`;
  // NOTIFY inside the inserting transaction: what the store avoids.
  const insertNotify = `WITH inserted AS (${insert}) SELECT pg_notify('bench_raw', inserted.position::text) FROM inserted`;
  let next = 0;
  return () =>
    measureFor(sliceMs, workers, async (worker) => {
      const stream = streamOf(worker, workers, next++);
      const { data, metadata } = payload(next);
      versions[stream]! += 1;
      await pool.query(notifyInside ? insertNotify : insert, [`${tag}-${stream}`, versions[stream], randomUUID(), JSON.stringify(data), JSON.stringify(metadata), metadata.actor]);
      return 1;
    });
}

/** The text and values the store sends for a single-event append, without sending them. */
async function ownStatement(streamId: string, expectedVersion: number, i: number): Promise<{ name: string; text: string; values: unknown[] }> {
  const { data, metadata } = payload(i);
  const { checks, columns } = optimisticGroup([prepareAppend(streamId, [{ type: 'MessagePosted', data, metadata }], { expectedVersion, owner: metadata.actor as string })]);
  let sent: { sql: string; values: readonly unknown[] } | undefined;
  const capture = {
    async query(query: { sql: string; values: readonly unknown[] }) {
      sent = query;
      return { rows: [] };
    },
  };
  await insertOneIfVersionHolds(capture as never, checks[0]!, columns);
  return { name: 'bench_own_statement', text: sent!.sql.replaceAll('$slonik_', '$'), values: [...sent!.values] };
}

/**
 * Where a single writer's time goes: the store's own single-event statement, sent with plain pg on
 * one hot connection (no Slonik, no group committer, no notifications), one at a time.
 */
function ownStatementRaw(pool: pg.Pool, tag: string): Contender {
  const versions = new Array<number>(streams).fill(0);
  let next = 0;
  return () =>
    measureFor(sliceMs, 1, async () => {
      const stream = streamOf(0, 1, next++);
      await pool.query(await ownStatement(`${tag}-${stream}`, versions[stream]!, next));
      versions[stream]! += 1;
      return 1;
    });
}

export const appendScenario: BenchScenario = {
  name: 'append',
  async run(context): Promise<BenchResult> {
    const db = await openBenchDatabase(context, 'bench_append', 16);
    try {
      await createRawTable(db.raw);
      await createRawTable(db.raw, 'raw_notify_events');
      const store = db.openStore();
      const everyCommit = db.openStore({ notifyIntervalMs: 0 });
      const twoFlushers = db.openStore({ appendFlushers: 2 });
      // No notification during a run (one is sent at the first commit, then none for an hour).
      const silent = db.openStore({ notifyIntervalMs: 3_600_000 });
      // Warm up connections, plans and the JIT.
      await alternate(1, raw(db.raw, 'raw_events', 16, 'warm'), ours(store, 16, 'warm'));
      // ...and a single writer's path too: a group of one event is a statement of its own, which the
      // c16 warm-up never runs (the first c1 slices paid its first plans and the JIT's warm-up).
      await alternate(1, raw(db.raw, 'raw_events', 1, 'warm1'), ours(store, 1, 'warm1'));

      const [raw1, ours1] = await alternate(slices, raw(db.raw, 'raw_events', 1, 'c1'), ours(store, 1, 'c1'));
      // Where c1's time goes (diagnostics; the target is the ratio above).
      const [rawInsert1, ownStatement1] = await alternate(slices, raw(db.raw, 'raw_events', 1, 'c1r'), ownStatementRaw(db.raw, 'c1s'));
      const [notifying1, silent1] = await alternate(slices, ours(store, 1, 'c1n'), ours(silent, 1, 'c1q'));
      const [raw16, ours16] = await alternate(slices, raw(db.raw, 'raw_events', 16, 'c16'), ours(store, 16, 'c16'));
      const [coalesced, afterEvery] = await alternate(3, ours(store, 16, 'c16c'), ours(everyCommit, 16, 'c16e'));
      const [oneFlusher, twoInFlight] = await alternate(3, ours(store, 16, 'c16o'), ours(twoFlushers, 16, 'c16f'));
      const [rawPlain, rawNotify] = await alternate(3, raw(db.raw, 'raw_events', 16, 'c16p'), raw(db.raw, 'raw_notify_events', 16, 'c16n', true));

      const rows: BenchRow[] = [
        { scenario: 'append', metric: 'c1 events/s', value: ours1, unit: 'ev/s', baseline: raw1, ratio: round(ours1 / raw1), target: 'ratio >= 0.9' },
        {
          scenario: 'append',
          metric: "c1, the store's statement sent by plain pg (vs raw INSERT)",
          value: ownStatement1,
          unit: 'ev/s',
          baseline: rawInsert1,
          ratio: round(ownStatement1 / rawInsert1),
        },
        { scenario: 'append', metric: 'c1, no notifications (vs coalesced)', value: silent1, unit: 'ev/s', baseline: notifying1, ratio: round(silent1 / notifying1) },
        { scenario: 'append', metric: 'c16 events/s', value: ours16, unit: 'ev/s', baseline: raw16, ratio: round(ours16 / raw16), target: 'ratio >= 0.6' },
        { scenario: 'append', metric: 'c16, NOTIFY after every commit (vs coalesced)', value: afterEvery, unit: 'ev/s', baseline: coalesced, ratio: round(afterEvery / coalesced) },
        { scenario: 'append', metric: 'c16, 2 groups in flight (vs 1)', value: twoInFlight, unit: 'ev/s', baseline: oneFlusher, ratio: round(twoInFlight / oneFlusher) },
        { scenario: 'append', metric: 'raw c16, NOTIFY in each insert (vs none)', value: rawNotify, unit: 'ev/s', baseline: rawPlain, ratio: round(rawNotify / rawPlain) },
      ];
      return {
        rows,
        figures: {
          append_c1_eps: ours1,
          append_c1_ratio: round(ours1 / raw1),
          append_c1_statement_ratio: round(ownStatement1 / rawInsert1),
          append_c16_eps: ours16,
          append_c16_ratio: round(ours16 / raw16),
        },
      };
    } finally {
      await db.close();
    }
  },
};
