import { randomUUID } from 'node:crypto';
import type { BenchResult, BenchScenario } from './scenario.ts';
import { alternate, createRawTable, measureFor, openBenchDatabase, payload, round } from './support.ts';

const batchSize = 100;
const sliceMs = 600;

/** Appends of 100 events per call by one writer; the raw baseline is one 100-row INSERT per call. */
export const batchScenario: BenchScenario = {
  name: 'batch',
  async run(context): Promise<BenchResult> {
    const db = await openBenchDatabase(context, 'bench_batch', 4);
    try {
      await createRawTable(db.raw);
      const store = db.openStore();
      let oursCalls = 0;
      const ours = () =>
        measureFor(sliceMs, 1, async () => {
          const n = oursCalls++;
          const events = Array.from({ length: batchSize }, (_, k) => ({ type: 'MessagePosted', ...payload(n * batchSize + k) }));
          await store.append(`batch-${n}`, events, { expectedVersion: 'no_stream' });
          return batchSize;
        });
      const values = Array.from({ length: batchSize }, (_, k) => {
        const base = k * 6;
        return `($${base + 1}, $${base + 2}, $${base + 3}, 'MessagePosted', $${base + 4}, $${base + 5}, $${base + 6})`;
      }).join(', ');
      const insert = `INSERT INTO raw_events (stream_id, stream_version, event_id, event_type, data, metadata, owner) VALUES ${values}`;
      let rawCalls = 0;
      const raw = () =>
        measureFor(sliceMs, 1, async () => {
          const n = rawCalls++;
          const parameters = [];
          for (let k = 0; k < batchSize; k++) {
            const { data, metadata } = payload(n * batchSize + k);
            parameters.push(`batch-${n}`, k + 1, randomUUID(), JSON.stringify(data), JSON.stringify(metadata), metadata.actor);
          }
          await db.raw.query(insert, parameters);
          return batchSize;
        });
      await alternate(1, raw, ours); // warm up
      const [rawEps, oursEps] = await alternate(5, raw, ours);
      return {
        rows: [{ scenario: 'batch', metric: '100 events per append, 1 writer', value: oursEps, unit: 'ev/s', baseline: rawEps, ratio: round(oursEps / rawEps), target: 'ratio >= 0.7' }],
        figures: { batch100_eps: oursEps, batch100_ratio: round(oursEps / rawEps) },
      };
    } finally {
      await db.close();
    }
  },
};
