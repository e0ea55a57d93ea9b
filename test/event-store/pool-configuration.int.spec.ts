import { createPool, sql } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventStorePoolConfiguration } from '../../src/event-store/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
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
});
