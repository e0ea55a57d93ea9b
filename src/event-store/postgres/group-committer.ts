import type { Logger } from 'pino';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { databaseRetryOf, defaultDatabaseRetryMs, failureCode, isTransientDatabaseFailure, retryTransient } from '../../database-retry.ts';
import { LakechatError } from '../../errors.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { findDuplicateAppend } from '../idempotency.ts';
import type { AppendResult } from '../types.ts';
import type { PreparedAppend } from '../validate-append.ts';
import { type InsertColumns, type InsertedRow, insertEvents, insertIfVersionsHold, insertOneIfVersionHolds, lookupAppendState, type WrittenRow } from './append-sql.ts';
import { type AppendStepEvent, type AppendSteps, type StepsInStatement, stepsInStatement } from './append-steps.ts';
import { ConnectionLease } from './connection-lease.ts';
import { appendResult, type Decision, decideGroup, insertColumnsFor, optimisticGroup } from './decide-group.ts';
import { isDataException, violatedUniqueKey } from './postgres-errors.ts';

type Attempt =
  | { kind: 'written'; decisions: Decision[]; inserted: Map<string, InsertedRow> }
  /** An expected version did not hold: nothing written; decide each append exactly. */
  | { kind: 'refused' }
  /** A unique key was taken by another writer (or a retried event id): nothing written. */
  | { kind: 'raced' }
  /** A value PostgreSQL refuses (class 22): nothing written; isolate it. */
  | { kind: 'unstorable' };

interface Pending {
  prepared: PreparedAppend;
  /** Date.now() after which a failed connection is final for this append (DATABASE_RETRY_MS after it was asked). */
  deadline: number;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

export interface GroupCommitterOptions {
  db: CommonQueryMethods;
  /** Groups in flight at once. Two in-flight groups never touch the same stream or event id. */
  flushers: number;
  /** A group takes appends until it holds this many events (one append is never split). */
  maxGroupEvents: number;
  /** Called after every commit with the cursor of the last row it wrote. */
  onCommitted(cursor: string, tx: bigint): void;
  logger?: Logger | undefined;
  /** Ends every cursor this store hands out (`.` and its name, or empty): the steps' `cursor` column. */
  storeSuffix?: string;
  /**
   * How long an append whose connection failed is tried again (default: the pool's DATABASE_RETRY_MS
   * when it is a retrying pool, whose own retries the committer then bypasses; else 15 s).
   */
  retryForMs?: number;
}

/**
 * Event ids of inserts whose answer was lost with their connection: they may have committed. An
 * append found stored among them was written by this very append, and is answered as written.
 */
type LostWrites = Set<string>;

/** Another writer kept winning the race for this stream; the caller may retry. */
const maxAttemptsAlone = 20;

function unavailable(error: unknown): LakechatError {
  return error instanceof LakechatError ? error : new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', undefined, { cause: error });
}

/**
 * Group commit. Concurrent appends on one store instance queue here and are written together, in
 * one transaction, so a burst of N appends costs one WAL flush instead of N:
 * 1. Optimistic: one statement checks every append's expected version against the streams'
 *    current versions and inserts all the group's rows, or none (one round trip).
 * 2. When a version did not hold: one query reads the streams' versions, each append is decided in
 *    arrival order in JavaScript (exactly as if they ran one after another), and one multi-row
 *    INSERT writes the accepted ones.
 * 3. When an INSERT loses a race on a unique key (another instance, a retried event id): decided
 *    again with every event id looked up; if it loses again, each append alone.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private readonly busyStreams = new Map<string, number>();
  private readonly busyIds = new Set<string>();
  private drained: (() => void)[] = [];
  private pumpScheduled = false;

  private readonly db: CommonQueryMethods;
  private readonly retryForMs: number;
  /** Read models applied in the optimistic statements (src/projection-runner/in-append.ts); none by default. */
  steps: AppendSteps | undefined;
  /** With one group in flight at a time, consecutive groups keep one connection (see ConnectionLease). */
  private readonly lease: ConnectionLease | undefined;
  private releaseScheduled = false;

