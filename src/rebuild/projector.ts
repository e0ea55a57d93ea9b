import type { Logger } from 'pino';
import { type CommonQueryMethods, type DatabasePool, type DatabaseTransactionConnection, sql } from 'slonik';
import { compareCursors, type EventFilter, type EventStore, type ReadAllResult, type RecordedEvent } from '../event-store/index.ts';
import { type AnyReadModel, logSchemaMismatch, takes } from '../projection-runner/index.ts';
import type { DecodedEvent, RebuildApplier, Staged } from './appliers/applier.ts';

/** One projection being built, and how far. */
export interface ProjectionTarget {
  readonly projection: AnyReadModel;
  readonly applier: RebuildApplier;
  /** Every event up to here is applied (the next batch starts after it); null: none yet. */
  cursor: string | null;
  /** The position of the last event applied, for status and checkpoints. */
  position: number | null;
  /** Apply nothing after this cursor (null: nothing at all); undefined: no bound. */
  until?: string | null | undefined;
  /**
   * What the tables hold once the last batch commits (an applier may keep rows back for a few batches):
   * the progress a rebuild records. Equal to cursor and position after projectLog returns.
   */
  saved?: { cursor: string | null; position: number | null } | undefined;
}

export interface BatchDone {
  /** Events read from the log in this batch (whether or not a projection handles them). */
  events: number;
  /** The last event's position, when the batch held any. */
  position: number | null;
  cursor: string | null;
}

export interface ProjectOptions {
  store: EventStore;
  pool: DatabasePool;
  targets: readonly ProjectionTarget[];
  /** Events per transaction (at most). */
  batchSize: number;
  /**
   * How long each batch's transaction may take, about: a transaction that writes holds a transaction
   * id, and while it does every reader of the log waits (docs/rebuild.md). Batches shrink when their
   * transactions take longer and grow back (up to batchSize) when they are quick. None: fixed batches.
   */
  transactionBudgetMs?: number | undefined;
  /** Narrows the read (an "as of" time reads only what was recorded before it). */
  filter?: EventFilter | undefined;
  /** Read no further than this cursor. */
  stopAfter?: string | null | undefined;
  /**
   * Runs in each batch's transaction after its writes, with the targets already moved: where a
   * rebuild records its progress, atomically with the rows.
   */
  record?: ((tx: DatabaseTransactionConnection, targets: readonly ProjectionTarget[], events: number) => Promise<void>) | undefined;
  /** Where appliers read rows they do not remember: the pool by default, the swap's transaction in a swap. */
  reader?: CommonQueryMethods | undefined;
  onBatch?: ((done: BatchDone) => void) | undefined;
  /**
   * Runs a batch's writes; its own transaction on the pool by default. The swap passes its open
   * transaction, so the last events go in with the swap itself.
   */
  transaction?: ((work: (tx: DatabaseTransactionConnection) => Promise<void>) => Promise<void>) | undefined;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
}

const maxPage = 10_000;
/** Adaptive batches never go below this (each transaction has a fixed cost too). */
const minAdaptiveBatch = 250;

/** The next batch's size: scaled toward the budget, down at once, up by half at most. */
export function nextLimit(limit: number, tookMs: number, budgetMs: number, batchSize: number): number {
  const fitting = Math.floor((limit * budgetMs * 0.8) / Math.max(tookMs, 1));
  return Math.max(Math.min(minAdaptiveBatch, batchSize), Math.min(batchSize, fitting, Math.ceil(limit * 1.5)));
}

function lowest(cursors: readonly (string | null)[]): string | null {
  let low: string | null | undefined;
  for (const cursor of cursors) if (low === undefined || compareCursors(cursor, low) < 0) low = cursor;
  return low ?? null;
}

/**
 * Applies the log to the targets from where each stands up to the head (the first short page) or to
 * `stopAfter`, a batch per transaction, in three steps: read a batch (the next page is read meanwhile),
 * stage it (each applier folds it and returns its writes), commit it (the writes and the progress in
 * one transaction). While the database commits one batch the next is read and staged: the process
 * and PostgreSQL work at the same time. Returns the events read.
 */
