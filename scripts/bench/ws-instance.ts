import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createPool } from 'slonik';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { eventStorePoolConfiguration, PostgresEventStore } from '../../src/event-store/index.ts';
import { createLogger } from '../../src/logger.ts';

/**
 * One lakechat instance for the `ws` benchmark, configured as src/storage.ts would (pool of 10,
 * default polling and notification intervals), with the limits a benchmark would trip raised. Run
 * with `--child DATABASE_URL` it is a separate instance in its own process, as in production, and
 * sends its WebSocket URL to its parent.
 */
export interface BenchInstance {
  app: FastifyInstance;
  store: PostgresEventStore;
  url: string;
  close(): Promise<void>;
}

export const benchSendBufferBytes = 256 * 1024;

export async function startBenchInstance(databaseUrl: string): Promise<BenchInstance> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    WS_MAX_CONNECTIONS_PER_USER: '5000',
    WS_POSTS_PER_SECOND: '0',
    // The bench's few users hold 1,000 subscriptions and post for all: no per-user budget.
    WS_USER_SUBSCRIBES_PER_SECOND: '0',
    WS_USER_POSTS_PER_SECOND: '0',
    WS_SEND_BUFFER_BYTES: String(benchSendBufferBytes),
    PROJECTIONS_IN_APPEND: process.env.PROJECTIONS_IN_APPEND ?? 'true',
  });
  const logger = createLogger({ level: 'silent' });
  const pool = await createPool(databaseUrl, eventStorePoolConfiguration({ maxPoolSize: 10, idleInTransactionTimeoutMs: 10_000 }));
  const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: databaseUrl }), logger, instanceId: randomUUID() });
  const app = await buildApp({
    config,
    logger,
    storage: {
      eventStore: store,
      pool,
      status: () => ({ storage: 'postgres', mode: 'url', degraded: false, host: null, user: null, database: null, tokenExpiresAt: null }),
      close: async () => undefined,
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    app,
    store,
    url: `ws://127.0.0.1:${port}/ws`,
    async close() {
      await app.close();
      await store.close();
      await pool.end();
    },
  };
}

if (process.argv[2] === '--child' && process.send !== undefined) {
  const instance = await startBenchInstance(process.argv[3]!);
  process.send({ url: instance.url });
  process.on('disconnect', () => {
    void instance.close().finally(() => process.exit(0));
  });
}