  constructor(private readonly options: GroupCommitterOptions) {
    const retry = databaseRetryOf(options.db);
    this.db = (retry?.unretried as CommonQueryMethods | undefined) ?? options.db;
    this.retryForMs = options.retryForMs ?? retry?.forMs ?? defaultDatabaseRetryMs;
    const pool = this.db as Partial<DatabasePool>;
    if (options.flushers === 1 && typeof pool.connect === 'function') this.lease = new ConnectionLease(pool as DatabasePool);
  }

  /** Gives the held connection back to the pool (the store's close, after drain). */
  release(): void {
    this.lease?.end();
  }

  /** Runs one statement on the held connection, or on the pool's next one. */
  private run<T>(statement: (db: CommonQueryMethods) => Promise<T>): Promise<T> {
    return this.lease === undefined ? statement(this.db) : this.lease.run(statement);
  }

  /**
   * When nothing is queued or in flight, the held connection goes back to the pool, unless an append
   * arrives first: a writer that appends again as soon as it has its answer does so before this runs.
   */
  private releaseWhenIdle(): void {
    if (this.lease === undefined || this.releaseScheduled) return;
    this.releaseScheduled = true;
    setImmediate(() => {
      this.releaseScheduled = false;
      if (this.queue.length === 0 && this.inFlight === 0) this.lease!.end();
    });
  }

