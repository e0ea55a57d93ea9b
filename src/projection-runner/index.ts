// The read models' row types and shapes, for the services that answer with them.
export type { ChatListKey, ChatRow } from '../../projections/chats.ts';
export { type MessageRow, messageRowOf } from '../../projections/messages.ts';
export type { ProfileHistoryEntry } from '../../projections/profile-history.ts';
export type { ProfileRow } from '../../projections/profiles.ts';
export type { ProjectionBackend } from './backend.ts';
export { decodeFor } from './decode.ts';
export { foldEvents } from './fold.ts';
export { MemoryProjectionBackend } from './memory-backend.ts';
export { MemoryStore, type MemoryTables } from './memory-tables.ts';
export { type PostgresBackendOptions, PostgresProjectionBackend, type ProjectionBinding } from './postgres-backend.ts';
export type { AnyReadModel, ColumnType, Decoded, FoldRows, ReadModel, Row, TableSpec } from './read-model.ts';
export { allProjections, type OpenProjectionsOptions, openProjections, type Projections, postgresReadModels, type ReadModels, readModelsBy } from './read-models.ts';
export { type ProjectionLag, ProjectionRunner, type ProjectionRunnerOptions, type RunnerStatus } from './runner.ts';
export { liveTables, type TableLocation, type TableNames, tableNames } from './tables.ts';
export { createTablesLike } from './tables-like.ts';
