import { ConnectionError, type DatabasePool } from 'slonik';
import type { Logger } from '../logger.ts';
import { databaseErrorCode, isAuthenticationFailure, isConnectionLost } from './database-errors.ts';

const implicitQueries = new Set<PropertyKey>([
  'any',
  'anyFirst',
  'exists',
  'many',
  'manyFirst',
  'maybeOne',
  'maybeOneFirst',
  'one',
  'oneFirst',
  'query',
]);
const withHandler = new Set<PropertyKey>(['connect', 'transaction', 'stream']);

/** Worth one more try: a dropped connection, or a token refused on an open connection. */
function retryable(error: unknown): boolean {
  if (isConnectionLost(error)) return true;
  // A refused login was already retried with a new token by the driver (token-login.ts).
  return isAuthenticationFailure(error) && !(error instanceof ConnectionError);
}

/**
 * The pool with one retry on a new connection when the server dropped the connection (57P01, 57P03,
 * 08006, 08003, 08000...) or refused the token. Only where it is safe: a single query outside a
 * transaction, or a transaction, `connect` or `stream` whose handler had not started (the failure
 * was in getting the connection). A failure inside a handler is not retried: its work may have
 * happened, or committed.
 */
export function withOneRetry(pool: DatabasePool, logger: Logger): DatabasePool {
  async function once<T>(operation: () => Promise<T>, safe: () => boolean): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (!retryable(error) || !safe()) throw error;
      logger.warn({ code: databaseErrorCode(error) ?? null }, 'retrying a database operation once on a new connection');
      return await operation();
    }
  }

  return new Proxy(pool, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (implicitQueries.has(property)) {
        return (...args: unknown[]) => once(() => method.apply(target, args), () => true);
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
          return once(() => method.apply(target, tracked), () => !started);
        };
      }
      return method.bind(target);
    },
  });
}
