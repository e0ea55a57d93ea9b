import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createPool, type Interceptor } from 'slonik';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { type EventStore, eventStorePoolConfiguration, PostgresEventStore } from '../../src/event-store/index.ts';
import { createLogger } from '../../src/logger.ts';
import { runMigrations } from '../../src/migrate.ts';
import type { Storage } from '../../src/storage.ts';
import { startCrudChat } from './crud-chat.ts';
import { LoadClient } from './http-load-client.ts';
import type { BenchContext, BenchResult, BenchScenario } from './scenario.ts';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Closed loop: `workers` loops call `step` until the time is up. Returns operations per second and each latency. */
async function closedLoop(durationMs: number, workers: number, step: (worker: number, n: number) => Promise<void>): Promise<LoadResult> {
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
  return { perSecond: Math.round((latencies.length / elapsed) * 1_000), latencies: latencies.sort((a, b) => a - b), elapsedMs: elapsed };
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

type LoadJob =
  /** `port`: another server than the app (the CRUD baseline); the app's by default. */
  | { kind: 'post-closed'; durationMs: number; workers: number; from: number; port?: number }
  | { kind: 'post-open'; durationMs: number; rate: number; from: number }
  | { kind: 'list-closed'; durationMs: number; workers: number };

interface LoadResult {
  perSecond: number;
  latencies: number[];
  elapsedMs?: number;
}

const posters = (count: number) => Array.from({ length: count }, (_, i) => `poster${i}@example.com`);
const lister = 'lister@example.com';

/** One measured phase of load, run by the load generator's thread against the app's port. */
async function runLoadJob(clientFor: (port: number | undefined) => LoadClient, job: LoadJob): Promise<LoadResult> {
  const client = clientFor(job.kind === 'post-closed' ? job.port : undefined);
  const post = async (user: string, n: number) => {
    const response = await client.request('POST', '/api/chats/bench/messages', user, { role: 'user', content: message(n), clientMessageId: `m-${n}` });
    if (response.status !== 201) throw new Error(`post answered ${response.status}: ${response.body.slice(0, 200)}`);
  };
  switch (job.kind) {
    case 'post-closed': {
      const users = posters(job.workers);
      return closedLoop(job.durationMs, job.workers, (worker, n) => post(users[worker]!, job.from + n * job.workers + worker));
    }
    case 'post-open': {
      const users = posters(postWorkers);
      const { latencies, achievedPerSecond } = await openLoop(job.durationMs, job.rate, (n) => post(users[n % postWorkers]!, job.from + n));
      return { latencies, perSecond: achievedPerSecond };
    }
    case 'list-closed':
      return closedLoop(job.durationMs, job.workers, async () => {
        const response = await client.request('GET', '/api/chats', lister);
        if (response.status !== 200) throw new Error(`list answered ${response.status}`);
      });
  }
}

/**
 * The load generator runs in its own thread, as a separate client would: its HTTP client work does
 * not queue on the server's event loop, and the server is measured alone.
 */
class LoadGenerator {
  private readonly worker: Worker;

  constructor(port: number) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { lakechatHttpLoad: true, port } });
  }

  run(job: LoadJob): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: { result?: LoadResult; error?: string }) => {
        this.worker.off('error', reject);
        if (message.error !== undefined) reject(new Error(message.error));
        else resolve(message.result!);
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', reject);
      this.worker.postMessage(job);
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

if (!isMainThread && (workerData as { lakechatHttpLoad?: boolean } | null)?.lakechatHttpLoad === true) {
  const appPort = (workerData as { port: number }).port;
  const clients = new Map<number, LoadClient>();
  const clientFor = (port = appPort): LoadClient => {
    let client = clients.get(port);
    if (client === undefined) clients.set(port, (client = new LoadClient(port)));
    return client;
  };
  parentPort!.on('message', (job: LoadJob) => {
    runLoadJob(clientFor, job).then(
      (result) => parentPort!.postMessage({ result }),
      (error: unknown) => parentPort!.postMessage({ error: String(error) }),
    );
  });
}

const appendWorkers = 16;
const postWorkers = 32;
const pacedRate = 200;
const listChats = 1_000;
const phaseMs = 4_000;
/** c32 against the CRUD baseline: this many slices of each, alternated. */
const crudSlices = 3;
const sliceMs = 2_000;

const message = (n: number) => `message ${n}: how much of my salary should go into the emergency fund this year?`;

/** The event store's own single-append rate at concurrency 16: the denominator of the ratio. */
let appendRound = 0;

async function appendRate(store: EventStore): Promise<{ perSecond: number; cpuPerAppend: number | null }> {
  const versions = new Map<string, number>();
  const tag = appendRound++;
  const cpuBefore = serverThreadCpu();
  const { perSecond, latencies } = await closedLoop(phaseMs, appendWorkers, async (worker, n) => {
    const streamId = `bench-append-${tag}-${worker}-${n % 50}`;
    const owner = `appender${worker}@example.com`;
    const result = await store.append(
      streamId,
      [{ type: 'BenchAppended', data: { chatId: 'c', position: n, role: 'user', content: message(n) }, metadata: { actor: owner, correlationId: `r-${n}`, client: 'bench' } }],
      { expectedVersion: versions.get(streamId) ?? 0, owner },
    );
    versions.set(streamId, result.nextExpectedVersion);
  });
  const cpuAfter = serverThreadCpu();
  return { perSecond, cpuPerAppend: cpuBefore === null || cpuAfter === null ? null : Math.round((cpuAfter - cpuBefore) / latencies.length) };
}

/**
 * CPU time of the thread that runs the server (the load generator has its own), in µs; null where
 * Node has no process.threadCpuUsage (before 22.19).
 */
function serverThreadCpu(): number | null {
  const usage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.();
  return usage === undefined ? null : usage.user + usage.system;
}

/**
 * With BENCH_CPU_PROFILE=<file>, the server thread's CPU profile of the c32 phase is written there
 * (open it in Chrome's DevTools; `posts` in its name says what to divide by).
 */
async function startProfile(): Promise<{ stop(posts: number): Promise<void> } | undefined> {
  const file = loadConfig().env.BENCH_CPU_PROFILE;
  if (file === undefined || file === '') return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop(posts) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file.replace(/\.cpuprofile$/, '') + `.${posts}posts.cpuprofile`, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Closed-loop slices of one contender added up: rate, latencies, server thread CPU and statements. */
class PhaseTotals {
  count = 0;
  statements = 0;
  private elapsedMs = 0;
  private cpu: number | null = 0;
  private readonly latencies: number[] = [];

  async measure(run: () => Promise<LoadResult>, statements?: () => number): Promise<void> {
    const statementsBefore = statements?.() ?? 0;
    const cpuBefore = serverThreadCpu();
    const result = await run();
    const cpuAfter = serverThreadCpu();
    this.cpu = this.cpu === null || cpuBefore === null || cpuAfter === null ? null : this.cpu + cpuAfter - cpuBefore;
    this.statements += (statements?.() ?? 0) - statementsBefore;
    this.count += result.latencies.length;
    this.elapsedMs += result.elapsedMs!;
    for (const latency of result.latencies) this.latencies.push(latency);
  }

  result(): LoadResult {
    return { perSecond: Math.round((this.count / this.elapsedMs) * 1_000), latencies: this.latencies.sort((a, b) => a - b) };
  }

  cpuPerOperation(): number | null {
    return this.cpu === null ? null : Math.round(this.cpu / this.count);
  }
}

interface OpenedStorage {
  url: string;
  storage: Storage;
  /** Statements sent through the app's pool so far. */
  statements(): number;
  close(): Promise<void>;
}

/** A migrated database, its pool and the PostgreSQL store, wired as src/storage.ts wires them. */
async function openBenchStorage(context: BenchContext): Promise<OpenedStorage> {
  const url = await context.createDatabase('bench_http');
  await runMigrations({ connectionString: url });
  let statements = 0;
  const counting: Interceptor = {
    name: 'bench.countStatements',
    beforeQueryExecution: () => {
      statements++;
      return null;
    },
  };
  const configuration = eventStorePoolConfiguration({ maxPoolSize: 16, idleInTransactionTimeoutMs: 10_000 });
  const pool = await createPool(url, { ...configuration, interceptors: [...(configuration.interceptors ?? []), counting] });
  const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: url }) });
  const storage: Storage = {
    eventStore: store,
    pool,
    status: () => ({ storage: 'postgres', mode: 'url', degraded: false, host: '127.0.0.1', user: null, database: null, tokenExpiresAt: null }),
    close: () => store.close(),
  };
  return {
    url,
    storage,
    statements: () => statements,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}

