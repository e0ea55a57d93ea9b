import type { CommonQueryMethods, DatabasePool } from 'slonik';
import { chatsProjection } from '../../projections/chats.ts';
import { messagesProjection } from '../../projections/messages.ts';
import { profileHistoryProjection } from '../../projections/profile-history.ts';
import { profilesProjection } from '../../projections/profiles.ts';
import { MemoryEventStore, type EventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { MemoryProjectionBackend } from '../../src/projection-runner/memory-backend.ts';
import { PostgresProjectionBackend } from '../../src/projection-runner/postgres-backend.ts';
import type { AnyProjection } from '../../src/projection-runner/projection.ts';
import { allProjections, type ReadModels } from '../../src/projection-runner/read-models.ts';
import { ProjectionRunner } from '../../src/projection-runner/runner.ts';
import { createTablesLike } from '../../src/projection-runner/tables-like.ts';
import { liveTables, tableNames, type TableNames } from '../../src/projection-runner/tables.ts';
import { createPostgresTestBed } from '../event-store/postgres-support.ts';

/** Read models under test: the runner that feeds them from a store, and their queries. */
export interface ReadModelsUnderTest {
  store: EventStore;
  runner: ProjectionRunner;
  readModels: ReadModels;
  /**
   * Applies events straight through every projection's handlers into fresh, empty read models,
   * ignoring checkpoints, `times` times over; returns those read models.
   */
  applyDirectly(events: readonly RecordedEvent[], times: number): Promise<ReadModels>;
  cleanup(): Promise<void>;
}

type Handler = (target: unknown, ...rest: unknown[]) => unknown;

function memoryReadModelsOf(models: Map<string, unknown>): ReadModels {
  return {
    chats: chatsProjection.memory.queries(models.get('chats') as never),
    messages: messagesProjection.memory.queries(models.get('messages') as never),
    profiles: profilesProjection.memory.queries(models.get('profiles') as never),
    profileHistory: profileHistoryProjection.memory.queries(models.get('profile_history') as never),
  };
}

function postgresReadModelsOf(db: CommonQueryMethods, tables: TableNames): ReadModels {
  return {
    chats: chatsProjection.postgres.queries(db, tables),
    messages: messagesProjection.postgres.queries(db, tables),
    profiles: profilesProjection.postgres.queries(db, tables),
    profileHistory: profileHistoryProjection.postgres.queries(db, tables),
  };
}

function handlerFor(projection: AnyProjection, side: 'memory' | 'postgres', event: RecordedEvent): { handler: Handler; data: unknown } | null {
  const decoded = projection.parse(event);
  if (decoded === null) return null;
  const handler = (projection[side].handlers as Record<string, Handler | undefined>)[decoded.type];
  return handler === undefined ? null : { handler, data: decoded.data };
}

export async function memoryReadModels(store: EventStore = new MemoryEventStore({ pollIntervalMs: 50 })): Promise<ReadModelsUnderTest> {
  const backend = new MemoryProjectionBackend(allProjections);
  const runner = new ProjectionRunner(store, backend, { waitTimeoutMs: 5_000 });
  await runner.start();
  return {
    store,
    runner,
    readModels: {
      chats: backend.queries(chatsProjection),
      messages: backend.queries(messagesProjection),
      profiles: backend.queries(profilesProjection),
      profileHistory: backend.queries(profileHistoryProjection),
    },
    async applyDirectly(events, times) {
      const models = new Map(allProjections.map((projection) => [projection.name, projection.memory.create()]));
      for (let i = 0; i < times; i++) {
        for (const projection of allProjections) {
          for (const event of events) {
            const found = handlerFor(projection, 'memory', event);
            found?.handler(models.get(projection.name), found.data, event);
          }
        }
      }
      return memoryReadModelsOf(models);
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
export async function copyTables(db: CommonQueryMethods, schema: string, projections: readonly AnyProjection[]): Promise<TableNames> {
  await createTablesLike(db, projections, { schema, suffix: '' });
  return tableNames({ schema, suffix: '' });
}

/** The read models in PostgreSQL, fed by the PostgreSQL event store on the same database. */
export async function postgresReadModels(): Promise<ReadModelsUnderTest & { database: PostgresDatabase }> {
  const database = await postgresDatabase();
  const { pool } = database;
  const store = database.openStore();
  const backend = new PostgresProjectionBackend(pool, allProjections.map((projection) => ({ projection })));
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
            for (const event of events) {
              const found = handlerFor(projection, 'postgres', event);
              await found?.handler(tx, tables, found.data, event);
            }
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
