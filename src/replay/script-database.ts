import { randomUUID } from 'node:crypto';
import { createPool, type DatabasePool } from 'slonik';
import type { Config } from '../config.ts';
import { LakechatError } from '../errors.ts';
import { eventStorePoolConfiguration, PostgresEventStore } from '../event-store/index.ts';
import type { Logger } from '../logger.ts';
import { runMigrations } from '../migrate.ts';

/** The database a script works on: a pool, the event store on it, and a way to close both. */
export interface ScriptDatabase {
  pool: DatabasePool;
  store: PostgresEventStore;
  close(): Promise<void>;
}

export interface OpenScriptDatabaseOptions {
  /** Connections: a rebuild holds one for its locks and works on a few more at once. */
  poolSize: number;
  /** Apply the migrations first (a rebuild needs its progress table; a replay only reads). */
  migrate: boolean;
  /** Statements may run this long (index builds on big tables take minutes). */
  statementTimeoutMs?: number;
}

/**
 * Opens the configured PostgreSQL database for a script. Until the scripts share the server's
 * Lakebase connection resolver, a URL (LAKEBASE_PG_URL) is how they reach it.
 */
export async function openScriptDatabase(config: Config, logger: Logger, options: OpenScriptDatabaseOptions): Promise<ScriptDatabase> {
  const url = config.env.LAKEBASE_PG_URL;
  if (url === undefined) throw new LakechatError('LAKECHAT_ERR_REPLAY_NEEDS_DATABASE');
  if (options.migrate) await runMigrations({ connectionString: url }, logger);
  const pool = await createPool(
    url,
    eventStorePoolConfiguration({
      maxPoolSize: options.poolSize,
      idleInTransactionTimeoutMs: config.env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      statementTimeoutMs: options.statementTimeoutMs ?? 60 * 60_000,
    }),
  );
  const store = new PostgresEventStore({ pool, listenerConfig: async () => ({ connectionString: url }), logger, instanceId: randomUUID() });
  return {
    pool,
    store,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}
