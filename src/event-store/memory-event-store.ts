import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { LakechatError } from '../errors.ts';
import { decodeCursor, encodeCursor, invalidCursor, maxCursor } from './cursor.ts';
import { checkExpectedVersion } from './errors.ts';
import { eventBytes, validMaxBytes } from './event-bytes.ts';
import { matchesFilter, pickFilter } from './filter.ts';
import { findDuplicateAppend } from './idempotency.ts';
import { LiveTail } from './live-tail.ts';
import { subscribeToStore } from './subscribe.ts';
import { type EraseOptions, type EraseResult, type EraseSelection, erasedStreamId, isTombstone, tombstoneOf } from './tombstone.ts';
import type { AppendOptions, AppendResult, EventStore, NewEvent, ReadAllOptions, ReadAllResult, ReadStreamOptions, ReadStreamResult, RecordedEvent, SubscribeOptions } from './types.ts';
import { type PreparedAppend, prepareAppend } from './validate-append.ts';

export interface MemoryEventStoreOptions {
  logger?: Logger;
  newId?: () => string;
  now?: () => Date;
  pollIntervalMs?: number;
  maxQueuedPerSubscriber?: number;
  /** The name this log gives itself in its cursors; random by default. */
  storeId?: string;
}

const defaultPageSize = 1_000;
const maxPageSize = 10_000;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export function clampLimit(limit: number | undefined, fallback = defaultPageSize): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new LakechatError('LAKECHAT_ERR_STORE_INVALID_APPEND', 'limit must be a whole number >= 1');
  }
  return Math.min(limit, maxPageSize);
}

/**
 * The event log in this process's memory: the same contract as the PostgreSQL store, for local
 * development and as the fallback when no database can be reached. Each append is its own
 * "transaction", so positions and cursors increase together and nothing is ever held back.
 */
export class MemoryEventStore implements EventStore {
  readonly kind = 'memory' as const;
  /** Named in every cursor this log issues, so a cursor of another store (or process) is refused. */
  readonly storeId: string;
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byEventId = new Map<string, RecordedEvent>();
  private nextTx = 1n;
  private readonly tail: LiveTail;
  private closed = false;
  private readonly newId: () => string;
  private readonly now: () => Date;

