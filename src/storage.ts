import { randomUUID } from 'node:crypto';
import { createPool, type DatabasePool } from 'slonik';
import type { Config } from './config.ts';
import {
  createPostgresEventStore,
  eventStorePoolConfiguration,
  MemoryEventStore,
  type EventStore,
} from './event-store/index.ts';
import type { Logger } from './logger.ts';
import { runMigrations } from './migrate.ts';

/** How the app keeps its events, and why: reported by /health and logged at start-up. */
export interface StorageStatus {
  storage: 'postgres' | 'memory';
  /** Which connection mode resolved: url, pg-env, instance, endpoint, or memory when none did. */
  mode: 'url' | 'pg-env' | 'instance' | 'endpoint' | 'memory';
  /** True when a database was configured but the app fell back to memory. */
  degraded: boolean;
  reason?: string;
}

export interface Storage {
  readonly eventStore: EventStore;
  /** The PostgreSQL store's pool: the read models live in the same database. Absent in memory. */
  readonly pool?: DatabasePool;
  status(): StorageStatus;
  close(): Promise<void>;
}

function memoryStorage(config: Config, logger: Logger, status: StorageStatus): Storage {
  const eventStore = new MemoryEventStore({ logger, pollIntervalMs: config.env.EVENT_POLL_INTERVAL_MS });
  return { eventStore, status: () => status, close: () => eventStore.close() };
}

/**
 * Until the Lakebase connection resolver lands, a PostgreSQL URL (LAKEBASE_PG_URL) is the only
 * way to a database: migrate it, then run the event store on a Slonik pool and a LISTEN client.
 */
async function openPostgresFromUrl(config: Config, logger: Logger, url: string): Promise<Storage> {
  await runMigrations({ connectionString: url }, logger);
  const pool = await createPool(
    url,
    eventStorePoolConfiguration({
      maxPoolSize: config.env.DATABASE_POOL_SIZE,
      idleInTransactionTimeoutMs: config.env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    }),
  );
  try {
    const eventStore = await createPostgresEventStore({
      pool,
      listenerConfig: async () => ({ connectionString: url }),
      logger,
      pollIntervalMs: config.env.EVENT_POLL_INTERVAL_MS,
      notifyIntervalMs: config.env.EVENT_NOTIFY_INTERVAL_MS,
      instanceId: randomUUID(),
    });
    const status: StorageStatus = { storage: 'postgres', mode: 'url', degraded: false };
    return {
      eventStore,
      pool,
      status: () => status,
      close: async () => {
        await eventStore.close();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/** Opens the event store the configuration asks for; memory when no database is configured. */
export async function openStorage(config: Config, logger: Logger): Promise<Storage> {
  const url = config.env.LAKEBASE_PG_URL;
  if (url !== undefined) {
    try {
      const storage = await openPostgresFromUrl(config, logger, url);
      logger.info({ storage: 'postgres', mode: 'url' }, 'event store on PostgreSQL');
      return storage;
    } catch (error) {
      if (config.env.STORAGE_FALLBACK === 'fail') throw error;
      logger.error({ err: error, storage: 'memory' }, 'PostgreSQL unavailable; falling back to memory (STORAGE_FALLBACK=memory): events are lost on restart');
      return memoryStorage(config, logger, { storage: 'memory', mode: 'memory', degraded: true, reason: 'database unavailable at start-up' });
    }
  }
  logger.warn(
    { storage: 'memory' },
    'No database configured (LAKEBASE_PG_URL, PGHOST or LAKEBASE_INSTANCE_NAME): events live in memory and are lost on restart',
  );
  return memoryStorage(config, logger, { storage: 'memory', mode: 'memory', degraded: false, reason: 'no database configured' });
}
