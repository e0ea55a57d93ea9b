export type {
  AppendOptions,
  AppendResult,
  AppendedEvent,
  EventFilter,
  EventMetadata,
  EventStore,
  ExpectedVersion,
  NewEvent,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  SubscribeOptions,
} from './types.ts';
export { MemoryEventStore, type MemoryEventStoreOptions } from './memory-event-store.ts';
export { WrongExpectedVersionError } from './errors.ts';
export { bareCursor, compareCursors, decodeCursor, encodeCursor, maxCursor, nameCursor } from './cursor.ts';
export { bumpStoreEpoch, readStoreEpoch, readStoreIdentity } from './postgres/store-identity.ts';
export { pickFilter } from './filter.ts';
export { readAllStatement } from './postgres/read-all.ts';
export {
  PostgresEventStore,
  createPostgresEventStore,
  type PostgresEventStoreOptions,
} from './postgres/postgres-event-store.ts';
export type { VisibilityLag } from './postgres/visibility-lag.ts';
export { eventStorePoolConfiguration, type EventStorePoolSettings } from './postgres/pool-configuration.ts';
export { prepared } from './postgres/prepared-statement.ts';
export { sqlState } from './postgres/postgres-errors.ts';
export { erasedStreamId, isTombstone, tombstoneOf, type EraseOptions, type EraseResult, type EraseSelection, type Tombstone } from './tombstone.ts';
