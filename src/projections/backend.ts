import type { RecordedEvent } from '../event-store/index.ts';

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
   * Moves every checkpoint still before `event` past it without applying it, and records the event
   * and why (parked), in one atomic step: for the event no attempt can apply. Returns the lowest
   * cursor now applied.
   */
  park(event: RecordedEvent, reason: string): Promise<string | null>;
  /** How many events are parked. */
  parkedCount(): Promise<number>;
  /**
   * True when `error`, from applying a batch, comes from the events' own values (and so will come
   * again, whatever the retries), false when it may be the database being away.
   */
  isPermanent(error: unknown): boolean;
}
