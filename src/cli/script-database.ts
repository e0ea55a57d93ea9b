import { randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import type { Config } from '../config.ts';
import { LakechatError } from '../errors.ts';
import { eventStorePoolConfiguration, PostgresEventStore, readStoreIdentity, sqlState } from '../event-store/index.ts';
import { createLakebasePool, detectMode, resolveConnection } from '../lakebase/index.ts';
import type { Logger } from '../logger.ts';
import { migrateLakebase } from '../migrate.ts';

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
 * Opens the configured database for a script, in whichever connection mode the server would use (a
 * URL, the PG* variables, a Lakebase instance or endpoint with a fresh token), with no fallback: a
 * script on the in-memory store would see nothing.
 */
export async function openScriptDatabase(config: Config, logger: Logger, options: OpenScriptDatabaseOptions): Promise<ScriptDatabase> {
  if (detectMode(config.env).mode === 'memory') throw new LakechatError('LAKECHAT_ERR_REPLAY_NEEDS_DATABASE');
  const resolved = await resolveConnection(config);
  const lakebase = await createLakebasePool(resolved, {
    logger,
    poolSize: options.poolSize,
    slowQueryMs: Math.max(config.env.SLOW_QUERY_MS, 60_000),
    poolConfiguration: eventStorePoolConfiguration({
      maxPoolSize: options.poolSize,
      idleInTransactionTimeoutMs: config.env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      statementTimeoutMs: options.statementTimeoutMs ?? 60 * 60_000,
    }),
  });
  try {
    if (options.migrate) await migrateLakebase(lakebase, logger);
    // Cursors the scripts print name the store, as the server's do (bare on a database not yet migrated).
    const storeId = await readStoreIdentity(lakebase.pool).catch((error: unknown) => {
      if (sqlState(error) === '42P01') return undefined;
      throw error;
    });
    const store = new PostgresEventStore({
      pool: lakebase.pool,
      listenerConfig: () => lakebase.listenerConfig(),
      logger,
      instanceId: randomUUID(),
      ...(storeId === undefined ? {} : { storeId }),
    });
    return {
      pool: lakebase.pool,
      store,
      close: async () => {
        await store.close();
        await lakebase.close();
      },
    };
  } catch (error) {
    await lakebase.close().catch(() => undefined);
    throw error;
  }
}
