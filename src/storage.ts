import { randomUUID } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import type { Config } from './config.ts';
import { isLakechatError, LakechatError } from './errors.ts';
import { assertLogNotCopied, createPostgresEventStore, type EventStore, eventStorePoolConfiguration, MemoryEventStore, type RecordedEvent, type VisibilityLag } from './event-store/index.ts';
import { type FallbackStatus, fallbackStorage } from './fallback/index.ts';
import {
  type Clock,
  type ConnectionMode,
  createLakebasePool,
  describeDatabaseError,
  detectMode,
  type LakebasePool,
  type ResolvedConnection,
  resolveConnection,
  type TokenStatus,
  type WorkspaceClient,
} from './lakebase/index.ts';
import type { Logger } from './logger.ts';
import { migrateLakebase } from './migrate.ts';
import type { OpenProjectionsOptions, Projections } from './projection-runner/index.ts';

/** How the app keeps its events, and why: reported by /health and logged at start-up. Never a secret. */
export interface StorageStatus {
  storage: 'postgres' | 'memory';
  /** Which connection mode is configured: url, pg-env, instance, endpoint, or memory when none is. */
  mode: ConnectionMode | 'memory';
  /** True when a database was configured but the app fell back to memory. */
  degraded: boolean;
  reason?: string;
  host: string | null;
  user: string | null;
  database: string | null;
  /** When the database token expires (it is refreshed before); null for a fixed password or memory. */
  tokenExpiresAt: string | null;
  /** Present when the instance started on the memory fallback: the retries, and the switch once made. */
  fallback?: FallbackStatus;
}

export interface Storage {
  readonly eventStore: EventStore;
  /** The PostgreSQL store's pool: the read models live in the same database. Absent in memory. */
  readonly pool?: DatabasePool;
  /** How far the log's readers are held behind its writers by open transactions. Absent in memory. */
  readerLag?(): Promise<VisibilityLag>;
  status(): StorageStatus;
  /** The database token's refreshes and failures (for /metrics); absent in memory or with a fixed password. */
  tokenStatus?(): TokenStatus | null;
  /** Opens the read models itself (the memory fallback, whose read models move to PostgreSQL at the switch). */
  openProjections?(options: OpenProjectionsOptions): Promise<Projections>;
  /** Work to do once the instance has switched from its memory fallback to PostgreSQL (the memory fallback only). */
  onSwitch?(work: (pool: DatabasePool) => Promise<void>): void;
  /** What each event of the memory log is forwarded to PostgreSQL as at the switch (the memory fallback only). */
  forwardAs?(form: (event: RecordedEvent) => Promise<RecordedEvent>): void;
  close(): Promise<void>;
}

/** For tests: a clock for the token provider, or an SDK client. */
export interface StorageDependencies {
  clock?: Clock;
  workspace?: WorkspaceClient;
}

function memoryStorage(config: Config, logger: Logger, status: StorageStatus): Storage {
  const eventStore = new MemoryEventStore({ logger, pollIntervalMs: config.env.EVENT_POLL_INTERVAL_MS });
  return { eventStore, status: () => status, close: () => eventStore.close() };
}

/** Why the database could not be used, in one line: the catalogued message and the driver's. */
function reasonOf(error: unknown): string {
  if (!isLakechatError(error)) return describeDatabaseError(error);
  if (error.cause === undefined) return error.message;
  const cause = describeDatabaseError(error.cause);
  return error.message.includes(cause) ? error.message : `${error.message}: ${cause}`;
}

async function openPostgres(config: Config, logger: Logger, lakebase: LakebasePool): Promise<Storage> {
  await migrateLakebase(lakebase, logger);
  const eventStore = await createPostgresEventStore({
    pool: lakebase.pool,
    listenerConfig: () => lakebase.listenerConfig(),
    logger,
    pollIntervalMs: config.env.EVENT_POLL_INTERVAL_MS,
    notifyIntervalMs: config.env.EVENT_NOTIFY_INTERVAL_MS,
    instanceId: randomUUID(),
  });
  await assertLogNotCopied(lakebase.pool);
  return {
    eventStore,
    pool: lakebase.pool,
    readerLag: () => eventStore.visibilityLag(),
    tokenStatus: () => lakebase.tokens?.status() ?? null,
    status: () => {
      const connection = lakebase.status();
      return {
        storage: 'postgres',
        mode: connection.mode,
        degraded: false,
        host: connection.host,
        user: connection.user,
        database: connection.database,
        tokenExpiresAt: connection.tokenExpiresAt,
      };
    },
    close: async () => {
      await eventStore.close();
      await lakebase.close();
    },
  };
}

