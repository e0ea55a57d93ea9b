import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { type EventStore, MemoryEventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { decodeFor } from '../../src/projection-runner/decode.ts';
import { foldEvents } from '../../src/projection-runner/fold.ts';
import { MemoryProjectionBackend } from '../../src/projection-runner/memory-backend.ts';
import { MemoryStore } from '../../src/projection-runner/memory-tables.ts';
import { applyTo, PostgresProjectionBackend } from '../../src/projection-runner/postgres-backend.ts';
import type { AnyReadModel } from '../../src/projection-runner/read-model.ts';
import { allProjections, postgresReadModels as postgresQueries, type ReadModels, readModelsBy } from '../../src/projection-runner/read-models.ts';
import { ProjectionRunner } from '../../src/projection-runner/runner.ts';
import { liveTables, type TableNames, tableNames } from '../../src/projection-runner/tables.ts';
import { createTablesLike } from '../../src/projection-runner/tables-like.ts';
import { createPostgresTestBed } from '../event-store/postgres-support.ts';

/** Read models under test: the runner that feeds them from a store, and their queries. */
export interface ReadModelsUnderTest {
  store: EventStore;
  runner: ProjectionRunner;
  readModels: ReadModels;
  /**
   * Applies events straight through every read model's fold into fresh, empty read models,
   * ignoring checkpoints, `times` times over; returns those read models.
   */
  applyDirectly(events: readonly RecordedEvent[], times: number): Promise<ReadModels>;
  cleanup(): Promise<void>;
}

function memoryReadModelsOf(stores: Map<string, MemoryStore>): ReadModels {
  return readModelsBy((model) => model.queries.memory(stores.get(model.name)!));
}

function postgresReadModelsOf(db: CommonQueryMethods, tables: TableNames): ReadModels {
  return postgresQueries(db, tables);
}

export async function memoryReadModels(store: EventStore = new MemoryEventStore({ pollIntervalMs: 50 })): Promise<ReadModelsUnderTest> {
  const backend = new MemoryProjectionBackend(allProjections);
  const runner = new ProjectionRunner(store, backend, { waitTimeoutMs: 5_000 });
  await runner.start();
  return {
    store,
    runner,
    readModels: readModelsBy((model) => backend.queries(model)),
    async applyDirectly(events, times) {
      const stores = new Map(allProjections.map((projection) => [projection.name, new MemoryStore(projection)]));
      for (let i = 0; i < times; i++) {
        for (const projection of allProjections) {
          const store = stores.get(projection.name)!;
          for (const event of events) {
            const decoded = decodeFor(projection, event, undefined);
            if (decoded !== null) store.apply(foldEvents(projection, store, [{ type: decoded.type, data: decoded.data, event }]));
          }
        }
      }
      return memoryReadModelsOf(stores);
    },
    async cleanup() {
      await runner.stop();
      await store.close();
    },
  };
}

export interface PostgresDatabase {
  url: string;
  pool: DatabasePool;
  /** A PostgreSQL event store on this database (closed with it). */
  openStore(): EventStore;
  drop(): Promise<void>;
}

/** A fresh database with every migration applied (the event store's and the read models'). */
export async function postgresDatabase(): Promise<PostgresDatabase> {
  const bed = await createPostgresTestBed(8);
  return {
    url: bed.database.url,
    pool: bed.pool,
    openStore: () => bed.openStore({ pollIntervalMs: 100 }),
    drop: () => bed.close(),
  };
}

/** The live tables' structure copied into another schema: how a rebuild makes its targets. */
export async function copyTables(db: CommonQueryMethods, schema: string, projections: readonly AnyReadModel[]): Promise<TableNames> {
  await createTablesLike(db, projections, { schema, suffix: '' });
  return tableNames({ schema, suffix: '' });
}

/** The read models in PostgreSQL, fed by the PostgreSQL event store on the same database. */
export async function postgresReadModels(): Promise<ReadModelsUnderTest & { database: PostgresDatabase }> {
  const database = await postgresDatabase();
  const { pool } = database;
  const store = database.openStore();
  const backend = new PostgresProjectionBackend(
    pool,
    allProjections.map((projection) => ({ projection })),
  );
  // Other test files share the server, and their transactions can hold the log's readers back.
  const runner = new ProjectionRunner(store, backend, { waitTimeoutMs: 30_000 });
  await runner.start();
  let copies = 0;
  return {
    database,
    store,
    runner,
    readModels: postgresReadModelsOf(pool, tableNames(liveTables)),
    async applyDirectly(events, times) {
      const tables = await copyTables(pool, `direct_${++copies}`, allProjections);
      for (let i = 0; i < times; i++) {
        await pool.transaction(async (tx) => {
          for (const projection of allProjections) {
            for (const event of events) await applyTo(tx, projection, tables, [event]);
          }
        });
      }
      return postgresReadModelsOf(pool, tables);
    },
    async cleanup() {
      await runner.stop();
      await store.close();
      await database.drop();
    },
  };
}
