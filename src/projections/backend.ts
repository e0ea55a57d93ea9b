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
}
