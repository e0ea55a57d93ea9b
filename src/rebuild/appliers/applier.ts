import type { CommonQueryMethods } from 'slonik';
import type { RecordedEvent } from '../../event-store/index.ts';
import type { TableNames } from '../../projection-runner/index.ts';

/** A stored event as one projection reads it. */
export interface DecodedEvent {
  type: string;
  data: unknown;
  event: RecordedEvent;
}

/** What a staged batch writes; run once, inside the transaction that records the rebuild's progress. */
export type StagedWrites = (db: CommonQueryMethods) => Promise<void>;

export interface Staged {
  write: StagedWrites;
  /**
   * True when, once written, the tables hold every event staged so far. An applier may keep updated
   * rows back for a few batches, to write each once instead of once per batch; the rebuild then
   * records its progress only up to the last batch after which nothing was kept back.
   */
  complete: boolean;
  /**
   * Rows kept back from earlier batches, written before the batch's own writes, each part in its own
   * short transaction: a transaction that writes holds a transaction id, and while it does every
   * reader of the log waits (docs/architecture.md, "Reading without skipping"). Only rows whose
   * order does not matter (replacements of distinct keys) go here.
   */
  before?: readonly StagedWrites[];
}

/**
 * Applies a rebuild's events to one read model's tables, many thousands at a time: it reads the rows
 * the events touch, folds the events into them in memory (the read model's own fold), and writes each
 * table with one statement per kind of change. A read model's declared rebuild fast path must leave
 * the tables exactly as the fold does (test/projections/contract.int.spec.ts checks it).
 *
 * Two steps, so the next batch can be read and folded while the database writes the previous one:
 * `stage` only reads (rows it does not remember) and returns the writes; the rebuild runs them in
 * order. An applier is the only writer of its tables during a rebuild, so the rows it remembers stay
 * true, provided it never forgets one whose write has not run yet (hence the generations).
 */
export interface RebuildApplier {
  /**
   * Folds events, in log order, into what it remembers; `generation` numbers the batch (1, 2, 3...).
   * With `flush`, nothing may be kept back: the writes make the batch complete.
   */
  stage(db: CommonQueryMethods, items: readonly DecodedEvent[], generation: number, flush: boolean): Promise<Staged>;
  /** The writes of every batch up to `generation` have committed: rows they touched may be forgotten. */
  committed(generation: number): void;
  /** Forgets everything (after a transaction rolled back, the remembered rows no longer match the tables). */
  forget(): void;
  /**
   * The tables were just created, empty: rows it does not remember need not be read (no row), until
   * it forgets or evicts one. A fresh rebuild reads nothing back from the tables it writes.
   */
  startEmpty(): void;
}

export type ApplierFactory = (tables: TableNames) => RebuildApplier;
