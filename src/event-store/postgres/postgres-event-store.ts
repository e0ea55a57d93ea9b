import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { LakechatError } from '../../errors.ts';
import { type CursorPoint, compareCursors, decodeCursor, invalidCursor, maxCursor, nameCursor } from '../cursor.ts';
import { validMaxBytes } from '../event-bytes.ts';
import { pickFilter } from '../filter.ts';
import { LiveTail } from '../live-tail.ts';
import { clampLimit } from '../memory-event-store.ts';
import { subscribeToStore } from '../subscribe.ts';
import type { EraseOptions, EraseResult, EraseSelection } from '../tombstone.ts';
import type { AppendOptions, AppendResult, EventStore, NewEvent, ReadAllOptions, ReadAllResult, ReadStreamOptions, ReadStreamResult, RecordedEvent, SubscribeOptions } from '../types.ts';
import { prepareAppend } from '../validate-append.ts';
import type { AppendSteps } from './append-steps.ts';
import { CoalescedNotifier } from './coalesced-notifier.ts';
import { eraseOwnerBatch, eraseStreamsBatch, erasureChannel, readPositions, waitForRunningTransactions } from './erase.ts';
import { GroupCommitter } from './group-committer.ts';
import { type ChannelHandler, NotificationListener, notificationChannel } from './notification-listener.ts';
import { sqlState } from './postgres-errors.ts';
import { boundaryCursor, readAllPage } from './read-all.ts';
import { readStreamPage } from './read-stream.ts';
import { selectRows } from './select-rows.ts';
import { readStoreIdentity } from './store-identity.ts';
import { readVisibilityLag, type VisibilityLag } from './visibility-lag.ts';

export interface PostgresEventStoreOptions {
  pool: DatabasePool;
  /** Settings of the dedicated LISTEN connection; called at every (re)connect. */
  listenerConfig: () => Promise<pg.ClientConfig>;
  logger?: Logger;
  /** Live subscribers read at least this often when no notification arrives. */
  pollIntervalMs?: number;
  /** Names this process in notifications (and the listener's application_name). */
  instanceId?: string;
  /** At most one notification per this many milliseconds (see CoalescedNotifier). */
  notifyIntervalMs?: number;
  maxQueuedPerSubscriber?: number;
  /** Append groups in flight at once. */
  appendFlushers?: number;
  /** How long readAll and headCursor wait for this instance's own commits to become readable. */
  readYourWritesMs?: number;
  newId?: () => string;
  /**
   * The name this log gives itself in its cursors (`readStoreIdentity`); createPostgresEventStore
   * reads it. Absent: bare cursors, as before cursors named their store.
   */
  storeId?: string;
}

const defaultPageSize = 1_000;
const maxInt8 = 2n ** 63n - 1n;
const maxXid8 = 2n ** 64n - 1n;
const snapshotRow = z.object({ xmin: z.string(), xmax: z.string() });
const newestRow = z.object({ tx: z.string(), position: z.string() });
const headRow = z.object({ xmax: z.string(), position: z.string() });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function unavailable(error: unknown): LakechatError {
  return error instanceof LakechatError ? error : new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', undefined, { cause: error });
}

