export { bareCursor, compareCursors, decodeCursor, encodeCursor, maxCursor, nameCursor } from './cursor.ts';
export { WrongExpectedVersionError } from './errors.ts';
export { pickFilter } from './filter.ts';
export { MemoryEventStore, type MemoryEventStoreOptions } from './memory-event-store.ts';
export { insertOneIfVersionHolds } from './postgres/append-sql.ts';
export type { AppendStep, AppendStepEvent, AppendSteps, AppliedMarks } from './postgres/append-steps.ts';
export { assertLogNotCopied, repairCopiedLog, repairCopiedLogCommand } from './postgres/copied-log.ts';
export { optimisticGroup } from './postgres/decide-group.ts';
export { type EventStorePoolSettings, eventStorePoolConfiguration } from './postgres/pool-configuration.ts';
export { sqlState } from './postgres/postgres-errors.ts';
export {
  createPostgresEventStore,
  PostgresEventStore,
  type PostgresEventStoreOptions,
} from './postgres/postgres-event-store.ts';
export { prepared } from './postgres/prepared-statement.ts';
export { readAllStatement } from './postgres/read-all.ts';
export { bumpStoreEpoch, readStoreEpoch, readStoreIdentity } from './postgres/store-identity.ts';
export type { VisibilityLag } from './postgres/visibility-lag.ts';
export { type EraseOptions, type EraseResult, type EraseSelection, erasedStreamId, isTombstone, type Tombstone, tombstoneOf } from './tombstone.ts';
export type {
  AppendedEvent,
  AppendOptions,
  AppendResult,
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
export { prepareAppend } from './validate-append.ts';
