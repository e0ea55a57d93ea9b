import type { DatabasePool } from 'slonik';
import { defaultDatabaseRetryMs, isTransientDatabaseFailure, rememberDatabaseRetry, retryTransient } from '../database-retry.ts';
import type { Logger } from '../logger.ts';
import { databaseErrorCode } from './database-errors.ts';

const implicitQueries = new Set<PropertyKey>(['any', 'anyFirst', 'exists', 'many', 'manyFirst', 'maybeOne', 'maybeOneFirst', 'one', 'oneFirst', 'query']);
const withHandler = new Set<PropertyKey>(['connect', 'transaction', 'stream']);

/**
 * The pool, retrying on a new connection for up to `retryForMs` (DATABASE_RETRY_MS) when the
 * connection failed: the server dropped it (57P01, 57P03, 08006, 08003, 08000...), could not be
 * reached (a restart, a failover), or refused the token. Only where it is safe: a single query
 * outside a transaction, or a transaction, `connect` or `stream` whose handler had not started (the
 * failure was in getting the connection). A failure inside a handler is not retried here: its work
 * may have happened, or committed (the projection runner retries its batches itself). A single
 * statement that writes may have committed too: the event store's appends bypass this wrapper and
 * retry by themselves (src/event-store/postgres/group-committer.ts); a projection batch in one
 * statement checks its checkpoints, so a second run writes nothing.
 */
export function withRetries(pool: DatabasePool, logger: Logger, retryForMs = defaultDatabaseRetryMs): DatabasePool {
  function retried<T>(operation: () => Promise<T>, safe: () => boolean): Promise<T> {
    return retryTransient(operation, {
      deadline: Date.now() + retryForMs,
      retryable: (error) => isTransientDatabaseFailure(error) && safe(),
      onRetry: (error, attempt) => {
        const line = { code: databaseErrorCode(error) ?? null, attempt, retryForMs };
        if (attempt === 1) logger.warn(line, 'retrying a database operation on a new connection');
        else logger.debug(line, 'retrying a database operation on a new connection');
      },
    });
  }

  const wrapped = new Proxy(pool, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (implicitQueries.has(property)) {
        return (...args: unknown[]) =>
          retried(
            () => method.apply(target, args),
            () => true,
          );
      }
      if (withHandler.has(property)) {
        // connect(handler), transaction(handler, limit), stream(query, handler).
        const handlerIndex = property === 'stream' ? 1 : 0;
        return (...args: unknown[]) => {
          let started = false;
          const handler = args[handlerIndex] as (...handlerArgs: unknown[]) => unknown;
          const tracked = [...args];
          tracked[handlerIndex] = (...handlerArgs: unknown[]) => {
            started = true;
            return handler(...handlerArgs);
          };
          return retried(
            () => method.apply(target, tracked),
            () => !started,
          );
        };
      }
      return method.bind(target);
    },
  });
  rememberDatabaseRetry(wrapped, { forMs: retryForMs, unretried: pool });
  return wrapped;
}
