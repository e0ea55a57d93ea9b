/**
 * /health is unauthenticated: it shows states and counts, never where the database is, who logs in
 * to it, or why a login failed (those are in the logs and `npm run doctor`). /ready answers 503 while
 * the instance runs on the memory fallback, so the platform sees it is not whole.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { MemoryEventStore } from '../../src/event-store/index.ts';
import { createLogger } from '../../src/logger.ts';
import type { Storage, StorageStatus } from '../../src/storage.ts';

const fallback: StorageStatus = {
  storage: 'memory',
  mode: 'instance',
  degraded: true,
  reason: 'The database refused the login: password authentication failed for user "svc-lakechat"',
  host: 'instance-1234.database.cloud.databricks.com',
  user: 'svc-lakechat',
  database: 'databricks_postgres',
  tokenExpiresAt: null,
};

describe('/health and /ready', () => {
  let app: FastifyInstance | undefined;
  let store: MemoryEventStore | undefined;
  afterEach(async () => {
    await app?.close();
    await store?.close();
  });

  async function open(status: StorageStatus): Promise<FastifyInstance> {
    store = new MemoryEventStore({ pollIntervalMs: 50 });
    const storage: Storage = { eventStore: store, status: () => status, close: () => store!.close() };
    app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), logger: createLogger({ level: 'silent' }), storage });
    return app;
  }

  it('shows states and counts only: no database host, user, name or login failure reason', async () => {
    const health = await (await open(fallback)).inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'degraded', storage: 'memory', mode: 'instance', degraded: true, projections: { state: 'running' } });
    for (const secret of ['instance-1234', 'svc-lakechat', 'databricks_postgres', 'password authentication']) expect(health.body).not.toContain(secret);
    expect(Object.keys(health.json())).not.toEqual(expect.arrayContaining(['host']));
    expect(health.json()).not.toHaveProperty('user');
    expect(health.json()).not.toHaveProperty('reason');
  });

  it('answers /ready with 503 while the instance runs on the memory fallback, /health staying 200', async () => {
    const ready = await (await open(fallback)).inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { storage: false, migrations: true, projections: true } });
    expect((await app!.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('is ready on memory when no database is configured at all (not a fallback)', async () => {
    const ready = await (await open({ ...fallback, mode: 'memory', degraded: false, host: null, user: null, database: null })).inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { storage: true } });
  });
});
