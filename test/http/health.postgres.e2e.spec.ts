import { sql } from 'slonik';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { withClient } from '../event-store/postgres-support.ts';
import { postgresApp } from './app-under-test.ts';

describe('health and readiness on PostgreSQL', () => {
  let t: Awaited<ReturnType<typeof postgresApp>> | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('is ready with every migration applied and the projections caught up, and reports their lag', async () => {
    t = await postgresApp();
    await t.as('a@x.com', 'POST', '/api/chats');
    const ready = await t.as(null, 'GET', '/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { migrations: true, projections: true } });
    const health = await t.as(null, 'GET', '/health');
    expect(health.json()).toMatchObject({ status: 'ok', storage: 'postgres', projections: { state: 'running', lagEvents: 0 } });
    expect(health.json().readers).toMatchObject({ heldBackEvents: expect.any(Number) });
  });

  it("reports how many events an open transaction holds back from the log's readers", async () => {
    t = await postgresApp();
    await withClient(t.bed.database.url, async (open) => {
      await open.query('BEGIN');
      await open.query('SELECT pg_current_xact_id()');
      const writer = t!.bed.openStore({ pollIntervalMs: 100 });
      await writer.append('held-back', [{ type: 'Noted', data: {} }]);
      await writer.close();
      const health = (await t!.as(null, 'GET', '/health')).json();
      expect(health.readers.heldBackEvents).toBeGreaterThanOrEqual(1);
      expect(health.readers.oldestTransactionMs).toBeGreaterThanOrEqual(0);
      await open.query('ROLLBACK');
    });
  });

  it('is not ready when the database lacks a migration this build ships', async () => {
    t = await postgresApp();
    await t.bed.pool.query(sql.unsafe`DELETE FROM schemaversion WHERE version = (SELECT max(version) FROM schemaversion)`);
    const ready = await t.as(null, 'GET', '/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { migrations: false } });
  });

  it('answers 503, with nothing internal, when the database goes away under a read', async () => {
    t = await postgresApp();
    await t.as('a@x.com', 'POST', '/api/chats', { body: { id: 'c' } });
    const name = t.bed.database.name;
    // The database refuses new connections and loses its open ones, as when Lakebase restarts.
    await withClient(inject('adminDatabaseUrl'), async (admin) => {
      await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    });
    const response = await t.as('a@x.com', 'GET', '/api/chats/c');
    await withClient(inject('adminDatabaseUrl'), (admin) => admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`));
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: { code: 'LAKECHAT_ERR_STORE_UNAVAILABLE', message: 'The event store is unavailable' } });
  });
});
