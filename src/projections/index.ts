export { allProjections, openProjections, type OpenProjectionsOptions, type Projections, type ReadModels } from './read-models.ts';
export { ProjectionRunner, type ProjectionLag, type ProjectionRunnerOptions, type RunnerStatus } from './runner.ts';
export type { ProjectionBackend } from './backend.ts';
export { MemoryProjectionBackend } from './memory-backend.ts';
export { PostgresProjectionBackend, type PostgresBackendOptions, type ProjectionBinding } from './postgres-backend.ts';
export type { AnyProjection, Decoded, MemoryHandlers, PostgresBulkHandlers, PostgresHandlers, Projection } from './projection.ts';
export { liveTables, tableNames, type TableLocation, type TableNames } from './tables.ts';
export { createTablesLike } from './tables-like.ts';
export type { CommandContext } from './context.ts';
