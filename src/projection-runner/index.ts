export { allProjections, openProjections, postgresReadModels, readModelsBy, type OpenProjectionsOptions, type Projections, type ReadModels } from './read-models.ts';
export { ProjectionRunner, type ProjectionLag, type ProjectionRunnerOptions, type RunnerStatus } from './runner.ts';
export type { ProjectionBackend } from './backend.ts';
export { MemoryProjectionBackend } from './memory-backend.ts';
export { PostgresProjectionBackend, type PostgresBackendOptions, type ProjectionBinding } from './postgres-backend.ts';
export type { AnyReadModel, ColumnType, Decoded, FoldRows, ReadModel, Row, TableSpec } from './read-model.ts';
export { MemoryStore, type MemoryTables } from './memory-tables.ts';
export { liveTables, tableNames, type TableLocation, type TableNames } from './tables.ts';
export { createTablesLike } from './tables-like.ts';
// The read models' row types and shapes, for the services that answer with them.
export type { ChatListKey, ChatRow } from '../../projections/chats.ts';
export { messageRowOf, type MessageRow } from '../../projections/messages.ts';
export type { ProfileRow } from '../../projections/profiles.ts';
export type { ProfileHistoryEntry } from '../../projections/profile-history.ts';
