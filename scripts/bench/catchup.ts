import type { BenchResult, BenchScenario } from './scenario.ts';
import { cursorAtRank, rate, seededLog } from './support.ts';

const total = 200_000;

/** A subscription catching up over 200,000 events of a 1,000,000-event log. */
export const catchupScenario: BenchScenario = {
  name: 'catchup',
  async run(context): Promise<BenchResult> {
    const log = await seededLog(context, 1_000_000);
    const store = log.openStore();
    const after = await cursorAtRank(log.raw, 1_000_000 - total);
    const controller = new AbortController();
    let received = 0;
    const started = performance.now();
    for await (const _event of store.subscribe({ after, signal: controller.signal })) {
      if (++received >= total) break;
    }
    const eps = rate(received, performance.now() - started);
    controller.abort();
    return {
      rows: [{ scenario: 'catchup', metric: 'subscription catch-up over 200,000 events', value: eps, unit: 'ev/s' }],
      figures: { catchup_eps: eps },
    };
  },
};
