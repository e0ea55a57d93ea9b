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
export { compareCursors } from './cursor.ts';
