import type { Logger } from 'pino';
import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { readModelList } from '../../projections/index.ts';
import type { EventStore } from '../event-store/index.ts';
import { AppliedInAppend, inAppendSteps } from './in-append.ts';
import { MemoryProjectionBackend } from './memory-backend.ts';
import { PostgresProjectionBackend } from './postgres-backend.ts';
import type { AnyReadModel, ReadModel } from './read-model.ts';
import { ProjectionRunner } from './runner.ts';
import { liveTables, type TableNames, tableNames } from './tables.ts';

/** Every read model the API serves, in the order they are applied (projections/index.ts). */
export const allProjections: readonly AnyReadModel[] = Object.values(readModelList);

type QueriesOf<M> = M extends ReadModel<infer _E, infer Q> ? Q : never;

/** The queries of every read model, by name. */
export type ReadModels = { [K in keyof typeof readModelList]: QueriesOf<(typeof readModelList)[K]> };

/** Every read model's queries, made by `make`. */
export function readModelsBy(make: (model: AnyReadModel) => unknown): ReadModels {
  return Object.fromEntries(Object.entries(readModelList).map(([name, model]) => [name, make(model)])) as ReadModels;
}

/** Every read model's queries over PostgreSQL tables (the live ones, or a copy's). */
export function postgresReadModels(db: CommonQueryMethods, tables: TableNames = tableNames(liveTables)): ReadModels {
  return readModelsBy((model) => model.queries.postgres(db, tables));
}

export interface Projections {
  runner: ProjectionRunner;
  readModels: ReadModels;
  /** In memory only: deletes the rows `match` selects from every read model (an erasure, src/erasure). */
  eraseRows?: MemoryProjectionBackend['eraseRows'];
}

export interface OpenProjectionsOptions {
  store: EventStore;
  /** The database of the PostgreSQL store; null keeps the read models in memory. */
  pool: DatabasePool | null;
  batchSize?: number;
  waitTimeoutMs?: number;
  logger?: Logger | undefined;
  /** Read models applied by the PostgreSQL append itself where they declare how (default true; PROJECTIONS_IN_APPEND). */
  inAppend?: boolean;
}

/**
 * Builds the read models next to the event store (tables in its database, or memory with the
 * in-memory store) and starts the runner that keeps them up to date.
 */
export async function openProjections(options: OpenProjectionsOptions): Promise<Projections> {
  const { store, pool, logger } = options;
  let readModels: ReadModels;
  let runner: ProjectionRunner;
  const runnerOptions = { batchSize: options.batchSize, waitTimeoutMs: options.waitTimeoutMs, logger };
  if (pool === null) {
    const backend = new MemoryProjectionBackend(allProjections);
    readModels = readModelsBy((model) => backend.queries(model));
    runner = new ProjectionRunner(store, backend, runnerOptions);
    await runner.start();
    return { runner, readModels, eraseRows: (selection) => backend.eraseRows(selection) };
  } else {
    const applied = options.inAppend !== false && store.projectInAppend !== undefined ? new AppliedInAppend() : undefined;
    const backend = new PostgresProjectionBackend(
      pool,
      allProjections.map((projection) => ({ projection })),
      { logger, ...(applied === undefined ? {} : { inAppend: applied }) },
    );
    if (applied !== undefined) store.projectInAppend?.(inAppendSteps(allProjections, applied));
    readModels = postgresReadModels(pool);
    runner = new ProjectionRunner(store, backend, runnerOptions);
  }
  await runner.start();
  return { runner, readModels };
}
