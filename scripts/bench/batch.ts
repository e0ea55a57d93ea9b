import { randomUUID } from 'node:crypto';
import type { BenchResult, BenchScenario } from './scenario.ts';
import { createRawTable, openBenchDatabase, payload, round, runFor } from './support.ts';

const batchSize = 100;
const durationMs = 2_500;

/** Appends of 100 events per call by one writer; the raw baseline is one 100-row INSERT per call. */
export const batchScenario: BenchScenario = {
  name: 'batch',
  async run(context): Promise<BenchResult> {
    const db = await openBenchDatabase(context, 'bench_batch', 4);
    try {
      await createRawTable(db.raw);
      const store = db.openStore();
      const ours = (tag: string) =>
        runFor(durationMs, 1, async (_worker, n) => {
          const events = Array.from({ length: batchSize }, (_, k) => ({ type: 'MessagePosted', ...payload(n * batchSize + k) }));
          await store.append(`${tag}-${n}`, events, { expectedVersion: 'no_stream' });
          return batchSize;
        });
      const values = Array.from({ length: batchSize }, (_, k) => {
        const base = k * 6;
        return `($${base + 1}, $${base + 2}, $${base + 3}, 'MessagePosted', $${base + 4}, $${base + 5}, $${base + 6})`;
      }).join(', ');
      const insert = `INSERT INTO raw_events (stream_id, stream_version, event_id, event_type, data, metadata, owner) VALUES ${values}`;
      const raw = (tag: string) =>
        runFor(durationMs, 1, async (_worker, n) => {
          const parameters = [];
          for (let k = 0; k < batchSize; k++) {
            const { data, metadata } = payload(n * batchSize + k);
            parameters.push(`${tag}-${n}`, k + 1, randomUUID(), JSON.stringify(data), JSON.stringify(metadata), metadata.actor);
          }
          await db.raw.query(insert, parameters);
          return batchSize;
        });
      await raw('warm');
      await ours('warm');
      const rawEps = await raw('b');
      const oursEps = await ours('b');
      return {
        rows: [{ scenario: 'batch', metric: '100 events per append', value: oursEps, unit: 'ev/s', baseline: rawEps, ratio: round(oursEps / rawEps), target: 'ratio >= 0.7' }],
        figures: { batch100_eps: oursEps, batch100_ratio: round(oursEps / rawEps) },
      };
    } finally {
      await db.close();
    }
  },
};
