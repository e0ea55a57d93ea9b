import type { Logger } from 'pino';
import { LakechatError } from '../errors.ts';
import { compareCursors, type EventStore, maxCursor, type RecordedEvent } from '../event-store/index.ts';
import type { ProjectionBackend } from './backend.ts';
import { CursorWaiters } from './cursor-waiters.ts';

export interface ProjectionRunnerOptions {
  /** Most events applied in one transaction. */
  batchSize?: number;
  /** How long a write waits, by default, for the projections to pass its cursor. */
  waitTimeoutMs?: number;
  logger?: Logger | undefined;
}

export interface ProjectionLag {
  /** Events in the log after the projections' cursor (at most `limit`; `capped` when more). */
  events: number;
  capped: boolean;
  /** Age of the oldest event not yet applied; 0 when caught up. */
  seconds: number;
}

export interface RunnerStatus {
  state: 'idle' | 'running' | 'stopped';
  /** The lowest cursor every projection has applied. */
  cursor: string | null;
  /** True once the runner has reached the head of the log at least once since it started. */
  reachedLiveEdge: boolean;
  lastError: string | null;
  /** Events no attempt could apply, moved past and recorded (see ProjectionBackend.park). */
  parkedEvents: number;
}

const maxBuffered = 10_000;
/** Failed attempts after which a batch failing for its events' own values is split, and then its one bad event parked. */
const attemptsBeforeParking = 3;
const rememberedTimes = 10_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Follows the event log and feeds the projections. One runner per app instance: it subscribes to the
 * store from the projections' checkpoint, buffers what arrives, and applies the buffer in batches,
 * each batch atomically with its checkpoints. While one batch is being written the next accumulates,
 * so under load many writes share one transaction. Writes call `waitFor(cursor)` to read their own
 * writes: it resolves once the projections have passed the write's cursor.
 */
