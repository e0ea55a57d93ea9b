import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pg from 'pg';
import { createPool } from 'slonik';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { eventStorePoolConfiguration, PostgresEventStore } from '../../src/event-store/index.ts';
import { createLogger } from '../../src/logger.ts';
import { runMigrations } from '../../src/migrate.ts';
import { allProjections } from '../../src/projection-runner/index.ts';
import { rebuildProjections } from '../../src/rebuild/index.ts';
import type { Storage } from '../../src/storage.ts';
import { LoadClient } from './http-load-client.ts';
import type { BenchResult, BenchScenario } from './scenario.ts';
import { seedEventLog } from './seed-log.ts';

const events = 200_000;
const rate = 100;
const posters = 10;
const rebuildApplication = 'lakechat-bench-rebuild';

const round = (value: number): number => Math.round(value * 100) / 100;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

type LoadMessage = { kind: 'start'; from: number } | { kind: 'stop' };
interface LoadOutcome {
  latencies: number[];
  /** How many posts got each status other than 201 (0: the request failed without an answer). */
  failures: Record<string, number>;
}

const user = (n: number) => `poster${n % posters}@example.com`;

/**
 * The load generator's thread: posts at `rate` per second (open loop: latency counts from when a post
 * was due, so a stalled server cannot hide queueing) from `start` until `stop`, then reports.
 */
