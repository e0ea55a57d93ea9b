import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { withClient } from './postgres-support.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});

describe('migrations', () => {
  it('applies every migration once when two instances start together', async () => {
    const versions = readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((name) => /^\d+\.do\./.test(name))
      .map((name) => Number.parseInt(name, 10));
    const [first, second] = await Promise.all([runMigrations({ connectionString: database.url }), runMigrations({ connectionString: database.url })]);
    expect([...first.applied, ...second.applied].sort((a, b) => a - b)).toEqual(versions.sort((a, b) => a - b));
    expect(first.applied.length === 0 || second.applied.length === 0).toBe(true);
    expect(first.version).toBe(Math.max(...versions));
    expect(second.version).toBe(Math.max(...versions));
    const rows = await withClient(database.url, (client) => client.query('SELECT version FROM schemaversion WHERE version > 0 ORDER BY version'));
    expect(rows.rows.map((row: { version: string | number }) => Number(row.version))).toEqual(versions);
    expect((await runMigrations({ connectionString: database.url })).applied).toEqual([]);
  });

  it('fails with a typed error when the database cannot be reached', async () => {
    const url = new URL(database.url);
    url.pathname = '/no_such_database_here';
    await expect(runMigrations({ connectionString: url.toString() })).rejects.toMatchObject({ code: 'LAKECHAT_ERR_MIGRATION_FAILED' });
  });
});
