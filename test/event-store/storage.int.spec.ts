import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { openStorage } from '../../src/storage.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { withClient } from './postgres-support.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});

const logger = createLogger({ level: 'silent' });

describe('storage from LAKEBASE_PG_URL', () => {
  it('migrates the database and keeps events in PostgreSQL', async () => {
    const storage = await openStorage(loadConfig({ LAKEBASE_PG_URL: database.url }), logger);
    try {
      expect(storage.status()).toMatchObject({ storage: 'postgres', mode: 'url', degraded: false, host: '127.0.0.1', user: 'postgres' });
      expect(storage.eventStore.kind).toBe('postgres');
      await storage.eventStore.append('chat-1', [{ type: 'ChatStarted', data: {} }]);
    } finally {
      await storage.close();
    }
    const rows = await withClient(database.url, (client) => client.query('SELECT stream_id FROM events'));
    expect(rows.rows).toEqual([{ stream_id: 'chat-1' }]);
  });

  it('falls back to memory, degraded, when the database cannot be reached', async () => {
    const url = new URL(database.url);
    url.pathname = '/no_such_database_here';
    const storage = await openStorage(loadConfig({ LAKEBASE_PG_URL: url.toString() }), logger);
    try {
      expect(storage.status()).toMatchObject({ storage: 'memory', degraded: true });
    } finally {
      await storage.close();
    }
  });

  it('stops instead when STORAGE_FALLBACK is fail', async () => {
    const url = new URL(database.url);
    url.pathname = '/no_such_database_here';
    await expect(openStorage(loadConfig({ LAKEBASE_PG_URL: url.toString(), STORAGE_FALLBACK: 'fail' }), logger)).rejects.toMatchObject({
      code: 'LAKECHAT_ERR_LAKEBASE_CONNECT_FAILED',
    });
  });

  it('falls back, or stops, when the migrations cannot run (no CREATE privilege)', async () => {
    const role = `no_create_${Math.random().toString(36).slice(2, 8)}`;
    await withClient(database.url, (client) => client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw-${role}'`));
    const url = new URL(database.url);
    url.username = role;
    url.password = `pw-${role}`;
    const degraded = await openStorage(loadConfig({ LAKEBASE_PG_URL: url.toString() }), logger);
    try {
      expect(degraded.status()).toMatchObject({ storage: 'memory', degraded: true, mode: 'url' });
      expect(degraded.status().reason).toMatch(/migration/i);
    } finally {
      await degraded.close();
    }
    await expect(openStorage(loadConfig({ LAKEBASE_PG_URL: url.toString(), STORAGE_FALLBACK: 'fail' }), logger)).rejects.toMatchObject({
      code: 'LAKECHAT_ERR_MIGRATION_FAILED',
    });
  });
});