function runLoad(port: number): void {
  const client = new LoadClient(port);
  let stopping = false;
  let working: Promise<LoadOutcome> | undefined;
  parentPort!.on('message', (message: LoadMessage) => {
    if (message.kind === 'stop') {
      stopping = true;
      void working!.then((outcome) => parentPort!.postMessage(outcome));
      return;
    }
    stopping = false;
    working = (async () => {
      const latencies: number[] = [];
      const failures: Record<string, number> = {};
      const inFlight: Promise<void>[] = [];
      const started = performance.now();
      for (let n = 0; !stopping; n++) {
        const due = started + (n * 1_000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        const id = message.from + n;
        inFlight.push(
          client.request('POST', '/api/chats/bench/messages', user(id), { role: 'user', content: `message ${id} posted during a rebuild`, clientMessageId: `m-${id}` }).then(
            (response) => {
              if (response.status === 201) latencies.push(performance.now() - due);
              else failures[String(response.status)] = (failures[String(response.status)] ?? 0) + 1;
            },
            () => void (failures['0'] = (failures['0'] ?? 0) + 1),
          ),
        );
      }
      await Promise.all(inFlight);
      client.close();
      return { latencies: latencies.sort((a, b) => a - b), failures };
    })();
  });
}

if (!isMainThread && (workerData as { lakechatRebuildLoad?: boolean } | null)?.lakechatRebuildLoad === true) runLoad((workerData as { port: number }).port);

class LoadGenerator {
  private readonly worker: Worker;

  constructor(port: number) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { lakechatRebuildLoad: true, port } });
  }

  start(from: number): void {
    this.worker.postMessage({ kind: 'start', from } satisfies LoadMessage);
  }

  stop(): Promise<LoadOutcome> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', reject);
      this.worker.postMessage({ kind: 'stop' } satisfies LoadMessage);
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/** `npm run projections:rebuild -- --restart` in its own process, as a developer runs it; resolves with its exit code. */
function runRebuildScript(url: string): Promise<{ code: number | null; stderr: string }> {
  const named = new URL(url);
  named.searchParams.set('application_name', rebuildApplication);
  const script = fileURLToPath(new URL('../rebuild-projections.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--restart'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', LAKEBASE_PG_URL: named.toString() },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/** The longest any session of the rebuild held one transaction id, watched in pg_stat_activity. */
function watchRebuildTransactions(url: string): { stop(): Promise<number> } {
  const client = new pg.Client({ connectionString: url });
  const held = new Map<string, { first: number; last: number; queries: Set<string> }>();
  let running = true;
  const watching = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query<{ key: string; query: string }>(
        `SELECT pid || ':' || backend_xid AS key, left(query, 100) AS query FROM pg_stat_activity WHERE application_name = $1 AND backend_xid IS NOT NULL`,
        [rebuildApplication],
      );
      const now = performance.now();
      for (const { key, query } of rows) {
        const span = held.get(key) ?? { first: now, last: now, queries: new Set<string>() };
        span.last = now;
        span.queries.add(query.replace(/\s+/g, ' '));
        held.set(key, span);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await client.end();
  })();
  return {
    async stop() {
      running = false;
      await watching;
      const spans = [...held.values()].sort((a, b) => b.last - b.first - (a.last - a.first));
      // What the longest ones ran, for whoever reads the figures.
      for (const span of spans.slice(0, 3))
        process.stderr.write(`bench: rebuild-live: a transaction id held ${Math.round(span.last - span.first)} ms: ${[...span.queries].join(' | ').slice(0, 400)}\n`);
      return spans.length === 0 ? 0 : spans[0]!.last - spans[0]!.first;
    },
  };
}

/**
 * `rebuild-live`: the app serves posts over HTTP at 100/s (from a load generator in its own thread;
 * each post waits for the projections, read your writes) while `npm run projections:rebuild` rebuilds
 * every projection from a log of 200,000 events in its own process, as a developer runs it (default
 * batch size). Reports the posts' p50/p99 during the rebuild, how many answered 503 (or failed
 * otherwise), and the longest the rebuild held one transaction id (which holds back every reader).
 */
export const rebuildLiveScenario: BenchScenario = {
  name: 'rebuild-live',
  async run(context): Promise<BenchResult> {
    const url = await context.createDatabase('bench_rebuild_live');
    await runMigrations({ connectionString: url });
    await seedEventLog(url, { events });
    const pool = await createPool(url, eventStorePoolConfiguration({ maxPoolSize: 16, idleInTransactionTimeoutMs: 10_000, statementTimeoutMs: 600_000 }));
    const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: url }), instanceId: randomUUID() });
    const storage: Storage = {
      eventStore: store,
      pool,
      status: () => ({ storage: 'postgres', mode: 'url', degraded: false, host: '127.0.0.1', user: null, database: null, tokenExpiresAt: null }),
      close: () => store.close(),
    };
    // The live read models at the head first (the app would otherwise spend minutes catching up).
    await rebuildProjections({ pool, store, projections: allProjections, batchSize: 20_000, restart: true });

    const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_SECOND: '0', NODE_ENV: 'production', ALLOW_DEMO_USER: 'true' });
    const app = await buildApp({ config, logger: createLogger({ level: 'silent' }), storage });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const client = new LoadClient(port);
    const load = new LoadGenerator(port);
    try {
      for (let n = 0; n < posters; n++) await client.request('POST', '/api/chats', user(n), { id: 'bench' });
      // Warm up sockets, caches and the JIT, without a rebuild.
      load.start(10_000_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const quiet = await load.stop();

      const watcher = watchRebuildTransactions(url);
      load.start(0);
      const started = performance.now();
      const rebuilt = await runRebuildScript(url);
      const seconds = (performance.now() - started) / 1_000;
      const during = await load.stop();
      const longestXidMs = Math.round(await watcher.stop());
      if (rebuilt.code !== 0) throw new Error(`the rebuild exited with ${rebuilt.code}: ${rebuilt.stderr.slice(-2_000)}`);

      const p50 = round(percentile(during.latencies, 50));
      const p99 = round(percentile(during.latencies, 99));
      const served503 = during.failures['503'] ?? 0;
      const otherFailures = Object.entries(during.failures)
        .filter(([status]) => status !== '503')
        .reduce((sum, [, count]) => sum + count, 0);
      const posted = during.latencies.length + served503 + otherFailures;
      return {
        rows: [
          { scenario: 'rebuild-live', metric: `POST message at ${rate}/s, no rebuild (warm-up), p99`, value: round(percentile(quiet.latencies, 99)), unit: 'ms' },
          { scenario: 'rebuild-live', metric: `rebuild of ${events.toLocaleString('en-US')} events in its own process (npm run projections:rebuild)`, value: round(seconds), unit: 's' },
          { scenario: 'rebuild-live', metric: `POST message at ${rate}/s during the rebuild (${posted} posts), p50`, value: p50, unit: 'ms' },
          { scenario: 'rebuild-live', metric: `POST message at ${rate}/s during the rebuild, p99`, value: p99, unit: 'ms', target: 'p99 < 100 ms' },
          { scenario: 'rebuild-live', metric: 'posts answered 503 during the rebuild', value: served503, unit: 'posts', target: '0' },
          { scenario: 'rebuild-live', metric: `posts failed otherwise during the rebuild ${JSON.stringify(during.failures)}`, value: otherFailures, unit: 'posts' },
          { scenario: 'rebuild-live', metric: '  longest one transaction id held by the rebuild', value: longestXidMs, unit: 'ms' },
        ],
        figures: {
          rebuild_live_post_p50_ms: p50,
          rebuild_live_post_p99_ms: p99,
          rebuild_live_503s: served503,
          rebuild_live_failures: otherFailures,
          rebuild_live_seconds: round(seconds),
          rebuild_live_longest_xid_ms: longestXidMs,
        },
      };
    } finally {
      client.close();
      await load.close();
      await app.close();
      await store.close();
      await pool.end();
    }
  },
};
