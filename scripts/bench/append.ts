import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PostgresEventStore } from '../../src/event-store/index.ts';
import type { BenchResult, BenchRow, BenchScenario } from './scenario.ts';
import { createRawTable, openBenchDatabase, payload, round, runFor } from './support.ts';

const streams = 1_000;
const durationMs = 2_500;

/**
 * Single-event appends with an expected version to 1,000 streams, at concurrency 1 and 16. Each
 * worker owns the streams s where s % workers == worker, so it always knows the version to expect.
 */
async function ours(store: PostgresEventStore, workers: number, tag: string): Promise<number> {
  const versions = new Array<number>(streams).fill(0);
  return runFor(durationMs, workers, async (worker, n) => {
    const perWorker = Math.floor(streams / workers);
    const stream = worker + workers * ((n * 7919) % perWorker);
    const { data, metadata } = payload(n);
    const result = await store.append(`${tag}-${stream}`, [{ type: 'MessagePosted', data, metadata }], {
      expectedVersion: versions[stream]!,
      owner: metadata.actor as string,
    });
    versions[stream] = result.nextExpectedVersion;
    return 1;
  });
}

/** The raw baseline: one plain INSERT per event with pg, at the same concurrency. */
async function raw(pool: pg.Pool, table: string, workers: number, tag: string, notifyInside = false): Promise<number> {
  const versions = new Array<number>(streams).fill(0);
  const insert = `INSERT INTO ${table} (stream_id, stream_version, event_id, event_type, data, metadata, owner)
    VALUES ($1, $2, $3, 'MessagePosted', $4, $5, $6) RETURNING position`;
  // NOTIFY inside the inserting transaction, to measure what the store avoids.
  const insertNotify = `WITH inserted AS (${insert}) SELECT pg_notify('bench_raw', inserted.position::text) FROM inserted`;
  return runFor(durationMs, workers, async (worker, n) => {
    const perWorker = Math.floor(streams / workers);
    const stream = worker + workers * ((n * 7919) % perWorker);
    const { data, metadata } = payload(n);
    versions[stream]! += 1;
    await pool.query(notifyInside ? insertNotify : insert, [
      `${tag}-${stream}`,
      versions[stream],
      randomUUID(),
      JSON.stringify(data),
      JSON.stringify(metadata),
      metadata.actor,
    ]);
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
      // Warm up connections, plans and the JIT.
      await raw(db.raw, 'raw_events', 16, 'warm');
      await ours(store, 16, 'warm');

      const raw1 = await raw(db.raw, 'raw_events', 1, 'c1');
      const ours1 = await ours(store, 1, 'c1');
      const raw16 = await raw(db.raw, 'raw_events', 16, 'c16');
      const ours16 = await ours(store, 16, 'c16');
      const raw16Notify = await raw(db.raw, 'raw_notify_events', 16, 'c16n', true);
      const everyCommit = db.openStore({ notifyIntervalMs: 0 });
      const ours16EveryCommit = await ours(everyCommit, 16, 'c16e');
      const twoFlushers = db.openStore({ appendFlushers: 2 });
      const ours16TwoFlushers = await ours(twoFlushers, 16, 'c16f');

      const rows: BenchRow[] = [
        { scenario: 'append', metric: 'c1 events/s', value: ours1, unit: 'ev/s', baseline: raw1, ratio: round(ours1 / raw1), target: '' },
        { scenario: 'append', metric: 'c16 events/s', value: ours16, unit: 'ev/s', baseline: raw16, ratio: round(ours16 / raw16), target: 'ratio >= 0.6' },
        { scenario: 'append', metric: 'c16, NOTIFY after every commit', value: ours16EveryCommit, unit: 'ev/s', baseline: raw16, ratio: round(ours16EveryCommit / raw16) },
        { scenario: 'append', metric: 'c16, 2 groups in flight', value: ours16TwoFlushers, unit: 'ev/s', baseline: raw16, ratio: round(ours16TwoFlushers / raw16) },
        { scenario: 'append', metric: 'raw c16 with NOTIFY in each insert', value: raw16Notify, unit: 'ev/s', baseline: raw16, ratio: round(raw16Notify / raw16) },
      ];
      return {
        rows,
        figures: {
          append_c1_eps: ours1,
          append_c1_ratio: round(ours1 / raw1),
          append_c16_eps: ours16,
          append_c16_ratio: round(ours16 / raw16),
        },
      };
    } finally {
      await db.close();
    }
  },
};
