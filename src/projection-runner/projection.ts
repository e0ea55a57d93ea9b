import type { CommonQueryMethods, FragmentSqlToken } from 'slonik';
import type { RecordedEvent } from '../event-store/index.ts';
import type { DomainEvent } from '../commands/command-handler.ts';
import type { TableNames } from './tables.ts';

type EventOf<E extends DomainEvent, T extends E['type']> = Extract<E, { type: T }>;

export type MemoryHandlers<E extends DomainEvent, Model> = {
  [T in E['type']]?: (model: Model, data: EventOf<E, T>['data'], event: RecordedEvent) => void;
};

export type PostgresHandlers<E extends DomainEvent> = {
  [T in E['type']]?: (db: CommonQueryMethods, tables: TableNames, data: EventOf<E, T>['data'], event: RecordedEvent) => Promise<void>;
};

/** One decoded event with the stored event it came from. */
export interface Decoded<Data> {
  data: Data;
  event: RecordedEvent;
}

/**
 * Handlers for a run of consecutive events of one type, in log order: ONE data-modifying statement
 * (INSERT, UPDATE or DELETE, no RETURNING) for the whole run instead of one per event, returned as a
 * fragment so the runner can run it alone or inside a larger statement. It must write nothing unless
 * `guard` (a boolean SQL expression) holds, and leave the tables exactly as the per-event handler
 * applied to each event in turn would (the read models specification checks it).
 */
export type PostgresBulkHandlers<E extends DomainEvent> = {
  [T in E['type']]?: (tables: TableNames, items: readonly Decoded<EventOf<E, T>['data']>[], guard: FragmentSqlToken) => FragmentSqlToken;
};

/**
 * A read model: its name, the events it handles, a handler per event type and the queries that read
 * it, once over PostgreSQL tables and once in memory, with the same behaviour. Handlers are
 * idempotent (applying an event twice changes nothing), though the checkpoint already prevents it.
 */
export interface Projection<E extends DomainEvent, Queries, Model = unknown> {
  readonly name: string;
  /** Reads a stored event as one this projection understands; null for any other type. */
  parse(event: RecordedEvent): E | null;
  readonly memory: {
    create(): Model;
    handlers: MemoryHandlers<E, Model>;
    queries(model: Model): Queries;
  };
  readonly postgres: {
    /** The logical names of the tables it writes; the migration named here creates the live ones. */
    tables: readonly string[];
    migration: string;
    handlers: PostgresHandlers<E>;
    /** Optional: how to apply a run of consecutive events of one type at once (the hot types). */
    bulk?: PostgresBulkHandlers<E>;
    queries(db: CommonQueryMethods, tables: TableNames): Queries;
  };
}

// The runner handles projections of different event and model types side by side.
// biome-ignore lint/suspicious/noExplicitAny: the runner holds projections of different types side by side
export type AnyProjection = Projection<any, any, any>;

/** The event types a projection handles (the same on both sides; checked by a unit test). */
export function handledTypes(projection: AnyProjection): string[] {
  return Object.keys(projection.postgres.handlers);
}
