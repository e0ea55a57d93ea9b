import type pg from 'pg';
import type { PostgresEventStore } from '../../src/event-store/index.ts';
import type { BenchResult, BenchScenario } from './scenario.ts';
import { alternate, cursorAtRank, type Measured, openBenchDatabase, percentile, round, seedEvents, seededLog, withoutSecondaryIndexes } from './support.ts';

const total = 200_000;
const pageSize = 1_000;

/** Reads `total` events in pages through the store, in slices that resume where the last stopped. */
function readOurs(store: PostgresEventStore, after: string | null, sliceEvents: number): () => Promise<Measured> {
  let cursor = after;
  return async () => {
    const started = performance.now();
    let read = 0;
    while (read < sliceEvents) {
      const page = await store.readAll({ after: cursor, limit: pageSize });
      read += page.events.length;
      cursor = page.cursor;
      if (page.events.length < pageSize) break;
    }
    return { count: read, elapsedMs: performance.now() - started };
  };
}

/** The raw baseline: the same columns, paged by position with pg. */
function readRaw(raw: pg.Pool, afterPosition: number, sliceEvents: number): () => Promise<Measured> {
  let position = afterPosition;
  return async () => {
    const started = performance.now();
    let read = 0;
    while (read < sliceEvents) {
      const { rows } = await raw.query<{ position: string }>(
        `SELECT position, tx_id, stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped, recorded_at
         FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
        [position, pageSize],
      );
      read += rows.length;
      if (rows.length === 0) break;
      position = Number(rows[rows.length - 1]!.position);
      if (rows.length < pageSize) break;
    }
    return { count: read, elapsedMs: performance.now() - started };
  };
}

/** Median time of one readAll page from random points of the log. */
async function pageMs(store: PostgresEventStore, raw: pg.Pool, logSize: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const after = await cursorAtRank(raw, Math.floor((((i * 7919) % 1000) / 1000) * (logSize - pageSize)));
    const started = performance.now();
    await store.readAll({ after, limit: pageSize });
    times.push(performance.now() - started);
  }
  return percentile(
    times.sort((a, b) => a - b),
    50,
  );
}

/** readAll of 200,000 events in pages of 1,000 from a log of 1,000,000; and a page's cost at 10,000 vs 1,000,000. */
export const readallScenario: BenchScenario = {
  name: 'readall',
  async run(context): Promise<BenchResult> {
    const big = await seededLog(context, 1_000_000);
    const small = await openBenchDatabase(context, 'bench_log_10k', 4);
    try {
      await withoutSecondaryIndexes(small.raw, () => seedEvents(small.raw, 10_000));
      const store = big.openStore();
      const start = 400_000;
      const after = await cursorAtRank(big.raw, start);
      await readOurs(store, after, total)(); // warm the cache: both readers then read from memory
      const slices = 5;
      const [rawEps, oursEps] = await alternate(slices, readRaw(big.raw, start, total / slices), readOurs(store, after, total / slices));
      const smallStore = small.openStore();
      const pageSmall = await pageMs(smallStore, small.raw, 10_000);
      const pageBig = await pageMs(store, big.raw, 1_000_000);
      return {
        rows: [
          { scenario: 'readall', metric: '200,000 events, pages of 1,000', value: oursEps, unit: 'ev/s', baseline: rawEps, ratio: round(oursEps / rawEps), target: 'ratio >= 0.7' },
          { scenario: 'readall', metric: 'page of 1,000, log of 10,000 (median)', value: round(pageSmall), unit: 'ms' },
          {
            scenario: 'readall',
            metric: 'page of 1,000, log of 1,000,000 (median)',
            value: round(pageBig),
            unit: 'ms',
            baseline: round(pageSmall),
            ratio: round(pageBig / pageSmall),
            target: 'same cost',
          },
        ],
        figures: { readall_eps: oursEps, readall_ratio: round(oursEps / rawEps) },
      };
    } finally {
      await small.close();
    }
  },
};
