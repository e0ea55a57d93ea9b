import { MemoryEventStore } from '../../src/event-store/index.ts';
import type { BenchResult, BenchScenario } from './scenario.ts';
import { payload, rate, runFor } from './support.ts';

/** The in-memory store: single-event appends (one writer), then readAll of everything in pages of 1,000. */
export const memoryScenario: BenchScenario = {
  name: 'memory',
  async run(): Promise<BenchResult> {
    const store = new MemoryEventStore();
    const versions = new Array<number>(1_000).fill(0);
    const appendEps = await runFor(2_000, 1, async (_worker, n) => {
      const stream = n % 1_000;
      const result = await store.append(`chat-${stream}`, [{ type: 'MessagePosted', ...payload(n) }], { expectedVersion: versions[stream]! });
      versions[stream] = result.nextExpectedVersion;
      return 1;
    });
    const started = performance.now();
    let read = 0;
    let cursor: string | null = null;
    for (;;) {
      const page = await store.readAll({ after: cursor, limit: 1_000 });
      read += page.events.length;
      cursor = page.cursor;
      if (page.events.length < 1_000) break;
    }
    const readEps = rate(read, performance.now() - started);
    await store.close();
    return {
      rows: [
        { scenario: 'memory', metric: 'appends (1 event, expected version)', value: appendEps, unit: 'ev/s' },
        { scenario: 'memory', metric: `readAll of ${read} events, pages of 1,000`, value: readEps, unit: 'ev/s' },
      ],
      figures: { memory_append_eps: appendEps, memory_readall_eps: readEps },
    };
  },
};
