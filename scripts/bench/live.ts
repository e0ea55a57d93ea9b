import { createPool } from 'slonik';
import { eventStorePoolConfiguration, PostgresEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import type { BenchResult, BenchScenario } from './scenario.ts';
import { openBenchDatabase, payload, percentile, round } from './support.ts';

const appendsPerSecond = 500;
const durationMs = 4_000;

function follow(store: PostgresEventStore, receivedAt: Map<string, number>) {
  const controller = new AbortController();
  let caughtUp!: () => void;
  const live = new Promise<void>((resolve) => (caughtUp = resolve));
  const done = (async () => {
    for await (const event of store.subscribe({ signal: controller.signal, onCaughtUp: () => caughtUp() }) as AsyncIterable<RecordedEvent>) {
      receivedAt.set(event.eventId, performance.now());
    }
  })();
  return { live, stop: () => (controller.abort(), done) };
}

function latencies(returnedAt: Map<string, number>, receivedAt: Map<string, number>): number[] {
  const values: number[] = [];
  for (const [eventId, returned] of returnedAt) {
    const received = receivedAt.get(eventId);
    // A subscriber may see the event before the appender's own promise resolves: that is 0 ms late.
    values.push(received === undefined ? Number.POSITIVE_INFINITY : Math.max(0, received - returned));
  }
  return values.sort((a, b) => a - b);
}

/**
 * Latency from `append` returning to a live subscriber receiving the event, at 500 appends/s:
 * a subscriber on the appending instance (woken by the commit itself), and one on another
 * instance (woken by NOTIFY).
 */
export const liveScenario: BenchScenario = {
  name: 'live',
  async run(context): Promise<BenchResult> {
    const db = await openBenchDatabase(context, 'bench_live', 8);
    const otherPool = await createPool(db.url, eventStorePoolConfiguration({ maxPoolSize: 4, idleInTransactionTimeoutMs: 10_000 }));
    try {
      const store = db.openStore();
      const other = new PostgresEventStore({ pool: otherPool, listenerConfig: async () => ({ connectionString: db.url }) });
      const returnedAt = new Map<string, number>();
      const local = new Map<string, number>();
      const remote = new Map<string, number>();
      const localFollower = follow(store, local);
      const remoteFollower = follow(other, remote);
      await Promise.all([localFollower.live, remoteFollower.live]);
      while (!other.listening) await new Promise((resolve) => setTimeout(resolve, 10));

      const started = performance.now();
      const total = Math.round((appendsPerSecond * durationMs) / 1000);
      const appends: Promise<void>[] = [];
      for (let n = 0; n < total; n++) {
        const due = started + (n * 1000) / appendsPerSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        appends.push(
          store.append(`live-${n % 100}`, [{ type: 'MessagePosted', ...payload(n) }]).then((result) => {
            returnedAt.set(result.events[0]!.eventId, performance.now());
          }),
        );
      }
      await Promise.all(appends);
      const deadline = performance.now() + 5_000;
      while ((local.size < total || remote.size < total) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await localFollower.stop();
      await remoteFollower.stop();
      await other.close();

      const localLatency = latencies(returnedAt, local);
      const remoteLatency = latencies(returnedAt, remote);
      const p50 = round(percentile(localLatency, 50));
      const p99 = round(percentile(localLatency, 99));
      return {
        rows: [
          { scenario: 'live', metric: 'append -> subscriber, same instance, p50', value: p50, unit: 'ms' },
          { scenario: 'live', metric: 'append -> subscriber, same instance, p99', value: p99, unit: 'ms', target: '< 25 ms' },
          { scenario: 'live', metric: 'append -> subscriber, other instance (NOTIFY), p50', value: round(percentile(remoteLatency, 50)), unit: 'ms' },
          { scenario: 'live', metric: 'append -> subscriber, other instance (NOTIFY), p99', value: round(percentile(remoteLatency, 99)), unit: 'ms' },
        ],
        figures: { live_p50_ms: p50, live_p99_ms: p99 },
      };
    } finally {
      await db.close();
      await otherPool.end();
    }
  },
};
