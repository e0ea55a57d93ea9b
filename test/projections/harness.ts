import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { createPool, sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { chatsProjection } from '../../projections/chats.ts';
import { messagesProjection } from '../../projections/messages.ts';
import { profileHistoryProjection } from '../../projections/profile-history.ts';
import { profilesProjection } from '../../projections/profiles.ts';
import { MemoryEventStore, type EventStore, type RecordedEvent } from '../../src/event-store/index.ts';
import { MemoryProjectionBackend } from '../../src/projections/memory-backend.ts';
import { PostgresProjectionBackend } from '../../src/projections/postgres-backend.ts';
import type { AnyProjection } from '../../src/projections/projection.ts';
import { allProjections, type ReadModels } from '../../src/projections/read-models.ts';
import { ProjectionRunner } from '../../src/projections/runner.ts';
import { createTablesLike } from '../../src/projections/tables-like.ts';
import { liveTables, tableNames, type TableNames } from '../../src/projections/tables.ts';
import { createTestDatabase } from '../support/database.ts';
import { createLogger } from '../../src/logger.ts';

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

/** Applies this room's migrations (010-029) to a database. */
export async function migrateReadModels(url: string): Promise<void> {
  const folder = new URL('../../migrations/', import.meta.url);
  const files = readdirSync(folder)
    .filter((name) => /^0[1-2]\d\.do\.sql$/.test(name))
    .sort();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const file of files) await client.query(readFileSync(new URL(file, folder), 'utf8'));
  } finally {
    await client.end();
  }
}

export interface PostgresDatabase {
  url: string;
  pool: DatabasePool;
  drop(): Promise<void>;
}

export async function postgresDatabase(): Promise<PostgresDatabase> {
  const database = await createTestDatabase();
  await migrateReadModels(database.url);
  const pool = await createPool(database.url, { maxPoolSize: 8 });
  return {
    url: database.url,
    pool,
    drop: async () => {
      await pool.end();
      await database.drop();
    },
  };
}

/** The live tables' structure copied into another schema: how a rebuild makes its targets. */
export async function copyTables(db: CommonQueryMethods, schema: string, projections: readonly AnyProjection[]): Promise<TableNames> {
  await createTablesLike(db, projections, { schema, suffix: '' });
  return tableNames({ schema, suffix: '' });
}

export async function postgresReadModels(store: EventStore = new MemoryEventStore({ pollIntervalMs: 50 })): Promise<ReadModelsUnderTest & { database: PostgresDatabase }> {
  const database = await postgresDatabase();
  const { pool } = database;
  const backend = new PostgresProjectionBackend(pool, allProjections.map((projection) => ({ projection })));
  const runner = new ProjectionRunner(store, backend, { waitTimeoutMs: 5_000, logger: process.env.TEST_LOG === '1' ? createLogger({ level: 'debug' }) : undefined });
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
