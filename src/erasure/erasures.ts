import { createHmac, randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import { isLakechatError, LakechatError } from '../errors.ts';
import { type EraseSelection, type EventStore, erasedStreamId, isTombstone, type RecordedEvent, tombstoneOf } from '../event-store/index.ts';
import type { Logger } from '../logger.ts';
import type { Projections } from '../projection-runner/index.ts';
import { type ContentDeletion, deleteOwnerRows, deleteStreamRows, touchedTables, unerasedDeletions, vacuumTables } from './database-rows.ts';
import { type ErasureRecord, type ErasureRecords, PostgresErasureRecords } from './erasure-records.ts';
import { FallbackErasureRecords } from './fallback-records.ts';

export interface ErasuresOptions {
  store: EventStore;
  projections: Projections;
  /** The PostgreSQL database (records, read-model rows); null in memory. */
  pool: DatabasePool | null;
  /**
   * The database whose rows an erasure deletes, looked up each time (default `pool`): an instance that
   * started on its memory fallback has none, then PostgreSQL's once it switched. Null: the read
   * models are in memory (`Projections.eraseRows`).
   */
  currentPool?: () => DatabasePool | null;
  logger?: Logger | undefined;
  /** Told the old ids of erased streams, so caches of their state are dropped (the services' stream states). */
  onStreamsErased?: (streamIds: readonly string[]) => void;
  /** Events rewritten per short transaction. */
  batchSize?: number;
  /** VACUUM the touched tables after each completed erasure (default true). */
  vacuum?: boolean;
  /** How long a completed erasure is remembered here, by email, for GET /api/me/erasure without an id. */
  rememberMs?: number;
  /**
   * The deletion events whose content `eraseContent` erases (the chats' and the profiles'): at start,
   * those left with content before them (a process stopped in between) are erased (`resumeAtStart`).
   */
  deletions?: readonly ContentDeletion[];
  /** Called after each batch of events commits, before anything else (tests stop an erasure there, as a kill would). */
  afterBatch?: (record: ErasureRecord, erasedSoFar: number) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Waits `ms`; false when `signal` aborted meanwhile (the app stops: shutdown does not wait). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve(signal?.aborted !== true);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** How long to wait for the read models to pass the erased events, at most, per pass. */
const projectionWaitMs = 120_000;

/**
 * Erasing users (issue 13, docs/privacy.md): a record per request (`erasures`), then passes until no
 * event of the user is left un-erased: the events become tombstones in place (the event store), the
 * read models pass them, and every row of the user outside the log is deleted. Completed, the record
 * forgets the user, and the touched tables are vacuumed. Writes of a user under erasure are refused
 * on this instance (`assertWritable`); an interrupted erasure is taken up again by `resumeOpen`.
 */
export class Erasures {
  readonly records: ErasureRecords;
  /** Users whose erasure runs on this instance: their writes are refused here. */
  private readonly erasing = new Map<string, Promise<ErasureRecord>>();
  /**
   * Completed here, recently: email → id and the streams it renamed (memory only, never stored), so
   * the user's own subscriptions resuming meanwhile read the tombstones too.
   */
  private readonly recent = new Map<string, { id: string; until: number; streams: readonly string[] }>();
  /** Called after each batch of events: tests stop an erasure mid-way, or write during it. */
  afterBatch: ErasuresOptions['afterBatch'];
  /** Called before a deletion's content is erased: tests stop there, as a kill would. */
  beforeContentErasure: (() => void | Promise<void>) | undefined;
  /** What `resumeAtStart` runs, for `settled`. */
  private starting: Promise<unknown> = Promise.resolve();
  /** Content erasures that failed and are tried again. */
  private readonly retrying = new Set<Promise<void>>();
  /** Counts the switches to PostgreSQL (the memory fallback): a pass that began before one is not the last. */
  private switches = 0;

  constructor(private readonly options: ErasuresOptions) {
    this.afterBatch = options.afterBatch;
    this.records = options.pool === null ? new FallbackErasureRecords() : new PostgresErasureRecords(options.pool);
  }

  /**
   * The instance left its memory fallback for PostgreSQL (the store and `currentPool` are
   * PostgreSQL's now): the erasure records move to the `erasures` table, the erasures running here go
   * on there (each makes one more pass, over PostgreSQL's log and rows: the user's events from before
   * the fallback), and an open one not running here (it failed on the fallback) is taken up again.
   */
  async switchedTo(pool: DatabasePool): Promise<void> {
    this.switches++;
    const records = this.records;
    if (!(records instanceof FallbackErasureRecords)) return;
    const move = async (): Promise<void> => {
      await records.moveTo(pool);
      for (const record of await records.listOpen()) if (record.subject !== null && !this.erasing.has(record.subject)) void this.runInBackground(record);
    };
    try {
      await move();
    } catch (error) {
      // Refused (an open erasure of the same user in the table, another instance's; or the database
      // went away): the records stay in memory, and moving them is tried again in the background.
      this.options.logger?.error({ err: error }, 'could not move the erasure records to PostgreSQL; trying again');
      const retrying = (async () => {
        for (let delayMs = 1_000; await pause(delayMs, this.options.signal); delayMs = Math.min(delayMs * 2, 60_000)) {
          try {
            return await move();
          } catch (again) {
            this.options.logger?.warn({ err: again, retryInMs: delayMs * 2 }, 'could not move the erasure records to PostgreSQL; trying again');
          }
        }
      })();
      this.retrying.add(retrying);
      void retrying.finally(() => this.retrying.delete(retrying));
    }
  }

  /** Throws LAKECHAT_ERR_ERASURE_IN_PROGRESS while this user's erasure runs on this instance. */
  assertWritable(owner: string | null | undefined): void {
    if (owner != null && this.erasing.has(owner)) throw new LakechatError('LAKECHAT_ERR_ERASURE_IN_PROGRESS');
  }

  /**
   * Opens (or finds) the user's erasure and runs it in the background; a second request while one is
   * open gets the same erasure. `requestedBy` is "self" or the operator.
   */
  async request(subject: string, requestedBy: string): Promise<ErasureRecord> {
    this.assertCanErase();
    const { record } = await this.records.open(subject, requestedBy);
    // Also one found open: it may have failed here, or its instance died. Running it twice at once
    // (here and on another instance) is safe: each batch rewrites only rows still the user's.
    void this.runInBackground(record);
    return record;
  }

  /** Runs the erasure to completion and returns the completed record (the script; tests). */
  async run(record: ErasureRecord): Promise<ErasureRecord> {
    const subject = record.subject;
    if (subject === null) return record;
    const running = this.erasing.get(subject);
    if (running !== undefined) return running;
    const work = this.erase(record).finally(() => this.erasing.delete(subject));
    this.erasing.set(subject, work);
    return work;
  }

  /** The erasure with this id; null when none has it. */
  async byId(id: string): Promise<ErasureRecord | null> {
    return this.records.get(id);
  }

  /** The user's open erasure, or the one completed here recently; null otherwise. */
  async forUser(subject: string): Promise<ErasureRecord | null> {
    const open = await this.records.findOpen(subject);
    if (open !== null) return open;
    const recent = this.recent.get(subject);
    if (recent === undefined || recent.until < Date.now()) {
      this.recent.delete(subject);
      return null;
    }
    return this.records.get(recent.id);
  }

  /**
   * The streams this instance's recent erasure of the user renamed (`erased-…`, its tombstones), or
   * none: a `user` subscription of theirs reads them as well as their own events (docs/privacy.md).
   */
  erasedStreamsOf(subject: string): readonly string[] {
    const recent = this.recent.get(subject);
    if (recent === undefined) return [];
    if (recent.until >= Date.now()) return recent.streams;
    this.recent.delete(subject);
    return [];
  }

  /**
   * What the memory fallback forwards an event as at the switch: an event of a user whose erasure is
   * open here goes as the tombstone the erasure will make of it (its stream renamed with the
   * erasure's key, no owner or metadata, an event id derived with the key: the same on every
   * attempt), so PostgreSQL never receives its payload. Any other event goes as it is.
   */
  async forwardedForm(event: RecordedEvent): Promise<RecordedEvent> {
    if (event.owner == null || isTombstone(event.data)) return event;
    const open = await this.records.findOpen(event.owner);
    if (open === null || open.streamKey === null) return event;
    const hash = createHmac('sha256', open.streamKey).update(`event\n${event.eventId}`).digest('hex');
    const eventId = `${hash.slice(0, 8)}-${hash.slice(8, 12)}-4${hash.slice(13, 16)}-8${hash.slice(17, 20)}-${hash.slice(20, 32)}`;
    return { ...event, data: { ...tombstoneOf(open.id) }, streamId: erasedStreamId(open.streamKey, event.streamId), eventId, metadata: {}, owner: null };
  }

  /** Takes up every erasure left open (by a process that stopped or was killed). */
  async resumeOpen(): Promise<ErasureRecord[]> {
    const open = await this.records.listOpen();
    return Promise.all(open.map((record) => this.run(record)));
  }

  /**
   * At start: takes up the erasures left open, and erases the content of deletions a stopped process
   * appended without erasing what they deleted (PostgreSQL: the memory log does not outlive its
   * process). Every instance may do it at once: each erasure skips what is already a tombstone.
   */
  resumeAtStart(): Promise<void> {
    const run = async (): Promise<void> => {
      const pool = this.options.pool;
      const finished = Promise.all(
        (pool === null ? [] : (this.options.deletions ?? [])).map(async (deletion) => {
          for (const left of await unerasedDeletions(pool!, deletion)) {
            const through = deletion.restartable ? { throughVersion: left.version } : {};
            // One that fails is tried again in the background (eraseContent): go on with the others.
            await this.eraseContent({ streamIds: [left.streamId], keepTypes: deletion.keepTypes, ...through }).catch((error: unknown) => {
              if (!this.options.signal?.aborted) this.options.logger?.warn({ err: error }, "could not erase a deleted chat's or profile's content at start; trying again");
            });
          }
        }),
      );
      await Promise.all([this.resumeOpen(), finished]);
    };
    const started = run();
    this.starting = started.catch(() => undefined);
    return started;
  }

  /** Resolves once every erasure running here (and what `resumeAtStart` began) has ended (tests, shutdown). */
  async settled(): Promise<void> {
    await this.starting;
    await Promise.allSettled([...this.erasing.values(), ...this.retrying]);
  }

  /**
   * A deleted chat's or profile's content: the selected events of these streams become tombstones
   * (their ids, owner and metadata stay: the user still exists), and the streams' rows outside the
   * log go: all of them, or with `throughVersion` (the deletion's version, whose event is kept) those
   * before it, so the read models hold what a rebuild from the log would (the deletion's own entry
   * in a profile's history, which holds no value). Returns the events erased.
   */
  async eraseContent(selection: EraseSelection & { streamIds: readonly string[] }): Promise<number> {
    this.assertCanErase();
    await this.beforeContentErasure?.();
    try {
      return await this.eraseContentNow(selection);
    } catch (error) {
      // The deletion is in the log already: its content must go even though this request failed.
      this.retryContentErasure(selection);
      throw error;
    }
  }

  /** Tries a failed content erasure again, with backoff, until it succeeds or the app stops (then the next start does it). */
  private retryContentErasure(selection: EraseSelection & { streamIds: readonly string[] }): void {
    const retrying = (async () => {
      for (let delayMs = 1_000; !this.options.signal?.aborted; delayMs = Math.min(delayMs * 2, 60_000)) {
        if (!(await pause(delayMs, this.options.signal))) return;
        try {
          await this.eraseContentNow(selection);
          return;
        } catch (error) {
          this.options.logger?.warn({ err: error, retryInMs: delayMs * 2 }, "could not erase a deleted chat's or profile's content; trying again");
        }
      }
    })();
    this.retrying.add(retrying);
    void retrying.finally(() => this.retrying.delete(retrying));
  }

  private async eraseContentNow(selection: EraseSelection & { streamIds: readonly string[] }): Promise<number> {
    const erasureId = randomUUID();
    const result = await this.options.store.erase!(selection, { erasureId, streamKey: erasureId, batchSize: this.options.batchSize });
    await this.options.projections.runner.waitFor(result.lastCursor, projectionWaitMs);
    this.options.onStreamsErased?.(selection.streamIds);
    const pool = this.rowsPool();
    if (pool !== null) {
      await deleteStreamRows(pool, selection.streamIds, selection.throughVersion);
    } else {
      this.options.projections.eraseRows?.({ streamIds: selection.streamIds, ...(selection.throughVersion === undefined ? {} : { beforeVersion: selection.throughVersion }) });
    }
    this.options.logger?.info({ erasureId, streams: selection.streamIds.length, events: result.events }, "erased a deleted chat's or profile's content");
    return result.events;
  }

  private assertCanErase(): void {
    if (this.options.store.erase === undefined) throw new LakechatError('LAKECHAT_ERR_ERASURE_UNSUPPORTED');
  }

  private async runInBackground(record: ErasureRecord): Promise<void> {
    try {
      await this.run(record);
    } catch (error) {
      // The record stays open: the next start of the app (or the script) takes it up again.
      if (!this.options.signal?.aborted) this.options.logger?.error({ err: error, erasureId: record.id }, 'an erasure failed; it resumes at the next start');
    }
  }

  private async erase(opened: ErasureRecord): Promise<ErasureRecord> {
    const { store, projections, logger } = this.options;
    const subject = opened.subject!;
    const streamKey = opened.streamKey!;
    // Found running: a process stopped or was killed during it.
    let record = await this.records.start(opened.id, opened.state === 'running');
    logger?.info({ erasureId: record.id, resumed: record.resumed }, record.resumed > 0 && opened.state === 'running' ? 'erasure resumed' : 'erasure started');
    let events = record.eventsErased;
    let rows = record.rowsErased;
    const renamed = new Set<string>();
    for (;;) {
      const before = events;
      const switches = this.switches;
      const result = await store.erase!(
        { owner: subject },
        {
          erasureId: record.id,
          streamKey,
          countIn: record.id,
          batchSize: this.options.batchSize,
          signal: this.options.signal,
          onBatch: async (erasedSoFar) => {
            // First, as a kill right after the batch committed would stop it (the count moved with the batch).
            await this.afterBatch?.(record, before + erasedSoFar);
            await this.records.progress(record.id, before + erasedSoFar, rows);
          },
        },
      );
      events += result.events;
      for (const streamId of result.streamIds) renamed.add(erasedStreamId(streamKey, streamId));
      this.options.onStreamsErased?.(result.streamIds);
      // Events read before they were erased may still be on their way into the read models: let them
      // pass first, or a row deleted now would come back.
      await this.waitForProjections(result.lastCursor);
      const pool = this.rowsPool();
      rows += pool !== null ? await deleteOwnerRows(pool, subject, record.id) : (projections.eraseRows?.({ owner: subject }) ?? 0);
      await this.records.progress(record.id, events, rows);
      if (result.events === 0 && switches === this.switches) break;
    }
    record = await this.records.complete(record.id, events, rows);
    // Complete: the user may write again at once (the vacuum below can take a while, and a client that
    // read "completed" must not be refused).
    this.erasing.delete(subject);
    this.recent.set(subject, { id: record.id, until: Date.now() + (this.options.rememberMs ?? 3_600_000), streams: [...renamed] });
    logger?.info({ erasureId: record.id, events, rows }, 'erasure completed');
    const pool = this.rowsPool();
    if (pool !== null && this.options.vacuum !== false) {
      await vacuumTables(pool, await touchedTables(pool), (table, error) =>
        logger?.warn({ err: error, table }, 'could not vacuum a table after an erasure; its old row versions stay until autovacuum'),
      );
    }
    return record;
  }

  private rowsPool(): DatabasePool | null {
    return this.options.currentPool?.() ?? this.options.pool;
  }

  private async waitForProjections(cursor: string | null): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.projections.runner.waitFor(cursor, projectionWaitMs);
        return;
      } catch (error) {
        if (!isLakechatError(error, 'LAKECHAT_ERR_PROJECTION_TIMEOUT') || attempt >= 3) throw error;
      }
    }
  }
}
