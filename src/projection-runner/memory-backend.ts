import type { Logger } from 'pino';
import { compareCursors, type RecordedEvent } from '../event-store/index.ts';
import type { ParkOutcome, ProjectionBackend } from './backend.ts';
import { decodeStrict } from './decode.ts';
import type { AnyProjection, Projection } from './projection.ts';
import { handlerFailure, parkReason } from './unappliable.ts';

type Handler = (model: unknown, data: unknown, event: RecordedEvent) => void;

export interface ParkedInMemory {
  eventId: string;
  projection: string;
  cursor: string;
  reason: string;
}

/**
 * Read models in this process's memory, for the in-memory event store. A batch is applied without
 * awaiting anything, so no reader ever sees half of it: the same atomicity a transaction gives.
 */
export class MemoryProjectionBackend implements ProjectionBackend {
  readonly kind = 'memory' as const;
  readonly names: readonly string[];
  private readonly models = new Map<string, unknown>();
  private readonly cursors = new Map<string, string | null>();
  private readonly parked: ParkedInMemory[] = [];

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

  // biome-ignore lint/suspicious/noExplicitAny: a backend answers for projections of any event and model types
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
      for (const event of events) {
        if (compareCursors(event.cursor, from) <= 0) continue;
        this.applyOne(projection, event);
      }
      this.cursors.set(projection.name, last);
    }
    return this.lowest();
  }

  async checkpoints(): Promise<Record<string, string | null>> {
    return Object.fromEntries(this.cursors);
  }

  /** Applies `event` to each read model before it that can take it, and parks it for the others. */
  async park(event: RecordedEvent): Promise<ParkOutcome> {
    const parked: ParkOutcome['parked'][number][] = [];
    for (const projection of this.projections) {
      if (compareCursors(this.cursors.get(projection.name) ?? null, event.cursor) >= 0) continue;
      try {
        this.applyOne(projection, event);
      } catch (error) {
        const reason = parkReason(error);
        parked.push({ projection: projection.name, reason, error });
        this.parked.push({ eventId: event.eventId, projection: projection.name, cursor: event.cursor, reason });
      }
      this.cursors.set(projection.name, event.cursor);
    }
    return { cursor: this.lowest(), parked };
  }

  /** What is parked, oldest first. */
  async parkedEvents(): Promise<readonly ParkedInMemory[]> {
    return this.parked;
  }

  async parkedCount(): Promise<number> {
    return this.parked.length;
  }

  /** Nothing here can be away: a handler that throws is a handler that cannot apply this event. */
  isPermanent(): boolean {
    return true;
  }

  /** Data that fails its schema, or a handler that throws: UnappliableEventError (see the runner). */
  private applyOne(projection: AnyProjection, event: RecordedEvent): void {
    const decoded = decodeStrict(projection, event);
    if (decoded === null) return;
    try {
      (projection.memory.handlers as Record<string, Handler | undefined>)[decoded.type]?.(this.models.get(projection.name), decoded.data, event);
    } catch (error) {
      throw handlerFailure(projection.name, error);
    }
  }

  private lowest(): string | null {
    let lowest: string | null | undefined;
    for (const cursor of this.cursors.values()) {
      if (lowest === undefined || compareCursors(cursor, lowest) < 0) lowest = cursor;
    }
    return lowest ?? null;
  }
}