  append(prepared: PreparedAppend): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ prepared, deadline: Date.now() + this.retryForMs, resolve, reject });
      // Appends issued in the same tick (Promise.all, one request fanning out) share a group.
      if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        queueMicrotask(() => {
          this.pumpScheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Resolves once every queued append has been settled. */
  async drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.drained.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.options.flushers && this.queue.length > 0) {
      const group = this.takeGroup();
      if (group.length === 0) return; // what is queued waits for a group in flight
      this.inFlight++;
      this.markBusy(group, 1);
      void this.flush(group).finally(() => {
        this.markBusy(group, -1);
        this.inFlight--;
        this.pump();
        if (this.queue.length === 0 && this.inFlight === 0) {
          for (const resolve of this.drained.splice(0)) resolve();
          this.releaseWhenIdle();
        }
      });
    }
  }

  /**
   * Takes the next group in arrival order. An append is left for later when its stream or an event
   * id is in a group in flight, or when its ids repeat an append already in this group (a retry:
   * it must be decided once the first is stored); everything after it on the same stream or ids
   * stays behind it, so per-stream order is arrival order.
   */
  private takeGroup(): Pending[] {
    const group: Pending[] = [];
    const rest: Pending[] = [];
    const blockedStreams = new Set<string>();
    const blockedIds = new Set<string>();
    const groupIds = new Set<string>();
    let events = 0;
    for (const pending of this.queue) {
      const { streamId, events: batch } = pending.prepared;
      const blocked =
        (group.length > 0 && events + batch.length > this.options.maxGroupEvents) ||
        this.busyStreams.has(streamId) ||
        blockedStreams.has(streamId) ||
        batch.some((event) => this.busyIds.has(event.eventId) || blockedIds.has(event.eventId) || groupIds.has(event.eventId));
      if (blocked) {
        rest.push(pending);
        blockedStreams.add(streamId);
        for (const event of batch) blockedIds.add(event.eventId);
        continue;
      }
      group.push(pending);
      events += batch.length;
      for (const event of batch) groupIds.add(event.eventId);
    }
    this.queue = rest;
    return group;
  }

  private markBusy(group: readonly Pending[], delta: 1 | -1): void {
    if (this.options.flushers === 1) return;
    for (const { prepared } of group) {
      const count = (this.busyStreams.get(prepared.streamId) ?? 0) + delta;
      if (count === 0) this.busyStreams.delete(prepared.streamId);
      else this.busyStreams.set(prepared.streamId, count);
      for (const event of prepared.events) {
        if (delta === 1) this.busyIds.add(event.eventId);
        else this.busyIds.delete(event.eventId);
      }
    }
  }

  /**
   * Writes a group. A failed connection (dropped, refused, the database restarting) is retried until
   * the earliest deadline of the group: every event id was fixed before the first try, so a retry
   * after an insert whose answer was lost looks every id up and finds the group either committed
   * (answered as written) or not (written now).
   */
  private async flush(group: readonly Pending[]): Promise<void> {
    const prepared = group.map((pending) => pending.prepared);
    const lost: LostWrites = new Set();
    const deadline = Math.min(...group.map((pending) => pending.deadline));
    let outcome: Attempt;
    try {
      outcome = await this.retrying(deadline, () => (lost.size === 0 ? this.attemptGroup(prepared, lost) : this.attempt(prepared, true, lost)));
    } catch (error) {
      for (const pending of group) pending.reject(unavailable(error));
      return;
    }
    if (outcome.kind !== 'written') {
      // Still racing, or one append holds a value PostgreSQL refuses: each append alone.
      this.options.logger?.debug({ outcome: outcome.kind, appends: group.length }, 'group insert failed; appending one by one');
      for (const pending of group)
        await this.settle(
          pending,
          this.retrying(pending.deadline, () => this.appendAlone(pending.prepared, lost)),
        );
      return;
    }
    const { decisions, inserted } = outcome;
    /** The newest row this group committed; its cursor is known for a recovered append only. */
    let last: { tx: bigint; position: number; cursor?: string } | undefined;
    const committed = (newest: { tx: bigint; position: number; cursor?: string }): void => {
      if (last === undefined || newest.position > last.position) last = newest;
    };
    group.forEach((pending, index) => {
      const decision = decisions[index]!;
      if (decision.kind === 'failed') return pending.reject(decision.error);
      if (decision.kind === 'done') {
        const result = answeredAsWritten(pending.prepared, decision.result, lost);
        // Written by this very group before its answer was lost: announced like any commit.
        if (!result.duplicate) committed({ tx: decodeCursor(result.cursor).tx, position: result.events.at(-1)!.position, cursor: result.cursor });
        return pending.resolve(result);
      }
      try {
        pending.resolve(appendResult(pending.prepared, decision.firstVersion, inserted));
      } catch (error) {
        pending.reject(unavailable(error));
      }
    });
    for (const row of inserted.values()) committed(row);
    if (last !== undefined) this.options.onCommitted(last.cursor ?? encodeCursor({ tx: last.tx, position: BigInt(last.position) }), last.tx);
  }

  /** Runs `write` again after a failed connection, until `deadline`. */
  private retrying<T>(deadline: number, write: () => Promise<T>): Promise<T> {
    return retryTransient(write, {
      deadline,
      onRetry: (error, attempt) => {
        if (attempt === 1) this.options.logger?.warn({ code: failureCode(error), retryForMs: this.retryForMs }, 'an append lost its database connection; retrying it');
      },
    });
  }

  /** Optimistic first; exact when a version did not hold; exact with every event id looked up after a lost race. */
  private async attemptGroup(prepared: readonly PreparedAppend[], lost: LostWrites): Promise<Attempt> {
    let outcome = await this.attemptOptimistic(prepared, lost);
    if (outcome.kind === 'refused') outcome = await this.attempt(prepared, false, lost);
    // Lost a race (another instance, or a retried event id): once more, checking every event id.
    if (outcome.kind === 'raced') outcome = await this.attempt(prepared, true, lost);
    return outcome;
  }

  /** An insert; when its connection fails, its event ids are remembered as possibly committed. */
  private async insert<T>(columns: InsertColumns, lost: LostWrites, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isTransientDatabaseFailure(error)) for (const eventId of columns.eventIds) lost.add(eventId);
      throw error;
    }
  }

  /**
   * The common case in one round trip: every expected version holds, no event id is stored yet.
   * The statement checks the versions itself and writes all or nothing.
   */
  private async attemptOptimistic(prepared: readonly PreparedAppend[], lost: LostWrites): Promise<Attempt> {
    const { checks, columns } = optimisticGroup(prepared);
    let steps = stepsInStatement(this.steps, stepEvents(prepared, columns), this.options.storeSuffix ?? '');
    let written;
    for (;;) {
      try {
        // One event alone (a single writer): the statement PostgreSQL plans once, not at every append.
        const write =
          columns.eventIds.length === 1
            ? () => this.run((db) => insertOneIfVersionHolds(db, checks[0]!, columns, steps))
            : () => this.run((db) => insertIfVersionsHold(db, checks, columns, steps));
        written = await this.insert(columns, lost, write);
        break;
      } catch (error) {
        // A read model's step must never cost an append: anything but a lost connection (retried as
        // it is) or a lost race is tried again without the steps, and the runner applies the events.
        if (steps !== undefined && !isTransientDatabaseFailure(error) && violatedUniqueKey(error) === undefined) {
          this.options.logger?.warn({ err: error }, 'a read model step failed in an append; appending without the steps');
          // Should the failure come after the commit (its answer unreadable), the retry finds the events stored: they are this append's.
          for (const eventId of columns.eventIds) lost.add(eventId);
          steps = undefined;
          continue;
        }
        if (violatedUniqueKey(error) !== undefined) return { kind: 'raced' };
        if (isDataException(error)) return { kind: 'unstorable' };
        throw error;
      }
    }
    if (written === null) return { kind: 'refused' };
    if (steps !== undefined) this.steps?.applied(marksOf(steps, written));
    const decisions = prepared.map((append): Decision => ({ kind: 'insert', firstVersion: written.get(append.events[0]!.eventId)!.version }));
    return { kind: 'written', decisions, inserted: written };
  }

  /**
   * Decides and writes a group exactly; settles nothing. The first attempt reads only the streams'
   * versions: new event ids are the rule, and the unique key on event_id catches a retry at insert
   * time (the attempt then reports a race and the next one reads the ids too). An append refused on
   * its version is checked against stored event ids before the refusal stands: it may be a retry.
   */
  private async attempt(prepared: readonly PreparedAppend[], checkIds: boolean, lost: LostWrites): Promise<Attempt> {
    const streams = [...new Set(prepared.map((append) => append.streamId))];
    const ids = checkIds ? prepared.flatMap((append) => append.events.map((event) => event.eventId)) : [];
    let decisions = decideGroup(prepared, await this.run((db) => lookupAppendState(db, ids, streams)));
    if (!checkIds) decisions = await this.confirmRefusals(prepared, decisions);
    const columns = insertColumnsFor(prepared, decisions);
    if (columns.eventIds.length === 0) return { kind: 'written', decisions, inserted: new Map() };
    try {
      return { kind: 'written', decisions, inserted: await this.insert(columns, lost, () => this.run((db) => insertEvents(db, columns))) };
    } catch (error) {
      if (violatedUniqueKey(error) !== undefined) return { kind: 'raced' };
      if (isDataException(error)) return { kind: 'unstorable' };
      throw error;
    }
  }

  private async confirmRefusals(prepared: readonly PreparedAppend[], decisions: Decision[]): Promise<Decision[]> {
    const refused = prepared.flatMap((append, index) => (decisions[index]!.kind === 'failed' ? append.events.map((event) => event.eventId) : []));
    if (refused.length === 0) return decisions;
    const { stored } = await this.run((db) => lookupAppendState(db, refused, []));
    if (stored.size === 0) return decisions;
    return decisions.map((decision, index): Decision => {
      if (decision.kind !== 'failed') return decision;
      try {
        const duplicate = findDuplicateAppend(prepared[index]!, (eventId) => stored.get(eventId));
        return duplicate === null ? decision : { kind: 'done', result: duplicate };
      } catch (error) {
        return { kind: 'failed', error };
      }
    });
  }

  private async settle(pending: Pending, outcome: Promise<AppendResult>): Promise<void> {
    try {
      pending.resolve(await outcome);
    } catch (error) {
      pending.reject(unavailable(error));
    }
  }

  /**
   * One append in its own transaction. This is where a unique violation becomes a typed outcome:
   * someone else stored a version or an event id first, so decide again on what is stored now,
   * which yields the concurrency error with the actual version, the idempotent original result,
   * or the event id conflict.
   */
  private async appendAlone(prepared: PreparedAppend, lost: LostWrites): Promise<AppendResult> {
    const eventIds = prepared.events.map((event) => event.eventId);
    for (let attempt = 1; ; attempt++) {
      const state = await this.run((db) => lookupAppendState(db, eventIds, [prepared.streamId]));
      const decision = decideGroup([prepared], state)[0]!;
      if (decision.kind === 'done') {
        const result = answeredAsWritten(prepared, decision.result, lost);
        if (!result.duplicate) this.options.onCommitted(result.cursor, decodeCursor(result.cursor).tx);
        return result;
      }
      if (decision.kind === 'failed') throw decision.error;
      const columns = insertColumnsFor([prepared], [decision]);
      let inserted;
      try {
        inserted = await this.insert(columns, lost, () => this.run((db) => insertEvents(db, columns)));
      } catch (error) {
        if (violatedUniqueKey(error) !== undefined && attempt < maxAttemptsAlone) continue;
        if (violatedUniqueKey(error) !== undefined) {
          throw new LakechatError('LAKECHAT_ERR_STORE_CONTENDED', undefined, { cause: error, details: { streamId: prepared.streamId } });
        }
        if (isDataException(error)) {
          throw new LakechatError('LAKECHAT_ERR_STORE_INVALID_APPEND', 'Invalid append: a value PostgreSQL cannot store', { cause: error });
        }
        throw error;
      }
      const result = appendResult(prepared, decision.firstVersion, inserted);
      const last = inserted.get(prepared.events[prepared.events.length - 1]!.eventId)!;
      this.options.onCommitted(result.cursor, last.tx);
      return result;
    }
  }
}