export async function projectLog(options: ProjectOptions): Promise<number> {
  const { pool, targets, batchSize, signal } = options;
  const budget = options.transactionBudgetMs;
  // The batch's size now: batchSize, or less while transactions take longer than the budget.
  let limit = budget === undefined ? batchSize : Math.min(batchSize, minAdaptiveBatch * 4);
  const reader = new LogReader(options, lowest(targets.map((target) => target.cursor)), Math.min(limit, maxPage));
  let committing: Promise<void> = Promise.resolve();
  let generation = 0;
  let total = 0;

  for (const target of targets) target.saved ??= { cursor: target.cursor, position: target.position };
  const unsaved = (): boolean => targets.some((target) => target.saved!.cursor !== target.cursor);

  try {
    while (!reader.exhausted || unsaved()) {
      if (signal?.aborted === true) {
        // Stopping: one last batch writes what appliers kept back, so the progress saved is all of it.
        if (!unsaved()) break;
        reader.stop();
      }
      const batch: RecordedEvent[] = [];
      const decoderFor = batchDecoder(batch, options.logger);
      // While the batch's next page is read, decode this one (else the process would only wait).
      const batchCursor = await reader.read(batch, limit, (from) => decoderFor.warm(targets, from));
      // The last batch writes everything appliers kept back (an empty one only for that).
      const final = reader.exhausted;
      if (batch.length === 0 && !(final && unsaved())) break;

      const thisGeneration = ++generation;
      const staged = await stageBatch(targets, batch, decoderFor, options.reader ?? pool, thisGeneration, final);
      // One batch in the database at a time; the next waits here, already folded.
      await committing;
      advanceTargets(targets, batch, batchCursor, staged);
      const done: BatchDone = { events: batch.length, position: batch[batch.length - 1]?.position ?? null, cursor: batchCursor };
      const began = performance.now();
      committing = commitBatch(options, staged, batch.length).then(() => {
        if (budget !== undefined) limit = nextLimit(limit, performance.now() - began, budget, batchSize);
        for (const target of targets) target.applier.committed(thisGeneration);
        total += done.events;
        options.onBatch?.(done);
      });
      // Seen by the next iteration's await; a failure surfaces there or below.
      committing.catch(() => undefined);
    }
    await committing;
    signal?.throwIfAborted();
  } catch (error) {
    for (const target of targets) target.applier.forget();
    await committing.catch(() => undefined);
    throw error;
  }
  return total;
}

/** Reads the log a page ahead of its use, up to the head or to `stopAfter`. */
class LogReader {
  private reading: Promise<ReadAllResult> | null;

  constructor(
    private readonly options: Pick<ProjectOptions, 'store' | 'filter' | 'stopAfter'>,
    private after: string | null,
    private pageSize: number,
  ) {
    this.reading = options.store.readAll({ ...options.filter, after, limit: pageSize });
  }

  /** True once the last page was read. */
  get exhausted(): boolean {
    return this.reading === null;
  }

  stop(): void {
    this.reading?.catch(() => undefined);
    this.reading = null;
  }

  /**
   * Adds pages to `batch` until it holds `limit` events or the log is exhausted, the next page read
   * meanwhile (`whileReading` works on the events from the index given). Returns where the batch ends.
   */
  async read(batch: RecordedEvent[], limit: number, whileReading: (from: number) => Promise<void>): Promise<string | null> {
    const { stopAfter } = this.options;
    while (this.reading !== null && batch.length < limit) {
      const page: ReadAllResult = await this.reading;
      let events: RecordedEvent[] = page.events;
      let done: boolean = events.length < this.pageSize;
      this.pageSize = Math.min(limit, maxPage);
      if (stopAfter != null && events.length > 0 && compareCursors(events[events.length - 1]!.cursor, stopAfter) >= 0) {
        events = events.filter((event) => compareCursors(event.cursor, stopAfter) <= 0);
        done = true;
      }
      this.after = done && stopAfter != null ? stopAfter : page.cursor;
      this.reading = done ? null : this.options.store.readAll({ ...this.options.filter, after: this.after, limit: this.pageSize });
      const from = batch.length;
      batch.push(...events);
      if (this.reading !== null && batch.length < limit) await whileReading(from);
    }
    return this.after;
  }
}

/** Each target's share of the batch (after its cursor, up to its bound), decoded and staged by its applier. */
async function stageBatch(
  targets: readonly ProjectionTarget[],
  batch: readonly RecordedEvent[],
  decoderFor: BatchDecoder,
  db: CommonQueryMethods,
  generation: number,
  final: boolean,
): Promise<Staged[]> {
  const staged: Staged[] = [];
  for (const target of targets) {
    const decode = decoderFor(target.projection);
    // The batch is in log order: the target's share is one slice of it, found by comparing at its ends.
    let first = 0;
    while (first < batch.length && compareCursors(batch[first]!.cursor, target.cursor) <= 0) first++;
    let end = batch.length;
    if (target.until !== undefined) while (end > first && compareCursors(batch[end - 1]!.cursor, target.until) > 0) end--;
    const items: DecodedEvent[] = [];
    for (let i = first; i < end; i++) {
      const decoded = decode(i);
      if (decoded !== null) items.push(decoded);
    }
    staged.push(await target.applier.stage(db, items, generation, final));
  }
  return staged;
}

