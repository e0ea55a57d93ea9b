import type { Logger } from 'pino';
import { compareCursors, type RecordedEvent } from '../event-store/index.ts';
import type { ProjectionBackend } from './backend.ts';
import { decodeFor } from './decode.ts';
import type { AnyProjection, Projection } from './projection.ts';

type Handler = (model: unknown, data: unknown, event: RecordedEvent) => void;

/**
 * Read models in this process's memory, for the in-memory event store. A batch is applied without
 * awaiting anything, so no reader ever sees half of it: the same atomicity a transaction gives.
 */
export class MemoryProjectionBackend implements ProjectionBackend {
  readonly kind = 'memory' as const;
  readonly names: readonly string[];
  private readonly models = new Map<string, unknown>();
  private readonly cursors = new Map<string, string | null>();
  private readonly parked: { eventId: string; cursor: string; reason: string }[] = [];

  constructor(
    private readonly projections: readonly AnyProjection[],
    private readonly logger?: Logger,
  ) {
    this.names = projections.map((projection) => projection.name);
    for (const projection of projections) {
      this.models.set(projection.name, projection.memory.create());
      this.cursors.set(projection.name, null);
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  queries<Q>(projection: Projection<any, Q, any>): Q {
    if (!this.models.has(projection.name)) throw new Error(`projection ${projection.name} is not in this backend`);
    return (projection as AnyProjection).memory.queries(this.models.get(projection.name));
  }

  async start(): Promise<string | null> {
    return this.lowest();
  }

  async applyBatch(events: readonly RecordedEvent[]): Promise<string | null> {
    if (events.length === 0) return this.lowest();
    const last = events[events.length - 1]!.cursor;
    for (const projection of this.projections) {
      const from = this.cursors.get(projection.name) ?? null;
      if (compareCursors(from, last) >= 0) continue;
      const model = this.models.get(projection.name);
      const handlers = projection.memory.handlers as Record<string, Handler | undefined>;
      for (const event of events) {
        if (compareCursors(event.cursor, from) <= 0) continue;
        const decoded = decodeFor(projection, event, this.logger);
        if (decoded !== null) handlers[decoded.type]?.(model, decoded.data, event);
      }
      this.cursors.set(projection.name, last);
    }
    return this.lowest();
  }

  async checkpoints(): Promise<Record<string, string | null>> {
    return Object.fromEntries(this.cursors);
  }

  async park(event: RecordedEvent, reason: string): Promise<string | null> {
    this.parked.push({ eventId: event.eventId, cursor: event.cursor, reason });
    for (const [name, cursor] of this.cursors) {
      if (compareCursors(cursor, event.cursor) < 0) this.cursors.set(name, event.cursor);
    }
    return this.lowest();
  }

  async parkedCount(): Promise<number> {
    return this.parked.length;
  }

  /** Nothing here can be away: a handler that throws is a handler that cannot apply this event. */
  isPermanent(): boolean {
    return true;
  }

  private lowest(): string | null {
    let lowest: string | null | undefined;
    for (const cursor of this.cursors.values()) {
      if (lowest === undefined || compareCursors(cursor, lowest) < 0) lowest = cursor;
    }
    return lowest ?? null;
  }
}
