import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createPool } from 'slonik';
import { eventStorePoolConfiguration, PostgresEventStore, type EventStore } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { createLogger } from '../../src/logger.ts';
import type { Storage } from '../../src/storage.ts';
import type { BenchContext, BenchResult, BenchScenario } from './scenario.ts';

/** A keep-alive HTTP/1.1 client for the benchmarks: real sockets to 127.0.0.1, no retries, no magic. */
class LoadClient {
  private readonly agent: http.Agent;

  constructor(
    private readonly port: number,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  request(method: string, path: string, user: string, body?: unknown): Promise<{ status: number; body: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: {
            'x-demo-user': user,
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Closed loop: `workers` loops call `step` until the time is up. Returns operations per second and each latency. */
async function closedLoop(durationMs: number, workers: number, step: (worker: number, n: number) => Promise<void>): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const t0 = performance.now();
        await step(worker, n);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  return { perSecond: Math.round((latencies.length / elapsed) * 1_000), latencies: latencies.sort((a, b) => a - b) };
}

/** Open loop: starts `rate` operations per second, whatever the latency, for `durationMs`. */
async function openLoop(durationMs: number, rate: number, step: (n: number) => Promise<void>): Promise<{ latencies: number[]; achievedPerSecond: number }> {
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round((durationMs / 1_000) * rate);
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1_000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    // Latency counts from when the request was due, so a stalled sender cannot hide queueing.
    inFlight.push(step(n).then(() => void latencies.push(performance.now() - due)));
  }
  await Promise.all(inFlight);
  const elapsed = performance.now() - started;
  return { latencies: latencies.sort((a, b) => a - b), achievedPerSecond: Math.round((total / elapsed) * 1_000) };
}

const appendWorkers = 16;
const postWorkers = 32;
const pacedRate = 200;
const listChats = 1_000;
const phaseMs = 4_000;

const message = (n: number) => `message ${n}: how much of my salary should go into the emergency fund this year?`;

/** The event store's own single-append rate at concurrency 16: the denominator of the ratio. */
let appendRound = 0;

async function appendRate(store: EventStore): Promise<number> {
  const versions = new Map<string, number>();
  const tag = appendRound++;
  const { perSecond } = await closedLoop(phaseMs, appendWorkers, async (worker, n) => {
    const streamId = `bench-append-${tag}-${worker}-${n % 50}`;
    const owner = `appender${worker}@example.com`;
    const result = await store.append(
      streamId,
      [{ type: 'BenchAppended', data: { chatId: 'c', position: n, role: 'user', content: message(n) }, metadata: { actor: owner, correlationId: `r-${n}`, client: 'bench' } }],
      { expectedVersion: versions.get(streamId) ?? 0, owner },
    );
    versions.set(streamId, result.nextExpectedVersion);
  });
  return perSecond;
}

interface OpenedStorage {
  storage: Storage;
  close(): Promise<void>;
}

/** A migrated database, its pool and the PostgreSQL store, wired as src/storage.ts wires them. */
async function openBenchStorage(context: BenchContext): Promise<OpenedStorage> {
  const url = await context.createDatabase('bench_http');
  await runMigrations({ connectionString: url });
  const pool = await createPool(url, eventStorePoolConfiguration({ maxPoolSize: 16, idleInTransactionTimeoutMs: 10_000 }));
  const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: url }) });
  const storage: Storage = { eventStore: store, pool, status: () => ({ storage: 'postgres', mode: 'url', degraded: false, host: '127.0.0.1', user: null, database: null, tokenExpiresAt: null }), close: () => store.close() };
  return {
    storage,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}

/**
 * `http`: messages posted over real HTTP (keep-alive sockets to 127.0.0.1; the client runs in this
 * process) at concurrency 32, each worker in its own chat, and at a steady 200 posts/s (open loop:
 * latency counts from when a post was due); a user's list of 1,000 chats read at concurrency 16, a
 * page of 100. Every post waits for the projections (read your writes), so the figures include that
 * wait; the time spent in it is reported apart (`http_wait_*`). The store's own single-append rate at
 * concurrency 16, measured first on the same store, is the ratio's baseline. `http_post_p50_ms` and
 * `http_post_p99_ms` are the 200 posts/s figures (the target's); `http_post_c32_*` those at c32.
 */
