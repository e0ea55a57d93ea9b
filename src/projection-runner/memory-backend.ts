import { compareCursors, type RecordedEvent } from '../event-store/index.ts';
import type { ParkOutcome, ProjectionBackend } from './backend.ts';
import { decodeStrict } from './decode.ts';
import { type FoldItem, foldEvents } from './fold.ts';
import { MemoryStore } from './memory-tables.ts';
import type { AnyReadModel, ReadModel } from './read-model.ts';
import { parkReason } from './unappliable.ts';

/**
 * The rows an erasure deletes from the read models in memory: the same rule as on PostgreSQL
 * (src/erasure/database-rows.ts): rows whose `owner` is the erased user, or whose `stream_id` is one of
 * the streams, below `beforeVersion` where the table has versions.
 */
export interface EraseRowsInMemory {
  owner?: string;
  streamIds?: readonly string[];
  beforeVersion?: number;
  /** Parked events whose event id this says is no longer in the log are dropped. */
  stillLogged?: (eventId: string) => boolean;
}

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

  constructor(private readonly projections: readonly AnyReadModel[]) {
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

  /** Deletes the rows an erasure selects from every read model; returns how many rows (and parked events) went. */
  eraseRows({ owner, streamIds, beforeVersion, stillLogged }: EraseRowsInMemory): number {
    const streams = new Set(streamIds ?? []);
    const selected = (row: Record<string, unknown>): boolean =>
      (owner !== undefined && row.owner === owner) ||
      (streams.has(row.stream_id as string) && (beforeVersion === undefined || typeof row.version !== 'number' || row.version < beforeVersion));
    let erased = 0;
    for (const store of this.stores.values()) erased += store.deleteWhere(selected);
    if (stillLogged !== undefined) {
      for (let i = this.parked.length - 1; i >= 0; i--) {
        if (!stillLogged(this.parked[i]!.eventId)) {
          this.parked.splice(i, 1);
          erased++;
        }
      }
    }
    return erased;
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