  constructor(private readonly options: MemoryEventStoreOptions = {}) {
    this.newId = options.newId ?? randomUUID;
    this.now = options.now ?? (() => new Date());
    this.storeId = options.storeId ?? `m${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    this.tail = new LiveTail(this, {
      pageSize: defaultPageSize,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      maxQueuedPerMember: options.maxQueuedPerSubscriber ?? 10_000,
      logger: options.logger,
    });
  }

  async append(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    const prepared = prepareAppend(streamId, events, options, this.newId);
    const result = this.appendPrepared(prepared);
    if (!result.duplicate) this.tail.wake(result.cursor);
    return result;
  }

  private appendPrepared(prepared: PreparedAppend): AppendResult {
    const { streamId } = prepared;
    const stream = this.streams.get(streamId) ?? [];
    const duplicate = findDuplicateAppend(prepared, (id) => this.byEventId.get(id));
    if (duplicate !== null) return duplicate;
    checkExpectedVersion(streamId, prepared.expectedVersion, stream.length);

    const tx = this.nextTx++;
    const recordedAt = this.now();
    const appended = prepared.events.map((event, index): RecordedEvent => {
      const position = this.log.length + 1 + index;
      return deepFreeze({
        position,
        cursor: encodeCursor({ tx, position: BigInt(position), store: this.storeId }),
        streamId,
        version: stream.length + 1 + index,
        eventId: event.eventId,
        type: event.type,
        schemaVersion: event.schemaVersion,
        // Stored as JSON, as PostgreSQL stores it: both stores return the same values.
        data: JSON.parse(event.dataJson) as Record<string, unknown>,
        metadata: JSON.parse(event.metadataJson) as Record<string, unknown>,
        owner: prepared.owner,
        recordedAt,
      });
    });
    for (const event of appended) {
      this.log.push(event);
      stream.push(event);
      this.byEventId.set(event.eventId, event);
    }
    this.streams.set(streamId, stream);
    const last = appended[appended.length - 1]!;
    return {
      streamId,
      nextExpectedVersion: last.version,
      events: appended.map(({ eventId, position, version, cursor }) => ({ eventId, position, version, cursor, recordedAt })),
      cursor: last.cursor,
      duplicate: false,
    };
  }

  /**
   * Rewrites the selected events as tombstones in place (same position, cursor, version, type and
   * time), in batches like the PostgreSQL store, and gives live readers the tombstones instead.
   */
  async erase(selection: EraseSelection, options: EraseOptions): Promise<EraseResult> {
    this.assertOpen();
    const batchSize = options.batchSize ?? 500;
    const keep = new Set(selection.keepTypes ?? []);
    const streams = new Set(selection.streamIds ?? []);
    const byOwner = selection.owner !== undefined;
    if (!byOwner && streams.size === 0) return { events: 0, streamIds: [], lastCursor: null };
    const selected = (event: RecordedEvent): boolean =>
      byOwner
        ? event.owner === selection.owner
        : streams.has(event.streamId) && !isTombstone(event.data) && !keep.has(event.type) && (selection.throughVersion === undefined || event.version <= selection.throughVersion);
    const touched = new Set<string>();
    let erased = 0;
    let lastCursor: string | null = null;
    for (;;) {
      options.signal?.throwIfAborted();
      const batch = new Map<number, RecordedEvent>();
      for (const event of this.log) {
        if (batch.size >= batchSize) break;
        if (!selected(event)) continue;
        touched.add(event.streamId);
        const tombstone: RecordedEvent = deepFreeze({
          ...event,
          data: { ...tombstoneOf(options.erasureId) },
          ...(byOwner ? { streamId: erasedStreamId(options.streamKey, event.streamId), eventId: this.newId(), metadata: {}, owner: null } : {}),
        });
        batch.set(event.position, tombstone);
      }
      if (batch.size === 0) break;
      for (const [position, tombstone] of batch) {
        this.replace(this.log[position - 1]!, tombstone);
        lastCursor = maxCursor(lastCursor, tombstone.cursor);
      }
      this.tail.redact(batch);
      erased += batch.size;
      await options.onBatch?.(erased);
    }
    return { events: erased, streamIds: [...touched], lastCursor };
  }

  private replace(old: RecordedEvent, tombstone: RecordedEvent): void {
    this.log[old.position - 1] = tombstone;
    this.byEventId.delete(old.eventId);
    this.byEventId.set(tombstone.eventId, tombstone);
    const from = this.streams.get(old.streamId)!;
    if (old.streamId === tombstone.streamId) {
      from[old.version - 1] = tombstone;
      return;
    }
    // Renamed: the old stream loses the event (versions are contiguous: an erasure takes whole streams
    // from their start), the new one gains it at the same version.
    // Taken in log order, so the old stream's first event and the new stream's next version.
    if (from[0] === old) from.shift();
    else from.splice(from.indexOf(old), 1);
    if (from.length === 0) this.streams.delete(old.streamId);
    const to = this.streams.get(tombstone.streamId) ?? [];
    to.push(tombstone);
    this.streams.set(tombstone.streamId, to);
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    this.assertOpen();
    const stream = this.streams.get(streamId) ?? [];
    const limit = clampLimit(options.limit, maxPageSize);
    const backwards = options.direction === 'backwards';
    let events: RecordedEvent[];
    if (backwards) {
      const last = Math.min(options.fromVersion ?? stream.length, stream.length);
      events = stream.slice(Math.max(0, last - limit), Math.max(0, last)).reverse();
    } else {
      const first = Math.max(options.fromVersion ?? 1, 1);
      events = stream.slice(first - 1, first - 1 + limit);
    }
    return { streamId, version: stream.length, events };
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    this.assertOpen();
    const limit = clampLimit(options.limit);
    const filter = pickFilter(options);
    // Positions equal the index + 1 here, so a cursor's position is where to start scanning.
    let index = options.after == null ? 0 : Number(this.decode(options.after).position);
    const maxBytes = validMaxBytes(options.maxBytes);
    const events: RecordedEvent[] = [];
    let bytes = 0;
    while (index < this.log.length && events.length < limit) {
      const event = this.log[index++]!;
      if (!matchesFilter(event, filter)) continue;
      if (maxBytes !== undefined) {
        bytes += eventBytes(event);
        if (bytes > maxBytes && events.length > 0) return { events, cursor: events[events.length - 1]!.cursor, truncated: true };
      }
      events.push(event);
    }
    if (events.length >= limit) return { events, cursor: events[events.length - 1]!.cursor };
    return { events, cursor: this.boundary() };
  }

  /** Refuses a cursor this log did not issue: one naming another store, or beyond the head. */
  async checkCursor(cursor: string): Promise<void> {
    this.decode(cursor);
  }

  async headCursor(): Promise<string | null> {
    this.assertOpen();
    return this.boundary();
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterableIterator<RecordedEvent> {
    this.assertOpen();
    return subscribeToStore(this, this.tail, options, defaultPageSize, this.options.logger);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.tail.close();
  }

  /** Everything before the next transaction has been read: the cursor of "the head, now". */
  private boundary(): string {
    return encodeCursor({ tx: this.nextTx, position: BigInt(this.log.length), store: this.storeId });
  }

  private decode(cursor: string): ReturnType<typeof decodeCursor> {
    const point = decodeCursor(cursor);
    if (point.store !== this.storeId) throw invalidCursor(cursor, 'issued by another store');
    if (point.tx > this.nextTx || point.position > BigInt(this.log.length)) throw invalidCursor(cursor, 'beyond the head of the log');
    return point;
  }

  private assertOpen(): void {
    if (this.closed) throw new LakechatError('LAKECHAT_ERR_STORE_CLOSED');
  }
}
