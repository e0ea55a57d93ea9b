import { allProjections } from '../../src/projection-runner/index.ts';
import { rebuildProjections } from '../../src/rebuild/index.ts';
import { openRealisticLog, rawBaseline } from './realistic-log.ts';
import type { BenchResult, BenchScenario } from './scenario.ts';

const events = 1_000_000;
const batchSize = 20_000;

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Rebuilds every projection (chats, messages, profiles, profile history) from a realistic log of
 * 1,000,000 events into shadow tables, then swaps them in: events per second from the first read to
 * the swap, against the raw paged read of the same events table (measured around it).
 */
export const rebuildScenario: BenchScenario = {
  name: 'rebuild',
  async run(context): Promise<BenchResult> {
    const log = await openRealisticLog(context, events);
    try {
      let rebuildEps = 0;
      const rawEps = await rawBaseline(log.raw, events, async () => {
        const started = performance.now();
        // Fixed batches, as an offline rebuild runs (--transaction-ms 0): this measures throughput; the
        // rebuild-live scenario measures the default, whose batches shrink while the machine is busy.
        const report = await rebuildProjections({ pool: log.pool, store: log.store, projections: allProjections, batchSize, transactionBudgetMs: 0, restart: true });
        rebuildEps = Math.round(report.events / ((performance.now() - started) / 1_000));
      });
      const ratio = round(rebuildEps / rawEps);
      return {
        rows: [
          {
            scenario: 'rebuild',
            metric: `all projections, ${events.toLocaleString('en-US')} events, fixed batches of ${batchSize.toLocaleString('en-US')}`,
            value: rebuildEps,
            unit: 'ev/s',
            baseline: rawEps,
            ratio,
            target: 'ratio >= 0.30',
          },
        ],
        figures: { rebuild_eps: rebuildEps, rebuild_ratio: ratio },
      };
    } finally {
      await log.close();
    }
  },
};
