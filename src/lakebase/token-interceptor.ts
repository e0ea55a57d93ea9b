import type { Interceptor } from 'slonik';
import type { Logger } from '../logger.ts';
import { databaseErrorCode, isAuthenticationFailure, isConnectionLost } from './database-errors.ts';

/**
 * Watches query failures: a connection the server closed is logged, and the pool wrapper
 * (retrying-pool.ts) retries the operation once when that is safe. (An authentication failure on an
 * open connection drops that connection's own token: see token-login.ts.)
 */
export function createTokenInterceptor(logger: Logger): Interceptor {
  return {
    name: 'lakechat.token',
    queryExecutionError(context, _query, error) {
      // An authentication failure is handled by the connection itself (token-login.ts), which knows
      // the token it logged in with: dropping whatever is cached here would throw a fresh one away.
      if (isConnectionLost(error) && !isAuthenticationFailure(error)) {
        logger.warn({ connectionId: context.connectionId, transactionId: context.transactionId, code: databaseErrorCode(error) ?? null }, 'the database closed a connection during a query');
      }
      return null;
    },
  };
}
