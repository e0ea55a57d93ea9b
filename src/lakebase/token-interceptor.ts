import type { Interceptor } from 'slonik';
import type { Logger } from '../logger.ts';
import { databaseErrorCode, isAuthenticationFailure, isConnectionLost } from './database-errors.ts';
import type { TokenProvider } from './token-provider.ts';

/**
 * Watches query failures: an authentication failure on an open connection drops the cached token
 * (the retry, or the next login, fetches a new one); a connection the server closed is logged, and
 * the pool wrapper (retrying-pool.ts) retries the operation once when that is safe.
 */
export function createTokenInterceptor(tokens: TokenProvider | undefined, logger: Logger): Interceptor {
  return {
    name: 'lakechat.token',
    queryExecutionError(context, _query, error) {
      if (isAuthenticationFailure(error)) {
        tokens?.invalidate();
      } else if (isConnectionLost(error)) {
        logger.warn(
          { connectionId: context.connectionId, transactionId: context.transactionId, code: databaseErrorCode(error) ?? null },
          'the database closed a connection during a query',
        );
      }
      return null;
    },
  };
}
