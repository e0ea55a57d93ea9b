import type { Logger } from 'pino';
import { type CursorPoint, compareCursors, decodeCursor } from './cursor.ts';
import { eventBytes } from './event-bytes.ts';
import { matchesFilter } from './filter.ts';
import type { EventFilter, ReadAllOptions, ReadAllResult, RecordedEvent } from './types.ts';

export interface TailReader {
  readAll(options: ReadAllOptions): Promise<ReadAllResult>;
}

export interface LiveTailOptions {
  pageSize: number;
  /** Read even without a wake-up this often: the fallback when notifications are lost. */
  pollIntervalMs: number;
  /** A member with more undelivered events than this is detached and catches up from the store. */
  maxQueuedPerMember: number;
  /** ...or with more bytes of undelivered events than this (`eventBytes`), unless the member sets its own. */
  maxQueuedBytesPerMember?: number;
  logger?: Logger | undefined;
}

type Pull = RecordedEvent | 'detached' | 'closed';

function isAfter(a: CursorPoint, b: CursorPoint): boolean {
  return a.tx > b.tx || (a.tx === b.tx && a.position > b.position);
}

/**
 * One live subscriber of the tail. `cursor` is the point through which every matching event has been
 * queued; after a detach the subscriber resumes from it by reading the store, so nothing is lost.
 */
export class TailMember {
  cursor: string;
  point: CursorPoint;
  state: 'live' | 'detached' | 'closed' = 'live';
  private readonly queue: RecordedEvent[] = [];
  private head = 0;
  private queuedBytes = 0;
  private waiter: ((value: Pull) => void) | undefined;

  constructor(
    cursor: string,
    readonly filter: EventFilter | undefined,
    private readonly maxQueued: number,
    private readonly maxQueuedBytes = Number.POSITIVE_INFINITY,
  ) {
    this.cursor = cursor;
    this.point = decodeCursor(cursor);
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Takes a page the tail read; `mustSkip` when this member may already have seen some of it. */
  offer(events: readonly RecordedEvent[], points: readonly CursorPoint[], boundary: string, boundaryPoint: CursorPoint, mustSkip: boolean): void {
    if (this.state !== 'live') return;
    const accepted: RecordedEvent[] = [];
    let acceptedBytes = 0;
    const countBytes = this.maxQueuedBytes !== Number.POSITIVE_INFINITY;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (mustSkip && !isAfter(points[i]!, this.point)) continue;
      if (!matchesFilter(event, this.filter)) continue;
      accepted.push(event);
      if (countBytes) acceptedBytes += eventBytes(event);
    }
    // An empty queue takes any one page, so a member is never detached only for a large event.
    const tooManyBytes = countBytes && this.queued > 0 && this.queuedBytes + acceptedBytes > this.maxQueuedBytes;
    if (this.queued + accepted.length > this.maxQueued || tooManyBytes) {
      // The consumer is too slow: stop pushing; it re-reads from `cursor`, which the store still has.
      this.state = 'detached';
      this.settle();
      return;
    }
    for (const event of accepted) this.queue.push(event);
    this.queuedBytes += acceptedBytes;
    // The boundary is decoded once per page, not once per member: a page reaches every member.
    if (isAfter(boundaryPoint, this.point)) {
      this.cursor = boundary;
      this.point = boundaryPoint;
    }
    this.settle();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.settle();
  }

  /** Replaces queued events that were erased since they were read (`replacement` by position). */
  redact(replacement: (event: RecordedEvent) => RecordedEvent | undefined): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const erased = replacement(this.queue[i]!);
      if (erased !== undefined) this.queue[i] = erased;
    }
  }

  /** The positions of the queued events in [from, to]. */
  queuedPositions(from: number, to: number): number[] {
    const positions: number[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const { position } = this.queue[i]!;
      if (position >= from && position <= to) positions.push(position);
    }
    return positions;
  }

  /** The next queued event; 'detached' or 'closed' once the queue is empty and pushing stopped. */
  next(): Promise<Pull> | Pull {
    const ready = this.take();
    if (ready !== undefined) return ready;
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private take(): Pull | undefined {
    if (this.state === 'closed') return 'closed';
    if (this.head < this.queue.length) {
      const event = this.queue[this.head]!;
      // Released as it is handed out: the queue holds only what is still undelivered.
      this.queue[this.head++] = undefined as never;
      if (this.maxQueuedBytes !== Number.POSITIVE_INFINITY) this.queuedBytes -= eventBytes(event);
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      return event;
    }
    return this.state === 'detached' ? 'detached' : undefined;
  }

  private settle(): void {
    if (this.waiter === undefined) return;
    const value = this.take();
    if (value === undefined) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter(value);
  }
}

