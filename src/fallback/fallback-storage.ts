import type { DatabasePool } from 'slonik';
import type { Config } from '../config.ts';
import { MemoryEventStore, maxCursor } from '../event-store/index.ts';
import type { Logger } from '../logger.ts';
import type { Projections } from '../projection-runner/index.ts';
import type { Storage, StorageStatus } from '../storage.ts';
import { type ForwardedForm, Forwarder } from './forward-events.ts';
import { SwitchableEventStore } from './switchable-event-store.ts';
import { ProjectionsSwitch } from './switchable-projections.ts';

/** What /health shows of the fallback (under `fallback`): never a secret. */
export interface FallbackStatus {
  /** When the instance fell back to memory. */
  since: string;
  /** Connection attempts since, and why the last one failed. */
  attempts: number;
  lastError: string | null;
  /** When the instance switched to PostgreSQL; null while it is still on memory. */
  switchedAt: string | null;
  forwarded: number;
  redecided: number;
  parked: number;
}

export interface FallbackOptions {
  config: Config;
  logger: Logger;
  /** The status while on memory (degraded, with the reason). */
  status: StorageStatus;
  /** Connects to the configured database, migrates it and opens its store; throws while it is unreachable. */
  connect(): Promise<Storage>;
  /** Why a connection failed, in one line without secrets. */
  describe(error: unknown): string;
}

/** How long the PostgreSQL read models may take to apply the forwarded events before the switch gives up (and tries again later). */
const catchUpTimeoutMs = 120_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Storage for an instance whose database was unreachable at start-up: the memory log at once, and in
 * the background the database, tried again with backoff. When it answers, the memory log is forwarded
 * into it (forward-events.ts), appends are held for the last few, PostgreSQL's read models catch up,
 * and the instance switches to PostgreSQL without a restart (switchable-event-store.ts).
 */
export function fallbackStorage(options: FallbackOptions): Storage {
  const { config, logger } = options;
  const env = config.env;
  const memory = new MemoryEventStore({ logger, pollIntervalMs: env.EVENT_POLL_INTERVAL_MS });
  const store = new SwitchableEventStore(memory);
  const projections = new ProjectionsSwitch(memory);
  const fallback: FallbackStatus = { since: new Date().toISOString(), attempts: 0, lastError: options.status.reason ?? null, switchedAt: null, forwarded: 0, redecided: 0, parked: 0 };
  const stopping = new AbortController();
  let postgres: Storage | null = null;
  const afterSwitch: ((pool: DatabasePool) => Promise<void>)[] = [];
  let forwardedForm: ForwardedForm | undefined;

  async function switchOver(candidate: Storage): Promise<void> {
    const target = candidate.eventStore;
    const pool = candidate.pool!;
    const forwarder = new Forwarder(memory, target, pool, logger, forwardedForm);
    const report = (): void => void Object.assign(fallback, forwarder.counts);
    let heldMs = 0;
    logger.info('the database answers: forwarding the events accepted on the memory fallback');
    await forwarder.forwardAll();
    report();
    const next = await projections.openOn(target, pool);
    try {
      await next.runner.waitFor(forwarder.forwardedUntil, catchUpTimeoutMs);
      // The last events: new appends wait (briefly) until the switch.
      await store.pause();
      const pausedAt = performance.now();
      try {
        await forwarder.forwardAll();
        report();
        await next.runner.waitFor(forwarder.forwardedUntil, catchUpTimeoutMs);
        const head = await target.headCursor();
        projections.use(next, env.PROJECTION_WAIT_TIMEOUT_MS + 1_000);
        store.switchTo(target, maxCursor(head, forwarder.forwardedUntil));
        heldMs = Math.round(performance.now() - pausedAt);
      } finally {
        store.resume();
      }
    } catch (error) {
      await next.runner.stop();
      throw error;
    }
    postgres = candidate;
    // Right after the switch, before /health says so (the erasure records, docs/privacy.md): a failure is logged; the rest goes on.
    for (const work of afterSwitch) {
      await work(pool).catch((error: unknown) => logger.error({ reason: options.describe(error) }, 'work due at the switch to PostgreSQL failed'));
    }
    fallback.switchedAt = new Date().toISOString();
    logger.warn(
      { forwarded: fallback.forwarded, redecided: fallback.redecided, parked: fallback.parked, since: fallback.since, appendsHeldMs: heldMs },
      'switched from the memory fallback to PostgreSQL: every event accepted meanwhile is in the PostgreSQL log',
    );
  }

  async function reconnect(): Promise<void> {
    const minMs = env.STORAGE_RECONNECT_MIN_MS;
    const maxMs = Math.max(minMs, env.STORAGE_RECONNECT_MAX_MS);
    for (let attempt = 1; !stopping.signal.aborted; attempt++) {
      const delayMs = Math.min(minMs * 2 ** Math.min(attempt - 1, 30), maxMs);
      await sleep(delayMs, stopping.signal);
      if (stopping.signal.aborted) return;
      fallback.attempts = attempt;
      let candidate: Storage;
      try {
        candidate = await options.connect();
      } catch (error) {
        fallback.lastError = options.describe(error);
        logger.warn({ attempt, retryInMs: Math.min(delayMs * 2, maxMs), reason: fallback.lastError }, 'the database is still unavailable; staying on the memory fallback');
        continue;
      }
      if (stopping.signal.aborted) {
        await candidate.close().catch(() => {});
        return;
      }
      try {
        await switchOver(candidate);
        return;
      } catch (error) {
        fallback.lastError = options.describe(error);
        logger.error({ attempt, reason: fallback.lastError }, 'switching from the memory fallback to PostgreSQL failed; staying on memory and trying again');
        await candidate.close().catch(() => {});
      }
    }
  }

  const reconnecting = reconnect().catch((error: unknown) => {
    logger.error({ reason: options.describe(error) }, 'the memory fallback stopped trying to reach the database');
  });

  return {
    eventStore: store,
    get pool() {
      return postgres?.pool;
    },
    readerLag: async () => {
      if (postgres?.readerLag === undefined) throw new Error('on the memory fallback: no readers to hold back');
      return postgres.readerLag();
    },
    status: () => ({ ...(postgres?.status() ?? options.status), fallback: { ...fallback } }),
    tokenStatus: () => postgres?.tokenStatus?.() ?? null,
    openProjections: (projectionOptions): Promise<Projections> => projections.open(projectionOptions),
    onSwitch: (work) => void afterSwitch.push(work),
    forwardAs: (form) => {
      forwardedForm = form;
    },
    close: async () => {
      stopping.abort();
      await reconnecting;
      await store.close();
      await postgres?.close();
    },
  };
}