/**
 * `http`: messages posted over real HTTP (keep-alive sockets to 127.0.0.1, from a load generator in
 * its own thread) at concurrency 32, each worker in its own chat, and at a steady 200 posts/s (open loop:
 * latency counts from when a post was due); a user's list of 1,000 chats read at concurrency 16, a
 * page of 100. Every post waits for the projections (read your writes), so the figures include that
 * wait; the time spent in it is reported apart (`http_wait_*`). The store's own single-append rate at
 * concurrency 16, measured first on the same store, is the ratio's baseline. `http_post_p50_ms` and
 * `http_post_p99_ms` are the 200 posts/s figures (the target's); `http_post_c32_*` those at c32.
 * `http_post_cpu_us` (the server thread's CPU per post at c32), `http_append_cpu_us` (per append in
 * the baseline) and `http_post_statements` (statements per post, all batched) say where a post's
 * cost goes; the load generator's thread is not counted. The c32 posts run in slices alternated
 * with the same posts to a plain CRUD route (`crud-chat.ts`: fastify + pg, one statement per post,
 * its own tables in the same database), served by the same thread: `http_post_crud_ratio` is
 * lakechat's posts per second over the CRUD route's (target >= 1.0), `http_crud_post_cpu_us` the
 * CRUD route's server CPU per post. BENCH_CPU_PROFILE=<file> adds a profiled c32 phase.
 */
