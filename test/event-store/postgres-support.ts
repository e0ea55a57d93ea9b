import pg from 'pg';
import { createPool, type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { eventStorePoolConfiguration, PostgresEventStore, type PostgresEventStoreOptions } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

export interface PostgresTestBed {
  database: TestDatabase;
  pool: DatabasePool;
  /** A new store on the shared pool (or on `pool` when given); closed by `close`. */
  openStore(options?: Partial<PostgresEventStoreOptions>): PostgresEventStore;
  truncate(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh, migrated database and a pool on it, for one test file. */
export async function createPostgresTestBed(poolSize = 10): Promise<PostgresTestBed> {
  const database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  const pool = await createPool(database.url, eventStorePoolConfiguration({ maxPoolSize: poolSize, idleInTransactionTimeoutMs: 10_000 }));
  const stores = new Set<PostgresEventStore>();
  return {
    database,
    pool,
    openStore(options = {}) {
      const store = new PostgresEventStore({
        pool,
        listenerConfig: async () => ({ connectionString: database.url }),
        pollIntervalMs: 200,
        // Other test files share the server; their transactions can hold this store's own commits
        // back from its readers for a while.
        readYourWritesMs: 10_000,
        ...options,
      });
      stores.add(store);
      return store;
    },
    async truncate() {
      await pool.query(sql.type(z.object({}))`TRUNCATE events RESTART IDENTITY`);
    },
    async close() {
      await Promise.all([...stores].map((store) => store.close()));
      await pool.end();
      await database.drop();
    },
  };
}

/** A plain pg client on the test database, for what the store does not expose (pg_stat_activity...). */
export async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
