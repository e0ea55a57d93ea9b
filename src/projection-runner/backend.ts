import type { RecordedEvent } from '../event-store/index.ts';

export interface ParkOutcome {
  /** The lowest cursor now applied. */
  cursor: string | null;
  /** The read models the event was parked for (none when every one could take it after all). */
  parked: readonly { projection: string; reason: string; error: unknown }[];
}

/** Where projections keep their read models and checkpoints: PostgreSQL tables or this process's memory. */
export interface ProjectionBackend {
  readonly kind: 'postgres' | 'memory';
  /** The names of the checkpoints it keeps, one per projection. */
  readonly names: readonly string[];
  /** Prepares the checkpoints; returns the lowest cursor any of its projections has applied. */
  start(): Promise<string | null>;
  /**
   * Applies events, in log order, together with the checkpoints in one atomic step; events at or
   * before a projection's checkpoint are skipped. Returns the lowest cursor now applied.
   */
  applyBatch(events: readonly RecordedEvent[]): Promise<string | null>;
  /** The checkpoint of each projection, as last read or written. */
  checkpoints(): Promise<Record<string, string | null>>;
  /**
   * For the event a batch of its own still fails on: applies it to each read model that can take it,
   * parks it (recorded, with why) for each that cannot, and moves their checkpoints past it, in one
   * atomic step. Returns the lowest cursor now applied and the read models it was parked for.
   */
  park(event: RecordedEvent): Promise<ParkOutcome>;
  /** How many events are parked. */
  parkedCount(): Promise<number>;
  /**
   * True when `error`, from applying a batch, comes from the events' own values (and so will come
   * again, whatever the retries), false when it may be the database being away.
   */
  isPermanent(error: unknown): boolean;
  /**
   * True when the appends of this instance applied these events, in their own statements, to every
   * read model that handles them (src/projection-runner/in-append.ts): a write reads its own writes
   * without waiting. Absent where appends apply nothing (memory).
   */
  appliedInAppend?(events: readonly { eventId: string; type: string }[]): boolean;
}