/**
 * The event store on PostgreSQL. Appends go through group commit; reads order and resume by
 * (transaction id, position) and stop below the oldest running transaction, so no reader skips an
 * event whose transaction commits late; live subscribers share one LiveTail, woken by this
 * instance's own commits at once and by other instances through LISTEN/NOTIFY.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;
  readonly instanceId: string;
  /** Named in every cursor this store hands out (null: bare cursors). */
  readonly storeId: string | null;
  private readonly storeSuffix: string;
  private readonly pool: DatabasePool;
  private readonly tail: LiveTail;
  private readonly committer: GroupCommitter;
  private readonly notifier: CoalescedNotifier;
  private readonly listener: NotificationListener;
  private readonly newId: () => string;
  private readonly readYourWritesMs: number;
  /** The newest transaction this instance committed: readers here wait for it to become visible. */
  private ownLastTx = 0n;
  private closed = false;
  private listeningForErasures = false;

  constructor(private readonly options: PostgresEventStoreOptions) {
    this.pool = options.pool;
    this.instanceId = options.instanceId ?? randomUUID();
    this.storeId = options.storeId ?? null;
    this.storeSuffix = this.storeId === null ? '' : `.${this.storeId}`;
    this.newId = options.newId ?? randomUUID;
    this.readYourWritesMs = options.readYourWritesMs ?? 1_000;
    this.tail = new LiveTail(this, {
      pageSize: defaultPageSize,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      maxQueuedPerMember: options.maxQueuedPerSubscriber ?? 10_000,
      logger: options.logger,
    });
    this.notifier = new CoalescedNotifier({
      intervalMs: options.notifyIntervalMs ?? 5,
      logger: options.logger,
      send: async (cursor) => {
        const payload = JSON.stringify({ i: this.instanceId, c: cursor });
        await this.pool.query(sql.unsafe`SELECT pg_notify(${notificationChannel}, ${payload})`);
      },
    });
    this.listener = new NotificationListener({
      clientConfig: options.listenerConfig,
      instanceId: this.instanceId,
      logger: options.logger,
      onNotification: (cursor) => this.tail.wake(cursor),
      onConnected: () => void this.wakeAfterReconnect(),
    });
    this.committer = new GroupCommitter({
      db: this.pool,
      flushers: options.appendFlushers ?? 1,
      maxGroupEvents: 5_000,
      logger: options.logger,
      storeSuffix: this.storeSuffix,
      onCommitted: (cursor, tx) => {
        if (tx > this.ownLastTx) this.ownLastTx = tx;
        // Local subscribers must not wait for a notification round trip.
        this.tail.wake(cursor);
        this.notifier.changed(cursor);
      },
    });
  }

  /**
   * Read models the append applies in its own statement from now on (undefined: none). What a step
   * applied is reported to `steps.applied` before the append is answered or any reader is woken.
   */
  projectInAppend(steps: AppendSteps | undefined): void {
    this.committer.steps = steps;
  }

  async append(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    const result = await this.committer.append(prepareAppend(streamId, events, options, this.newId));
    if (this.storeId === null) return result;
    // The committer works with bare cursors (its notifications stay readable by every instance).
    return {
      ...result,
      cursor: nameCursor(result.cursor, this.storeId),
      events: result.events.map((event) => ({ ...event, cursor: nameCursor(event.cursor, this.storeId) })),
    };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    this.assertOpen();
    const limit = clampLimit(options.limit, 10_000);
    try {
      return await readStreamPage(this.pool, streamId, { fromVersion: options.fromVersion, limit, backwards: options.direction === 'backwards' }, this.storeSuffix);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    this.assertOpen();
    const limit = clampLimit(options.limit);
    const after = options.after == null ? { tx: 0n, position: 0n } : this.decode(options.after);
    const filter = pickFilter(options);
    const maxBytes = validMaxBytes(options.maxBytes);
    const started = Date.now();
    const ownCommit = this.ownLastTx; // only what was committed before this read began
    for (let delayMs = 1; ; delayMs = Math.min(delayMs * 2, 50)) {
      let page;
      try {
        page = await readAllPage(this.pool, after, limit, filter, maxBytes, this.storeSuffix);
      } catch (error) {
        throw unavailable(error);
      }
      if (page.truncated) return { events: page.events, cursor: page.events[page.events.length - 1]!.cursor, truncated: true };
      if (page.events.length >= limit) return { events: page.events, cursor: page.events[page.events.length - 1]!.cursor };
      if (this.mayWaitForOwnWrites(page.xmin, ownCommit, started)) {
        await sleep(delayMs);
        continue;
      }
      // A short page read everything below the snapshot's xmin: resume from there (never behind
      // where this read started, which an older open transaction could otherwise cause).
      const boundary = boundaryCursor(page.xmin, this.storeId);
      const cursor = options.after != null && compareCursors(options.after, boundary) > 0 ? nameCursor(options.after, this.storeId) : boundary;
      return { events: page.events, cursor };
    }
  }

  /**
   * The boundary (xmin, 0) of a snapshot taken now: everything before it has been committed (or
   * rolled back), nothing after the call can draw an id below it. When an older transaction holds
   * xmin at or below this instance's own last commit, wait (bounded) for it to end, but never move
   * the head past xmax of the first snapshot: transactions that write after this call draw ids from
   * xmax on, and a subscriber starting at the head must receive their events.
   */
  async headCursor(): Promise<string | null> {
    this.assertOpen();
    const started = Date.now();
    const ownCommit = this.ownLastTx;
    let limit: bigint | undefined;
    for (let delayMs = 1; ; delayMs = Math.min(delayMs * 2, 50)) {
      let snapshot;
      try {
        [snapshot] = await selectRows(this.pool, snapshotRow, sql.unsafe`SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax FROM pg_current_snapshot() AS s`);
      } catch (error) {
        throw unavailable(error);
      }
      const xmin = BigInt(snapshot!.xmin);
      limit ??= BigInt(snapshot!.xmax);
      if (!this.mayWaitForOwnWrites(xmin, ownCommit, started)) return boundaryCursor(xmin < limit ? xmin : limit, this.storeId);
      await sleep(delayMs);
    }
  }

  /**
   * Refuses a cursor this store cannot have issued: one naming another store (a memory log, another
   * cluster or database, or this log before a repair moved its epoch), or one beyond the head (a transaction id not yet assigned, or a position not yet drawn), which would
   * otherwise answer "caught up" and then deliver nothing. For cursors from clients; the projections'
   * own checkpoints are not checked here.
   */
  async checkCursor(cursor: string): Promise<void> {
    this.assertOpen();
    const point = this.decode(cursor, true);
    let head;
    try {
      [head] = await selectRows(
        this.pool,
        headRow,
        sql.unsafe`SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, coalesce((SELECT max(position) FROM events), 0)::text AS position`,
      );
    } catch (error) {
      throw unavailable(error);
    }
    if (point.tx > BigInt(head!.xmax) || point.position > BigInt(head!.position)) throw invalidCursor(cursor, 'beyond the head of the log');
  }

  /**
   * Rewrites the selected events as tombstones (src/event-store/tombstone.ts), in batches of
   * `batchSize` rows, each its own short statement, so no transaction id or lock is held for long.
   * An owner's erasure then waits for the transactions running at the end to finish and looks
   * again, until a pass finds nothing: writes other instances committed meanwhile go too. Live
   * readers here get the tombstones at once; other instances are told with a NOTIFY.
   */
  async erase(selection: EraseSelection, options: EraseOptions): Promise<EraseResult> {
    this.assertOpen();
    const batchSize = options.batchSize ?? 500;
    const touched = new Set<string>();
    let erased = 0;
    let lastCursor: string | null = null;
    let hookFailure: unknown;
    const batch = async (): Promise<number> => {
      options.signal?.throwIfAborted();
      let tombstones: RecordedEvent[];
      if (selection.owner !== undefined) {
        const done = await eraseOwnerBatch(this.pool, selection.owner, options, batchSize);
        for (const streamId of done.streamIds) touched.add(streamId);
        tombstones = done.tombstones;
      } else {
        tombstones = await eraseStreamsBatch(this.pool, selection, options, batchSize);
        for (const event of tombstones) touched.add(event.streamId);
      }
      if (tombstones.length === 0) return 0;
      for (const event of tombstones) lastCursor = maxCursor(lastCursor, event.cursor);
      this.tail.redact(new Map(tombstones.map((event) => [event.position, event])));
      const payload = JSON.stringify({ i: this.instanceId, from: tombstones[0]!.position, to: tombstones[tombstones.length - 1]!.position });
      await this.pool.query(sql.unsafe`SELECT pg_notify(${erasureChannel}, ${payload})`).catch((error: unknown) => {
        this.options.logger?.warn({ err: error }, 'could not tell other instances of an erasure; their live readers re-read on their next poll');
      });
      erased += tombstones.length;
      try {
        await options.onBatch?.(erased);
      } catch (error) {
        hookFailure = error;
        throw error;
      }
      return tombstones.length;
    };
    try {
      for (let settled = false; ; ) {
        while ((await batch()) > 0);
        if (settled || selection.owner === undefined) break;
        await waitForRunningTransactions(this.pool, 10_000, options.signal);
        settled = true;
        if ((await batch()) === 0) break;
        settled = false;
      }
    } catch (error) {
      if (options.signal?.aborted === true || error === hookFailure) throw error;
      throw unavailable(error);
    }
    return { events: erased, streamIds: [...touched], lastCursor };
  }

  /** Another instance erased events: live readers here holding them get the tombstones. */
  private onErasure(payload: string): boolean {
    let parsed: { i?: unknown; from?: unknown; to?: unknown };
    try {
      parsed = JSON.parse(payload) as typeof parsed;
    } catch {
      return false;
    }
    if (typeof parsed.from !== 'number' || typeof parsed.to !== 'number') return false;
    if (parsed.i === this.instanceId) return true;
    const positions = this.tail.queuedPositions(parsed.from, parsed.to);
    if (positions.length === 0) {
      this.tail.redact(new Map());
      return true;
    }
    readPositions(this.pool, positions)
      .then((events) => this.tail.redact(new Map(events.map((event) => [event.position, event]))))
      .catch((error: unknown) => this.options.logger?.error({ err: error }, 'could not read erased events again'));
    return true;
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterableIterator<RecordedEvent> {
    this.assertOpen();
    if (!this.listeningForErasures) {
      this.listeningForErasures = true;
      this.listener.listen(erasureChannel, (payload) => this.onErasure(payload));
    }
    this.listener.start();
    return subscribeToStore(this, this.tail, options, defaultPageSize, this.options.logger);
  }

  /**
   * Sends a small payload to every instance's `listen(channel)`, this one's included (NOTIFY:
   * PostgreSQL refuses payloads of 8000 bytes or more). For ephemeral news that is never stored,
   * such as the WebSocket transport's typing and delta signals.
   */
  async notify(channel: string, payload: string): Promise<void> {
    this.assertOpen();
    try {
      await this.pool.query(sql.unsafe`SELECT pg_notify(${channel}, ${payload})`);
    } catch (error) {
      throw unavailable(error);
    }
  }

  /**
   * Calls `onPayload` with every `notify(channel)` payload, from any instance, on the LISTEN
   * connection; `onPayload` returns false for a payload that is not valid, which is counted.
   */
  listen(channel: string, onPayload: ChannelHandler): void {
    this.assertOpen();
    this.listener.listen(channel, onPayload);
    this.listener.start();
  }

  /** How far readers lag behind commits; see docs/architecture.md ("Long transactions"). */
  async visibilityLag(): Promise<VisibilityLag> {
    this.assertOpen();
    try {
      return await readVisibilityLag(this.pool);
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** Notifications ignored as not valid since start, by channel (for /metrics). */
  ignoredNotifications(): ReadonlyMap<string, number> {
    return this.listener.ignoredNotifications();
  }

  /** True while the LISTEN connection is up (subscribers poll meanwhile when it is not). */
  get listening(): boolean {
    return this.listener.connected;
  }

  /** Stops taking appends, settles those queued, ends live subscriptions. The pool stays open: it is the caller's. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.committer.drain();
    this.committer.release();
    this.tail.close();
    await this.notifier.close();
    await this.listener.close();
  }

  /**
   * A reader on this instance should see what this instance already committed: when the snapshot
   * still hides our own last commit (an older transaction elsewhere is open), look again shortly,
   * within a bounded time. Other instances' commits get no such wait; they arrive on the next read.
   */
  private mayWaitForOwnWrites(xmin: bigint, ownCommit: bigint, started: number): boolean {
    return xmin <= ownCommit && Date.now() - started < this.readYourWritesMs && !this.closed;
  }

  /**
   * Notifications sent while the listener was down are lost: wake the tail, with the newest stored
   * event as the hint, so that it keeps looking until that event is readable (an older open
   * transaction may still hide it) instead of waiting for the next poll.
   */
  private async wakeAfterReconnect(): Promise<void> {
    let newest: string | null = null;
    try {
      const [row] = await selectRows(this.pool, newestRow, sql.unsafe`SELECT tx_id::text AS tx, position::text AS position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1`);
      if (row !== undefined) newest = `${row.tx}-${row.position}`;
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'could not read the newest event after reconnecting');
    }
    this.tail.wake(newest);
  }

  /**
   * A bare cursor is this store's (issued before cursors named their store, or stored by a repair).
   * `strict` (cursors from clients, checkCursor) refuses any other name. Reads are lenient with the
   * name of another PostgreSQL log: a checkpoint stored before a dump was restored into a cluster
   * whose counter is higher (no repair needed, the pairs keep their meaning) must still be read.
   */
  private decode(cursor: string, strict = false): CursorPoint {
    const point = decodeCursor(cursor);
    if (point.store !== null && point.store !== this.storeId && (strict || !point.store.startsWith('p'))) {
      throw invalidCursor(cursor, 'issued by another store');
    }
    if (point.tx > maxXid8 || point.position > maxInt8) throw invalidCursor(cursor);
    return point;
  }

  private assertOpen(): void {
    if (this.closed) throw new LakechatError('LAKECHAT_ERR_STORE_CLOSED');
  }
}

/** The store on a migrated database, naming itself in its cursors (`readStoreIdentity`). */
export async function createPostgresEventStore(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
  let storeId = options.storeId;
  try {
    await options.pool.query(sql.unsafe`SELECT position FROM events LIMIT 0`);
    storeId ??= await readStoreIdentity(options.pool);
  } catch (error) {
    if (sqlState(error) === '42P01') {
      throw new LakechatError('LAKECHAT_ERR_STORE_UNAVAILABLE', "The events table (or another of lakechat's tables) does not exist: run the migrations (npm run migrate)", { cause: error });
    }
    throw unavailable(error);
  }
  return new PostgresEventStore({ ...options, storeId });
}