export class ProjectionRunner {
  private applied: string | null = null;
  private buffer: RecordedEvent[] = [];
  private readonly waiters = new CursorWaiters();
  /** Writes whose rows their appends wrote, waiting only for the log's readers to see them. */
  private readonly readable = new CursorWaiters();
  /** The newest event the runner's subscription has read: everything up to it is readable by every reader of the log. */
  private received: string | null = null;
  private applying = false;
  private scheduled = false;
  private drainedWaiters: (() => void)[] = [];
  private controller: AbortController | undefined;
  private pumping: Promise<void> | undefined;
  private state: RunnerStatus['state'] = 'idle';
  private reachedLiveEdge = false;
  private lastError: string | null = null;
  private parkedEvents = 0;
  /** When recently applied events were recorded, by event id: a write answers without reading it back. */
  private readonly recordedTimes = new Map<string, Date>();
  private readonly batchSize: number;
  private readonly waitTimeoutMs: number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly store: EventStore,
    readonly backend: ProjectionBackend,
    options: ProjectionRunnerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 5_000;
    this.logger = options.logger;
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.applied = await this.backend.start();
    this.parkedEvents = await this.backend.parkedCount();
    this.state = 'running';
    this.controller = new AbortController();
    this.pumping = this.pump(this.controller.signal);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.controller?.abort();
    await this.pumping;
    this.waiters.stop();
    this.readable.stop();
    for (const resolve of this.drainedWaiters) resolve();
    this.drainedWaiters = [];
  }

  /** Resolves once every projection has applied the event at `cursor` (and all before it). */
  waitFor(cursor: string | null, timeoutMs = this.waitTimeoutMs): Promise<void> {
    if (cursor === null || compareCursors(this.applied, cursor) >= 0) {
      this.waiters.record(0);
      return Promise.resolve();
    }
    if (this.state !== 'running') return Promise.reject(new LakechatError('LAKECHAT_ERR_PROJECTION_STOPPED'));
    return this.waiters.wait(cursor, timeoutMs, () => this.applied);
  }

  /**
   * What a write waits for to read its own writes: nothing when its appends applied its events to
   * every read model that handles them (in their own statements), else the runner passing `cursor`.
   */
  waitForWrite(events: readonly { eventId: string; type: string }[], cursor: string | null, timeoutMs = this.waitTimeoutMs): Promise<void> {
    if (cursor === null || this.backend.appliedInAppend?.(events) !== true) return this.waitFor(cursor, timeoutMs);
    // Its rows are in place. It answers once the log's readers can see it too, as when the runner
    // applies it: a subscription "from now", on any instance, then starts after it.
    if (compareCursors(maxCursor(this.received, this.applied), cursor) >= 0) {
      this.waiters.record(0);
      return Promise.resolve();
    }
    if (this.state !== 'running') return Promise.reject(new LakechatError('LAKECHAT_ERR_PROJECTION_STOPPED'));
    const since = performance.now();
    return this.readable.wait(cursor, timeoutMs, () => this.applied).then(() => this.waiters.record(performance.now() - since));
  }

  /** When an event this runner applied recently was recorded; undefined when it does not remember. */
  recordedAt(eventId: string): Date | undefined {
    return this.recordedTimes.get(eventId);
  }

  /** How many waits have been recorded since the runner was made. */
  get waitsRecorded(): number {
    return this.waiters.recorded;
  }

  /** The waits of the most recent writes (up to 10,000), in milliseconds, oldest first. */
  recentWaits(): number[] {
    return this.waiters.recent();
  }

  status(): RunnerStatus {
    return { state: this.state, cursor: this.applied, reachedLiveEdge: this.reachedLiveEdge, lastError: this.lastError, parkedEvents: this.parkedEvents };
  }

  /** How far the projections are behind the log, read from the store (bounded by `limit`). */
  async lag(limit = 1_000): Promise<ProjectionLag> {
    const page = await this.store.readAll({ after: this.applied, limit });
    const oldest = page.events[0];
    return {
      events: page.events.length,
      capped: page.events.length >= limit,
      seconds: oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest.recordedAt.getTime()) / 1_000),
    };
  }

  private async pump(signal: AbortSignal): Promise<void> {
    // Where the buffer ends: a subscription that fails is opened again from here, losing nothing.
    let queued = this.applied;
    for (let failures = 0; !signal.aborted; ) {
      const events = this.store.subscribe({
        after: queued,
        signal,
        onCaughtUp: () => {
          this.reachedLiveEdge = true;
        },
      });
      try {
        for await (const event of events) {
          failures = 0;
          this.buffer.push(event);
          queued = event.cursor;
          this.received = event.cursor;
          this.readable.passed(event.cursor);
          this.schedule();
          if (this.buffer.length >= maxBuffered) await new Promise<void>((resolve) => this.drainedWaiters.push(resolve));
        }
        return; // the signal ended it, or the store closed
      } catch (error) {
        if (signal.aborted) return;
        failures++;
        this.lastError = 'the subscription to the event store failed; resubscribing';
        this.logger?.error({ err: error, failures }, 'projection runner lost its subscription; resubscribing');
        await sleep(Math.min(50 * 2 ** failures, 5_000));
      }
    }
  }

  /** Applies on the next turn, so events that arrive together are applied together. */
  private schedule(): void {
    if (this.applying || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.applyBuffered();
    });
  }

  private async applyBuffered(): Promise<void> {
    if (this.applying) return;
    this.applying = true;
    try {
      while (this.buffer.length > 0 && this.state === 'running') {
        const batch = this.buffer.length <= this.batchSize ? this.buffer : this.buffer.slice(0, this.batchSize);
        this.buffer = this.buffer.length <= this.batchSize ? [] : this.buffer.slice(this.batchSize);
        await this.applyWithRetry(batch);
        if (this.buffer.length < maxBuffered / 2) {
          for (const resolve of this.drainedWaiters.splice(0)) resolve();
        }
      }
    } finally {
      this.applying = false;
    }
  }

  /**
   * Applies a batch, retrying while the database is away. A batch that keeps failing for its events'
   * own values is applied one event at a time, and the one event that still fails is parked: the
   * read models lose that event (recorded, reported by /health) rather than every event after it,
   * and every write stops waiting in vain.
   */
  private async applyWithRetry(batch: RecordedEvent[]): Promise<void> {
    for (let failures = 0; this.state === 'running'; failures++) {
      try {
        const cursor = await this.backend.applyBatch(batch);
        this.lastError = null;
        for (const event of batch) this.recordedTimes.set(event.eventId, event.recordedAt);
        for (const oldest of this.recordedTimes.keys()) {
          if (this.recordedTimes.size <= rememberedTimes) break;
          this.recordedTimes.delete(oldest);
        }
        this.advance(cursor);
        return;
      } catch (error) {
        if (failures + 1 >= attemptsBeforeParking && this.backend.isPermanent(error)) {
          if (batch.length > 1) {
            for (const event of batch) await this.applyWithRetry([event]);
          } else {
            await this.park(batch[0]!, error);
          }
          return;
        }
        this.lastError = 'applying a batch failed; retrying';
        this.logger?.error({ err: error, failures, events: batch.length }, 'projection batch failed; retrying');
        await sleep(Math.min(50 * 2 ** failures, 5_000));
      }
    }
  }

  /** Parks the event for the read models that cannot take it (applying it to the others), retrying while the database is away. */
  private async park(event: RecordedEvent, cause: unknown): Promise<void> {
    for (let failures = 0; this.state === 'running'; failures++) {
      try {
        const { cursor, parked } = await this.backend.park(event);
        this.parkedEvents += parked.length;
        this.lastError = null;
        for (const { projection, reason, error } of parked) {
          this.logger?.error(
            { err: error, projection, reason, eventId: event.eventId, type: event.type, streamId: event.streamId, cursor: event.cursor },
            'a read model cannot apply this event: parked it for that read model (recorded in projection_parked_events), applied it to the others, and went on',
          );
        }
        if (parked.length === 0) this.logger?.warn({ err: cause, eventId: event.eventId }, 'an event that failed in its batch was applied on its own');
        this.advance(cursor);
        return;
      } catch (error) {
        this.lastError = 'parking an event failed; retrying';
        this.logger?.error({ err: error, failures, eventId: event.eventId }, 'parking an event failed; retrying');
        await sleep(Math.min(50 * 2 ** failures, 5_000));
      }
    }
  }

  private advance(cursor: string | null): void {
    if (compareCursors(cursor, this.applied) <= 0) return;
    this.applied = cursor;
    this.waiters.passed(cursor);
    this.readable.passed(cursor);
  }
}