/** Moves each target to the batch's end (or its bound); its saved progress too when its applier kept nothing back. */
function advanceTargets(targets: readonly ProjectionTarget[], batch: readonly RecordedEvent[], batchCursor: string | null, staged: readonly Staged[]): void {
  targets.forEach((target, index) => {
    const end = target.until !== undefined && compareCursors(batchCursor, target.until) > 0 ? target.until : batchCursor;
    if (compareCursors(end, target.cursor) > 0) {
      target.cursor = end;
      if (batch.length > 0) target.position = Math.max(target.position ?? 0, lastPositionUpTo(batch, end));
    }
    if (staged[index]!.complete) target.saved = { cursor: target.cursor, position: target.position };
  });
}

/** Writes a staged batch: rows kept back first, in parts, each its own short transaction; then the batch's writes with the progress. */
async function commitBatch(options: ProjectOptions, staged: readonly Staged[], events: number): Promise<void> {
  const transaction = options.transaction ?? ownTransaction(options.pool);
  for (const part of staged.flatMap((stage) => stage.before ?? [])) await transaction(part);
  await transaction(async (tx) => {
    for (const { write } of staged) await write(tx);
    await options.record?.(tx, options.targets, events);
  });
}

interface BatchDecoder {
  /** The decoder of one projection: the event at `index`, decoded, or null (not handled, or logged and skipped). */
  (projection: AnyReadModel): (index: number) => DecodedEvent | null;
  /** Decodes the events from `from` on for every target ahead of use, logging nothing. */
  warm(targets: readonly ProjectionTarget[], from: number): Promise<void>;
}

/**
 * Decodes a batch's events for each projection, as the live runner does (decodeFor: an event whose data
 * does not match its schema is logged and skipped), parsing each event once per parser: chats and
 * messages share one. Per batch, in arrays, rather than in a WeakMap per event: a million weak entries
 * cost the garbage collector more than the parsing. The batch may still grow: `warm` decodes each page
 * as it arrives, while the next one is read.
 */
function batchDecoder(batch: readonly RecordedEvent[], logger: Logger | undefined): BatchDecoder {
  const byParser = new Map<AnyReadModel['parse'], (DecodedEvent | null | { failed: unknown })[]>();
  const cacheOf = (projection: AnyReadModel): (DecodedEvent | null | { failed: unknown })[] => {
    let parsed = byParser.get(projection.parse);
    if (parsed === undefined) byParser.set(projection.parse, (parsed = []));
    return parsed;
  };
  const decode = (projection: AnyReadModel, cache: (DecodedEvent | null | { failed: unknown })[], index: number): DecodedEvent | null | { failed: unknown } => {
    let result = cache[index];
    if (result === undefined) {
      const event = batch[index]!;
      try {
        const decoded = projection.parse(event) as { type: string; data: unknown } | null;
        result = decoded === null ? null : { type: decoded.type, data: decoded.data, event };
      } catch (error) {
        result = { failed: error };
      }
      cache[index] = result;
    }
    return result;
  };
  const decoder = ((projection: AnyReadModel) => {
    const cache = cacheOf(projection);

    return (index: number) => {
      const event = batch[index]!;
      if (!takes(projection, event)) return null;
      const result = decode(projection, cache, index);
      if (result !== null && 'failed' in result) {
        logSchemaMismatch(logger, projection, event, result.failed);
        return null;
      }
      return result;
    };
  }) as BatchDecoder;
  decoder.warm = async (targets, from) => {
    const chunk = 1_000;
    for (let start = from; start < batch.length; start += chunk) {
      for (const { projection } of targets) {
        const cache = cacheOf(projection);

        for (let i = start; i < Math.min(batch.length, start + chunk); i++) if (takes(projection, batch[i]!)) decode(projection, cache, i);
      }
      // Let the page being read come in meanwhile (its rows are parsed as they arrive).
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return decoder;
}

function ownTransaction(pool: DatabasePool): (work: (tx: DatabaseTransactionConnection) => Promise<void>) => Promise<void> {
  return (work) =>
    pool.transaction(async (tx) => {
      // Derived data: a crash loses at most the last batches, applied again from the progress that survived.
      await tx.query(sql.unsafe`SELECT set_config('synchronous_commit', 'off', true)`);
      await work(tx);
    });
}

function lastPositionUpTo(batch: readonly RecordedEvent[], end: string | null): number {
  for (let i = batch.length - 1; i >= 0; i--) if (compareCursors(batch[i]!.cursor, end) <= 0) return batch[i]!.position;
  return 0;
}
