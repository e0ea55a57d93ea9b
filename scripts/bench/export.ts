import { exportEvents, lineFormats } from '../../src/replay/index.ts';
import { openRealisticLog, rawBaseline } from './realistic-log.ts';
import type { BenchResult, BenchScenario } from './scenario.ts';

const events = 1_000_000;

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Counts what it is given, as a file would take it: the export's cost without a disk's. */
function countingSink(): { write(chunk: string): boolean; once(): unknown; bytes: number } {
  const sink = {
    bytes: 0,
    write(chunk: string) {
      sink.bytes += Buffer.byteLength(chunk);
      return true;
    },
    once: () => sink,
  };
  return sink;
}

/**
 * The replay's export of a realistic log of 1,000,000 events to NDJSON (every line serialized and
 * encoded, as for a file), as `npm run replay` runs it (lines built from the table's text, see
 * src/replay/ndjson-pages.ts), against the raw paged read of the same events table (measured around it).
 */
export const exportScenario: BenchScenario = {
  name: 'export',
  async run(context): Promise<BenchResult> {
    const log = await openRealisticLog(context, events);
    try {
      let exportEps = 0;
      let bytes = 0;
      const rawEps = await rawBaseline(log.raw, events, async () => {
        const sink = countingSink();
        const started = performance.now();
        const result = await exportEvents({ store: log.store, database: log.pool, filter: {}, format: lineFormats.ndjson, out: sink, pageSize: 5_000 });
        exportEps = Math.round(result.events / ((performance.now() - started) / 1_000));
        bytes = sink.bytes;
      });
      const ratio = round(exportEps / rawEps);
      return {
        rows: [
          {
            scenario: 'export',
            metric: `NDJSON, ${events.toLocaleString('en-US')} events (${Math.round(bytes / 1e6)} MB)`,
            value: exportEps,
            unit: 'ev/s',
            baseline: rawEps,
            ratio,
            target: 'ratio >= 0.60',
          },
        ],
        figures: { export_eps: exportEps, export_ratio: ratio },
      };
    } finally {
      await log.close();
    }
  },
};