/**
 * Opens the event store the configuration asks for. No database configured: memory, with a loud
 * warning. A database configured but unreachable at start-up (or its migrations failing): memory,
 * degraded, with the reason logged and in /health; or, with STORAGE_FALLBACK=fail, an error (the
 * server exits non-zero).
 */
export async function openStorage(config: Config, logger: Logger, dependencies: StorageDependencies = {}): Promise<Storage> {
  const decision = detectMode(config.env);
  if (decision.mode === 'memory') {
    logger.warn({ storage: 'memory', mode: 'memory' }, `No database configured (${decision.reason}): events live in memory and are lost on restart`);
    const status: StorageStatus = {
      storage: 'memory',
      mode: 'memory',
      degraded: false,
      reason: 'no database configured',
      host: null,
      user: null,
      database: null,
      tokenExpiresAt: null,
    };
    return memoryStorage(config, logger, status);
  }
  if (decision.ignored.length > 0) {
    logger.warn({ mode: decision.mode, ignored: decision.ignored }, 'LAKEBASE_PG_URL is set, so these variables are ignored');
  }
  logger.info({ mode: decision.mode, reason: decision.reason }, 'connecting to the database');

  let resolved: ResolvedConnection | undefined;
  const connect = async (): Promise<Storage> => {
    resolved = await resolveConnection(config, dependencies.workspace === undefined ? {} : { workspace: dependencies.workspace });
    let lakebase: LakebasePool | undefined;
    try {
      lakebase = await createLakebasePool(resolved, {
        logger,
        poolSize: config.env.DATABASE_POOL_SIZE,
        slowQueryMs: config.env.SLOW_QUERY_MS,
        poolConfiguration: eventStorePoolConfiguration({
          maxPoolSize: config.env.DATABASE_POOL_SIZE,
          idleInTransactionTimeoutMs: config.env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
          preparedStatements: config.env.DATABASE_PREPARED_STATEMENTS,
        }),
        ...(dependencies.clock === undefined ? {} : { clock: dependencies.clock }),
      });
      return await openPostgres(config, logger, lakebase);
    } catch (error) {
      await lakebase?.close().catch(() => {});
      throw error;
    }
  };
  try {
    const storage = await connect();
    const { host, user, database, tokenExpiresAt } = storage.status();
    logger.info({ storage: 'postgres', mode: decision.mode, host, user, database, tokenExpiresAt }, 'event store on PostgreSQL');
    return storage;
  } catch (error) {
    // A copied log is not an outage: falling back to memory would hide it. Refuse to start.
    if (isLakechatError(error, 'LAKECHAT_ERR_STORE_COPIED_LOG')) {
      logger.fatal({ err: error }, error.message);
      throw error;
    }
    const reason = reasonOf(error);
    const where = { mode: decision.mode, host: resolved?.host ?? null, user: resolved?.user ?? null };
    if (config.env.STORAGE_FALLBACK === 'fail') {
      logger.fatal({ err: error, ...where }, `The database is unavailable at start-up and STORAGE_FALLBACK=fail: ${reason}`);
      throw isLakechatError(error) ? error : new LakechatError('LAKECHAT_ERR_LAKEBASE_CONNECT_FAILED', reason, { cause: error });
    }
    logger.error(
      { err: error, storage: 'memory', ...where },
      `The database is unavailable at start-up; falling back to in-memory storage until it answers (retried with backoff; the events accepted meanwhile are then forwarded to it; STORAGE_FALLBACK=fail exits instead): ${reason}`,
    );
    return fallbackStorage({
      config,
      logger,
      connect,
      describe: reasonOf,
      status: {
        storage: 'memory',
        mode: decision.mode,
        degraded: true,
        reason,
        host: where.host,
        user: where.user,
        database: resolved?.database ?? null,
        tokenExpiresAt: null,
      },
    });
  }
}
