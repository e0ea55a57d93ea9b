import type { Logger } from 'pino';
import { compareCursors, type RecordedEvent } from '../event-store/index.ts';
import type { ParkOutcome, ProjectionBackend } from './backend.ts';
import { decodeStrict } from './decode.ts';
import { foldEvents, type FoldItem } from './fold.ts';
import { MemoryStore } from './memory-tables.ts';
import type { AnyReadModel, ReadModel } from './read-model.ts';
import { parkReason } from './unappliable.ts';

export interface ParkedInMemory {
  eventId: string;
  projection: string;
  cursor: string;
  reason: string;
}

/**
 * Read models in this process's memory, for the in-memory event store: each read model's fold over
 * its tables in Maps. A batch is folded into a change set, then applied, without awaiting anything, so
 * no reader ever sees half of it (the same atomicity a transaction gives), and a fold that throws
 * changes nothing.
 */
export class MemoryProjectionBackend implements ProjectionBackend {
  readonly kind = 'memory' as const;
  readonly names: readonly string[];
  private readonly stores = new Map<string, MemoryStore>();
  private readonly cursors = new Map<string, string | null>();
  private readonly parked: ParkedInMemory[] = [];

  constructor(
    private readonly projections: readonly AnyReadModel[],
    private readonly logger?: Logger,
  ) {
    this.names = projections.map((projection) => projection.name);
    for (const projection of projections) {
      this.stores.set(projection.name, new MemoryStore(projection));
      this.cursors.set(projection.name, null);
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: any event type
  queries<Q>(projection: ReadModel<any, Q>): Q {
    return projection.queries.memory(this.tables(projection));
  }

  /** A read model's tables (the contract suite reads their rows). */
  tables(projection: AnyReadModel): MemoryStore {
    const store = this.stores.get(projection.name);
    if (store === undefined) throw new Error(`projection ${projection.name} is not in this backend`);
    return store;
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
      this.apply(projection, from === null ? events : events.filter((event) => compareCursors(event.cursor, from) > 0));
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
        this.apply(projection, [event]);
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

  /** Data that fails its schema, or a fold that throws: UnappliableEventError (see the runner), and nothing changed. */
  private apply(projection: AnyReadModel, events: readonly RecordedEvent[]): void {
    const items: FoldItem[] = [];
    for (const event of events) {
      const decoded = decodeStrict(projection, event);
      if (decoded !== null) items.push({ type: decoded.type, data: decoded.data, event });
    }
    if (items.length === 0) return;
    const store = this.tables(projection);
    store.apply(foldEvents(projection, store, items));
  }

  private lowest(): string | null {
    let lowest: string | null | undefined;
    for (const cursor of this.cursors.values()) {
      if (lowest === undefined || compareCursors(cursor, lowest) < 0) lowest = cursor;
    }
    return lowest ?? null;
  }
}