/**
 * The shared live reader of one store instance. However many subscribers follow the head, the store
 * is read once per wake-up and the page fanned out to every member whose filter matches.
 */
export class LiveTail {
  private cursor: string | null = null;
  private readonly members = new Set<TailMember>();
  private reading = false;
  private readAgain = false;
  private latestKnown: string | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 2;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /**
   * Moves on at every erasure this tail hears of: a catch-up reader holding a page read before it
   * reads the rest of the page again (subscribe.ts), so no reader hands out an erased payload.
   */
  erasures = 0;

  constructor(
    private readonly reader: TailReader,
    private readonly options: LiveTailOptions,
  ) {}

  get size(): number {
    return this.members.size;
  }

  /**
   * Joins a subscriber that has read everything matching through `cursor`. Returns null when the
   * tail is already past that point: the subscriber must read the store again first.
   */
  join(cursor: string, filter: EventFilter | undefined, maxQueuedBytes?: number): TailMember | null {
    if (this.closed) return null;
    if (this.members.size === 0 && !this.reading) {
      this.cursor = cursor;
    } else if (compareCursors(cursor, this.cursor) < 0) {
      return null;
    }
    const member = new TailMember(cursor, filter, this.options.maxQueuedPerMember, maxQueuedBytes ?? this.options.maxQueuedBytesPerMember);
    this.members.add(member);
    this.ensurePolling();
    this.wake();
    return member;
  }

  leave(member: TailMember): void {
    member.close();
    this.members.delete(member);
    if (this.members.size === 0) this.stopPolling();
  }

  /** Something was appended (here, or on another instance); `hint` is its cursor when known. */
  wake(hint?: string | null): void {
    if (hint != null && compareCursors(hint, this.latestKnown) > 0) this.latestKnown = hint;
    if (this.members.size === 0 || this.closed) return;
    // A wake-up never throws: nothing awaits it, so a rejection would end the process.
    this.drain().catch((error: unknown) => this.options.logger?.error({ err: error, latestKnown: this.latestKnown?.slice(0, 64) }, 'live tail wake-up failed'));
  }

  /** Erased events: every member's queued copy is replaced by its tombstone (keyed by position). */
  redact(tombstones: ReadonlyMap<number, RecordedEvent>): void {
    this.erasures++;
    if (tombstones.size === 0) return;
    for (const member of this.members) member.redact((event) => tombstones.get(event.position));
  }

  /** The positions in [from, to] that some member still has queued (to read again after an erasure elsewhere). */
  queuedPositions(from: number, to: number): number[] {
    const positions = new Set<number>();
    for (const member of this.members) for (const position of member.queuedPositions(from, to)) positions.add(position);
    return [...positions];
  }

  close(): void {
    this.closed = true;
    for (const member of this.members) member.close();
    this.members.clear();
    this.stopPolling();
    clearTimeout(this.retryTimer);
  }

  private async drain(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        const before = this.cursor;
        const beforePoint = before === null ? null : decodeCursor(before);
        const page = await this.reader.readAll({ after: before, limit: this.options.pageSize });
        const points = page.events.map((event) => decodeCursor(event.cursor));
        const boundary = page.cursor ?? before;
        if (boundary !== null) {
          const boundaryPoint = decodeCursor(boundary);
          for (const member of this.members) {
            const mustSkip = beforePoint === null || isAfter(member.point, beforePoint);
            member.offer(page.events, points, boundary, boundaryPoint, mustSkip);
            if (member.state !== 'live') this.members.delete(member);
          }
          this.cursor = boundary;
        }
        if (page.events.length >= this.options.pageSize) this.readAgain = true;
      } while (this.readAgain && this.members.size > 0 && !this.closed);
      if (this.members.size === 0) this.stopPolling();
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'live tail read failed; retrying');
      this.scheduleRetry(Math.max(this.retryDelayMs, 250));
      return;
    } finally {
      this.reading = false;
    }
    // An append we were told about is not visible yet: an older transaction still holds the
    // snapshot's xmin back. Look again shortly rather than waiting for the next poll.
    if (this.members.size > 0 && compareCursors(this.latestKnown, this.cursor) > 0) {
      this.scheduleRetry(this.retryDelayMs);
      this.retryDelayMs = Math.min(this.retryDelayMs * 2, 100);
    } else {
      this.retryDelayMs = 2;
    }
  }

  private scheduleRetry(delayMs: number): void {
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.wake();
    }, delayMs);
    this.retryTimer.unref();
  }

  private ensurePolling(): void {
    if (this.pollTimer !== undefined) return;
    this.pollTimer = setInterval(() => this.wake(), this.options.pollIntervalMs);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}