export const httpScenario: BenchScenario = {
  name: 'http',
  async run(context): Promise<BenchResult> {
    const opened = await openBenchStorage(context);
    const { storage } = opened;
    await closedLoop(1_000, appendWorkers, async () => void (await storage.eventStore.append('bench-warm', [{ type: 'Warm', data: {} }])));
    const baselineBefore = await appendRate(storage.eventStore);

    const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_SECOND: '0', NODE_ENV: 'production', ALLOW_DEMO_USER: 'true' });
    const app = await buildApp({ config, logger: createLogger({ level: 'silent' }), storage });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const client = new LoadClient((app.server.address() as AddressInfo).port, 64);
    try {
      const users = Array.from({ length: postWorkers }, (_, i) => `poster${i}@example.com`);
      await Promise.all(users.map((user) => client.request('POST', '/api/chats', user, { id: 'bench' })));
      const post = async (user: string, n: number) => {
        const response = await client.request('POST', '/api/chats/bench/messages', user, { role: 'user', content: message(n), clientMessageId: `m-${n}` });
        if (response.status !== 201) throw new Error(`post answered ${response.status}: ${response.body.slice(0, 200)}`);
      };
      // Warm up sockets, caches and the JIT.
      await closedLoop(1_000, postWorkers, (worker, n) => post(users[worker]!, -1 - n));

      const concurrent = await closedLoop(phaseMs, postWorkers, (worker, n) => post(users[worker]!, n));
      // The machine's load drifts: the baseline is measured right before and right after, and averaged.
      const baselineAfter = await appendRate(storage.eventStore);
      const baseline = Math.round((baselineBefore + baselineAfter) / 2);
      const runner = app.lakechat.projections.runner;
      const waitsBefore = runner.waitsRecorded;
      const paced = await openLoop(phaseMs, pacedRate, (n) => post(users[n % postWorkers]!, 1_000_000 + n));
      const waits = runner.recentWaits().slice(-Math.min(runner.waitsRecorded - waitsBefore, 10_000)).sort((a, b) => a - b);

      const lister = 'lister@example.com';
      for (let i = 0; i < listChats; i += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, k) => client.request('POST', '/api/chats', lister, { id: `chat-${i + k}`, title: `Chat ${i + k}` })));
      }
      const listing = await closedLoop(phaseMs, 16, async () => {
        const response = await client.request('GET', '/api/chats', lister);
        if (response.status !== 200) throw new Error(`list answered ${response.status}`);
      });

      const postsPerSecond = concurrent.perSecond;
      const ratio = round(postsPerSecond / baseline);
      const p50 = round(percentile(paced.latencies, 50));
      const p99 = round(percentile(paced.latencies, 99));
      return {
        rows: [
          { scenario: 'http', metric: `store single appends, c16 (${baselineBefore} before, ${baselineAfter} after)`, value: baseline, unit: 'ev/s' },
          { scenario: 'http', metric: 'POST message, c32', value: postsPerSecond, unit: 'posts/s', baseline, ratio, target: 'ratio >= 0.5' },
          { scenario: 'http', metric: 'POST message, c32, p50', value: round(percentile(concurrent.latencies, 50)), unit: 'ms' },
          { scenario: 'http', metric: 'POST message, c32, p99', value: round(percentile(concurrent.latencies, 99)), unit: 'ms' },
          { scenario: 'http', metric: `POST message at ${pacedRate}/s (achieved ${paced.achievedPerSecond}/s), p50`, value: p50, unit: 'ms' },
          { scenario: 'http', metric: `POST message at ${pacedRate}/s, p99`, value: p99, unit: 'ms', target: 'p99 < 50 ms' },
          { scenario: 'http', metric: `  of which waiting for projections, p50`, value: round(percentile(waits, 50)), unit: 'ms' },
          { scenario: 'http', metric: `  of which waiting for projections, p99`, value: round(percentile(waits, 99)), unit: 'ms' },
          { scenario: 'http', metric: `GET /api/chats (${listChats} chats, page of 100), c16`, value: listing.perSecond, unit: 'req/s' },
        ],
        figures: {
          http_post_ps: postsPerSecond,
          http_post_p50_ms: p50,
          http_post_p99_ms: p99,
          http_post_ratio: ratio,
          list_chats_rps: listing.perSecond,
          http_post_c32_p50_ms: round(percentile(concurrent.latencies, 50)),
          http_post_c32_p99_ms: round(percentile(concurrent.latencies, 99)),
          http_wait_p50_ms: round(percentile(waits, 50)),
          http_wait_p99_ms: round(percentile(waits, 99)),
        },
      };
    } finally {
      client.close();
      await app.close();
      await opened.close();
    }
  },
};
