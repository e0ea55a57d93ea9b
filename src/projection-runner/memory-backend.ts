import type { Logger } from 'pino';
import { compareCursors, type RecordedEvent } from '../event-store/index.ts';
import type { ParkOutcome, ProjectionBackend } from './backend.ts';
import { decodeStrict } from './decode.ts';
import type { AnyProjection, Projection } from './projection.ts';
import { handlerFailure, parkReason } from './unappliable.ts';

type Handler = (model: unknown, data: unknown, event: RecordedEvent) => void;

/** What an erasure reads of a read model's row in memory. */
export interface ErasableRow {
  owner?: unknown;
  streamId?: unknown;
  version?: unknown;
}

export interface EraseRowsInMemory {
  /** Rows to delete; `keyed` when the row lies under a key `key` selects. */
  row: (row: ErasableRow, keyed: boolean) => boolean;
  /** Map keys under which every object counts as a row (a read model keyed by owner, whose rows do not repeat it). */
  key?: (key: unknown) => boolean;
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

  /**
   * Deletes the rows `match` selects from every read model (an erasure, src/erasure). The models are
   * maps of rows (or of lists or maps of rows) that carry their `owner` and `streamId`: this walks
   * them rather than asking each read model, and a row list emptied this way is dropped with its key.
   * Events parked in memory that name no event still in the log go with them (`stillLogged`).
   */
  eraseRows({ row: match, key: matchKey, stillLogged }: EraseRowsInMemory): number {
    let erased = 0;
    const isObject = (value: unknown): value is ErasableRow => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
    const isRow = (value: unknown, keyed: boolean): value is ErasableRow => isObject(value) && (keyed || 'owner' in value || 'streamId' in value);
    const walk = (container: Map<unknown, unknown>, keyedAbove: boolean): void => {
      for (const [key, value] of container) {
        const keyed = keyedAbove || matchKey?.(key) === true;
        if (isRow(value, keyed)) {
          if (match(value, keyed)) {
            container.delete(key);
            erased++;
          }
        } else if (value instanceof Map) {
          walk(value, keyed);
          if (value.size === 0) container.delete(key);
        } else if (Array.isArray(value)) {
          const kept = value.filter((item) => !(isRow(item, keyed) && match(item, keyed)));
          erased += value.length - kept.length;
          // Lists indexed by position (a chat's messages) keep their holes: only whole lists go.
          if (kept.every((item) => item === undefined)) container.delete(key);
          else if (kept.length !== value.length) value.splice(0, value.length, ...kept);
        }
      }
    };
    for (const model of this.models.values()) {
      if (model instanceof Map) walk(model, false);
      else if (typeof model === 'object' && model !== null) for (const part of Object.values(model)) if (part instanceof Map) walk(part, false);
    }
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
