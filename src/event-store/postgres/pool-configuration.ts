import type { ClientConfigurationInput, Interceptor } from 'slonik';

export interface EventStorePoolSettings {
  maxPoolSize: number;
  /** PostgreSQL ends a session idle inside a transaction this long (idle_in_transaction_session_timeout). */
  idleInTransactionTimeoutMs: number;
  statementTimeoutMs?: number;
  /** Run the statements marked `prepared()` as named prepared statements (default true). */
  preparedStatements?: boolean;
}

/** Sends every statement unnamed: for poolers that cannot keep a prepared statement between transactions. */
const withoutPreparedStatements: Interceptor = {
  name: 'lakechat.withoutPreparedStatements',
  transformQuery: (_context, query) => (query.name === undefined ? query : { sql: query.sql, values: query.values }),
};

/**
 * Slonik settings for a pool the event store runs on; the Lakebase connection code spreads these
 * into its own createPool call (adding the token-refreshing password).
 */
export function eventStorePoolConfiguration(settings: EventStorePoolSettings): ClientConfigurationInput {
  return {
    maxPoolSize: settings.maxPoolSize,
    // A transaction left open holds every reader of the log back (see docs/architecture.md):
    // PostgreSQL ends such sessions after this long.
    idleInTransactionSessionTimeout: settings.idleInTransactionTimeoutMs,
    statementTimeout: settings.statementTimeoutMs ?? 60_000,
    // Slonik runs DISCARD ALL at every release by default: one more round trip per query, and it
    // would drop the prepared statements the driver believes the connection still has. The store
    // leaves no other session state behind (no SET, temp tables), so skip it.
    resetConnection: async () => {},
    interceptors: settings.preparedStatements === false ? [withoutPreparedStatements] : [],
  };
}
