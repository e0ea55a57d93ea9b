import { createPool, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventStorePoolConfiguration, PostgresEventStore } from '../../src/event-store/index.ts';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
});
afterAll(async () => {
  await database.drop();
});

describe('the event store pool', () => {
  it('ends sessions left idle in a transaction, so none holds the readers of the log back for long', async () => {
    const pool = await createPool(database.url, eventStorePoolConfiguration({ maxPoolSize: 1, idleInTransactionTimeoutMs: 7_000 }));
    try {
      const setting = await pool.oneFirst(sql.type(z.object({ timeout: z.string() }))`SELECT current_setting('idle_in_transaction_session_timeout') AS timeout`);
      expect(setting).toBe('7s');
    } finally {
      await pool.end();
    }
  });

  describe('prepared statements', () => {
    const preparedNames = sql.type(z.object({ name: z.string() }))`
      SELECT name FROM pg_prepared_statements WHERE name LIKE 'lakechat\_%' ORDER BY name`;

    /** One connection, so what the session has prepared is what every statement used. */
    async function appendAndRead(preparedStatements: boolean): Promise<{ names: readonly string[]; read: number }> {
      const pool = await createPool(database.url, eventStorePoolConfiguration({ maxPoolSize: 1, idleInTransactionTimeoutMs: 10_000, preparedStatements }));
      const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: database.url }) });
      try {
        const stream = `prepared-${preparedStatements}`;
        for (let n = 0; n < 5; n++) {
          await store.append(stream, [{ type: 'Noted', data: { n } }], { expectedVersion: n });
          await store.readAll({ limit: 100 });
        }
        const read = await store.readStream(stream);
        return { names: (await pool.any(preparedNames)).map((row) => row.name), read: read.events.length };
      } finally {
        await store.close();
        await pool.end();
      }
    }

    it('runs appends and reads of the log as named statements, prepared once per connection whatever the values', async () => {
      const { names, read } = await appendAndRead(true);
      expect(read).toBe(5);
      // The group append and the page read: two texts, however many times they ran.
      expect(names).toHaveLength(2);
      expect(new Set(names).size).toBe(names.length);
    });

    it('sends every statement unnamed when turned off, for poolers that cannot keep them', async () => {
      const { names, read } = await appendAndRead(false);
      expect(read).toBe(5);
      expect(names).toEqual([]);
    });
  });
});