export const httpScenario: BenchScenario = {
  name: 'http',
  async run(context): Promise<BenchResult> {
    const opened = await openBenchStorage(context);
    const { storage } = opened;
    await closedLoop(1_000, appendWorkers, async () => void (await storage.eventStore.append('bench-warm', [{ type: 'Warm', data: {} }])));
    const { perSecond: baselineBefore, cpuPerAppend } = await appendRate(storage.eventStore);

    const config = loadConfig({
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_SECOND: '0',
      NODE_ENV: 'production',
      ALLOW_DEMO_USER: 'true',
      PROJECTIONS_IN_APPEND: process.env.PROJECTIONS_IN_APPEND ?? 'true',
    });
    // The app's appends are timed, to tell the store's share of a post's latency from the rest.
    const appends: number[] = [];
    const store = storage.eventStore;
    const timedStore: EventStore = Object.assign(Object.create(store) as EventStore, {
      append: async (...args: Parameters<EventStore['append']>) => {
        const started = performance.now();
        try {
          return await store.append(...args);
        } finally {
          appends.push(performance.now() - started);
        }
      },
    });
    const app = await buildApp({ config, logger: createLogger({ level: 'silent' }), storage: { ...storage, eventStore: timedStore, status: storage.status, close: storage.close } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const client = new LoadClient(port);
    const load = new LoadGenerator(port);
    const crud = await startCrudChat(opened.url, 16);
    try {
      await Promise.all(posters(postWorkers).map((user) => client.request('POST', '/api/chats', user, { id: 'bench' })));
      // Warm up sockets, caches and the JIT.
      await load.run({ kind: 'post-closed', durationMs: 1_000, workers: postWorkers, from: 10_000_000 });

      await Promise.all(posters(postWorkers).map((user) => crud.createChat(user, 'bench')));
      await load.run({ kind: 'post-closed', durationMs: 1_000, workers: postWorkers, from: 10_000_000, port: crud.port });

      // c32: lakechat and the CRUD baseline in alternating slices, under the same load client.
      const runner = app.lakechat.projections.runner;
      appends.length = 0;
      const waitsBeforeConcurrent = runner.waitsRecorded;
      const ours = new PhaseTotals();
      const theirs = new PhaseTotals();
      for (let slice = 0; slice < crudSlices; slice++) {
        await ours.measure(() => load.run({ kind: 'post-closed', durationMs: sliceMs, workers: postWorkers, from: slice * 1_000_000 }), opened.statements);
        await theirs.measure(() => load.run({ kind: 'post-closed', durationMs: sliceMs, workers: postWorkers, from: slice * 1_000_000, port: crud.port }));
      }
      const concurrent = ours.result();
      const crudPosts = theirs.result();
      const statementsPerPost = round(ours.statements / ours.count);
      const cpuPerPost = ours.cpuPerOperation();
      const concurrentAppends = appends.slice().sort((a, b) => a - b);
      const concurrentWaits = runner
        .recentWaits()
        .slice(-Math.min(runner.waitsRecorded - waitsBeforeConcurrent, 10_000))
        .sort((a, b) => a - b);
      const profiler = await startProfile();
      if (profiler !== undefined) await profiler.stop((await load.run({ kind: 'post-closed', durationMs: phaseMs, workers: postWorkers, from: 5_000_000 })).latencies.length);
      // The machine's load drifts: the baseline is measured right before and right after, and averaged.
      const { perSecond: baselineAfter } = await appendRate(storage.eventStore);
      const baseline = Math.round((baselineBefore + baselineAfter) / 2);
      const waitsBefore = runner.waitsRecorded;
      appends.length = 0;
      const paced = await load.run({ kind: 'post-open', durationMs: phaseMs, rate: pacedRate, from: 20_000_000 });
      const waits = runner
        .recentWaits()
        .slice(-Math.min(runner.waitsRecorded - waitsBefore, 10_000))
        .sort((a, b) => a - b);
      const pacedAppends = appends.slice().sort((a, b) => a - b);

      for (let i = 0; i < listChats; i += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, k) => client.request('POST', '/api/chats', lister, { id: `chat-${i + k}`, title: `Chat ${i + k}` })));
      }
      const listing = await load.run({ kind: 'list-closed', durationMs: phaseMs, workers: 16 });

      const postsPerSecond = concurrent.perSecond;
      const ratio = round(postsPerSecond / baseline);
      const crudRatio = round(postsPerSecond / crudPosts.perSecond);
      const p50 = round(percentile(paced.latencies, 50));
      const p99 = round(percentile(paced.latencies, 99));
      return {
        rows: [
          { scenario: 'http', metric: `store single appends, c16 (${baselineBefore} before, ${baselineAfter} after)`, value: baseline, unit: 'ev/s' },
          { scenario: 'http', metric: 'POST message, c32', value: postsPerSecond, unit: 'posts/s', baseline, ratio, target: 'ratio >= 0.5' },
          { scenario: 'http', metric: 'POST message, c32, p50', value: round(percentile(concurrent.latencies, 50)), unit: 'ms' },
          { scenario: 'http', metric: 'POST message, c32, p99', value: round(percentile(concurrent.latencies, 99)), unit: 'ms' },
          { scenario: 'http', metric: '  server thread CPU per post (load generator apart)', value: cpuPerPost ?? Number.NaN, unit: `µs (a store append: ${cpuPerAppend ?? '?'} µs)` },
          { scenario: 'http', metric: "  statements per post (all of the app's, batched)", value: statementsPerPost, unit: '' },
          { scenario: 'http', metric: '  of which appending, p50 / p99', value: round(percentile(concurrentAppends, 50)), unit: `/ ${round(percentile(concurrentAppends, 99))} ms` },
          {
            scenario: 'http',
            metric: '  of which waiting for projections, p50 / p99',
            value: round(percentile(concurrentWaits, 50)),
            unit: `/ ${round(percentile(concurrentWaits, 99))} ms`,
          },
          {
            scenario: 'http',
            metric: 'POST message, c32, vs plain CRUD (fastify + pg, one statement), alternated',
            value: postsPerSecond,
            unit: 'posts/s',
            baseline: crudPosts.perSecond,
            ratio: crudRatio,
            target: 'ratio >= 1.0',
          },
          { scenario: 'http', metric: '  CRUD: server thread CPU per post', value: theirs.cpuPerOperation() ?? Number.NaN, unit: 'µs' },
          { scenario: 'http', metric: '  CRUD: p50 / p99', value: round(percentile(crudPosts.latencies, 50)), unit: `/ ${round(percentile(crudPosts.latencies, 99))} ms` },
          { scenario: 'http', metric: `POST message at ${pacedRate}/s (achieved ${paced.perSecond}/s), p50`, value: p50, unit: 'ms' },
          { scenario: 'http', metric: `POST message at ${pacedRate}/s, p99`, value: p99, unit: 'ms', target: 'p99 < 50 ms' },
          { scenario: 'http', metric: `  of which appending to the store, p50`, value: round(percentile(pacedAppends, 50)), unit: 'ms' },
          { scenario: 'http', metric: `  of which appending to the store, p99`, value: round(percentile(pacedAppends, 99)), unit: 'ms' },
          { scenario: 'http', metric: `  of which waiting for projections, p50`, value: round(percentile(waits, 50)), unit: 'ms' },
          { scenario: 'http', metric: `  of which waiting for projections, p99`, value: round(percentile(waits, 99)), unit: 'ms' },
          { scenario: 'http', metric: `GET /api/chats (${listChats} chats, page of 100), c16`, value: listing.perSecond, unit: 'req/s' },
        ],
        figures: {
          http_post_ps: postsPerSecond,
          http_post_p50_ms: p50,
          http_post_p99_ms: p99,
          http_post_ratio: ratio,
          http_crud_post_ps: crudPosts.perSecond,
          http_post_crud_ratio: crudRatio,
          list_chats_rps: listing.perSecond,
          http_post_c32_p50_ms: round(percentile(concurrent.latencies, 50)),
          http_post_c32_p99_ms: round(percentile(concurrent.latencies, 99)),
          http_post_statements: statementsPerPost,
          ...(cpuPerPost === null ? {} : { http_post_cpu_us: cpuPerPost }),
          ...(cpuPerAppend === null ? {} : { http_append_cpu_us: cpuPerAppend }),
          ...(theirs.cpuPerOperation() === null ? {} : { http_crud_post_cpu_us: theirs.cpuPerOperation()! }),
          http_append_p50_ms: round(percentile(pacedAppends, 50)),
          http_append_p99_ms: round(percentile(pacedAppends, 99)),
          http_wait_p50_ms: round(percentile(waits, 50)),
          http_wait_p99_ms: round(percentile(waits, 99)),
        },
      };
    } finally {
      client.close();
      await load.close();
      await crud.close();
      await app.close();
      await opened.close();
    }
  },
};