/**
 * An append found already stored is a duplicate (a client's retry of the same ids), unless its own
 * insert lost its answer: then the events found are the ones it wrote, and it is answered as written.
 */
function answeredAsWritten(prepared: PreparedAppend, result: AppendResult, lost: LostWrites): AppendResult {
  return result.duplicate && lost.has(prepared.events[0]!.eventId) ? { ...result, duplicate: false } : result;
}

/** The group's new events the steps may see: not those whose text was escaped to be stored (readers restore it; a step could not). */
function stepEvents(prepared: readonly PreparedAppend[], columns: InsertColumns): AppendStepEvent[] {
  const events: AppendStepEvent[] = [];
  let index = 0;
  for (const append of prepared) {
    for (const event of append.events) {
      if (!columns.escaped[index++]) {
        events.push({ eventId: event.eventId, streamId: append.streamId, owner: append.owner, type: event.type, schemaVersion: event.schemaVersion, data: event.data });
      }
    }
  }
  return events;
}

function marksOf(steps: StepsInStatement, written: ReadonlyMap<string, WrittenRow>): Map<string, Map<string, number>> {
  const marks = new Map<string, Map<string, number>>();
  for (const row of written.values()) {
    const applied = new Map<string, number>();
    row.applied?.forEach((oid, index) => {
      if (oid !== null) applied.set(steps.names[index]!, oid);
    });
    if (applied.size > 0) marks.set(row.eventId, applied);
  }
  return marks;
}
