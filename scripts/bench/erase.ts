import { randomUUID } from 'node:crypto';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import type { Storage } from '../../src/storage.ts';
import type { BenchResult, BenchScenario } from './scenario.ts';
import { openBenchDatabase, percentile, round } from './support.ts';

const victimEvents = 10_000;
const othersPerSecond = 100;
const otherUsers = 10;

/**
 * Erasing a user with 10,000 events (issue 13) while ten other users post 100 messages a second in
 * all (open loop): how long the erasure takes, start to completion (vacuum included), and the other
 * users' post latency meanwhile (through the chat service: the append and the wait for the read
 * models, as an HTTP post without HTTP), beside the same posts' latency in the two seconds before it
 * (the baseline: what the machine gives without an erasure).
 */
export const eraseScenario: BenchScenario = {
  name: 'erase',
  async run(context): Promise<BenchResult> {
    const database = await openBenchDatabase(context, 'bench_erase', 16);
    const store = database.openStore({ pollIntervalMs: 200 });
    const storage: Storage = {
      eventStore: store,
      pool: database.pool,
      status: () => ({ storage: 'postgres', mode: 'url', degraded: false, host: null, user: null, database: null, tokenExpiresAt: null }),
      close: () => store.close(),
    };
    const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), logger: createLogger({ level: 'silent' }), storage });
    try {
      const { chats, erasures, projections } = app.lakechat;
      const victim = 'bench-erased@example.com';
      const context = (actor: string) => ({ actor, correlationId: randomUUID(), client: 'bench' });
      // The victim: chats of 1,000 messages each, appended 100 at a time as posts would append them.
      let last: string | null = null;
      for (let chat = 0; chat < victimEvents / 1_000; chat++) {
        const chatId = `chat-${chat}`;
        await chats.startChat(context(victim), { id: chatId, title: `secret title ${chat}` });
        const streamId = chats.streamIdOf(victim, chatId);
        for (let position = 1; position < 1_000; position += 100) {
          const count = Math.min(100, 1_000 - position);
          const events = Array.from({ length: count }, (_, i) => ({
            type: 'MessagePosted',
            data: { chatId, messageId: randomUUID(), position: position + i, role: 'user', content: `secret words ${position + i}` },
            metadata: { actor: victim, client: 'bench' },
          }));
          last = (await store.append(streamId, events, { expectedVersion: position, owner: victim })).cursor;
        }
      }
      await projections.runner.waitFor(last, 120_000);
      for (let user = 0; user < otherUsers; user++) await chats.startChat(context(`other-${user}@example.com`), { id: 'mine', title: 'mine' });

      // The other users post at a steady rate; the erasure starts after a second of warm-up.
      const latencies: { started: number; ms: number }[] = [];
      const inFlight = new Set<Promise<void>>();
      let posting = true;
      let n = 0;
      const timer = setInterval(() => {
        if (!posting) return;
        const user = `other-${n++ % otherUsers}@example.com`;
        const started = performance.now();
        const post = chats
          .postMessage(context(user), 'mine', { role: 'user', content: `hello ${n}` })
          .then(() => void latencies.push({ started, ms: performance.now() - started }))
          .finally(() => inFlight.delete(post));
        inFlight.add(post);
      }, 1_000 / othersPerSecond);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const started = performance.now();
      const { record } = await erasures.records.open(victim, 'bench');
      const done = await erasures.run(record);
      const erasedMs = performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 500));
      posting = false;
      clearInterval(timer);
      await Promise.all(inFlight);
      const during = latencies
        .filter((latency) => latency.started >= started && latency.started <= started + erasedMs)
        .map((latency) => latency.ms)
        .sort((a, b) => a - b);
      // The same posts in the two seconds before the erasure: what this machine gives without it.
      const calm = latencies
        .filter((latency) => latency.started >= started - 2_000 && latency.started < started)
        .map((latency) => latency.ms)
        .sort((a, b) => a - b);
      const p99 = round(percentile(during, 99));
      const p50 = round(percentile(during, 50));
      const seconds = round(erasedMs / 1_000);
      return {
        rows: [
          { scenario: 'erase', metric: `erase a user with ${done.eventsErased} events (start to completed, vacuum included)`, value: seconds, unit: 's', target: '< 5 s' },
          { scenario: 'erase', metric: `other users' posts meanwhile (${during.length} at ${othersPerSecond}/s), p50`, value: p50, unit: 'ms' },
          { scenario: 'erase', metric: `other users' posts meanwhile, p99`, value: p99, unit: 'ms', baseline: round(percentile(calm, 99)), target: '< 100 ms' },
          { scenario: 'erase', metric: `other users' posts in the 2 s before (${calm.length}), p50`, value: round(percentile(calm, 50)), unit: 'ms' },
        ],
        figures: { erase_10k_s: seconds, erase_others_p99_ms: p99 },
      };
    } finally {
      await app.close();
      await database.close();
    }
  },
};
