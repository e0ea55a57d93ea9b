import { ConnectionError } from 'slonik';
import { errorCodes, isAuthenticationFailure, isConnectionLost } from './lakebase/index.ts';

/**
 * How long a database operation whose connection failed is tried again before its caller sees the
 * failure (DATABASE_RETRY_MS): long enough for a restart or a failover, shorter than a client waits.
 */
export const defaultDatabaseRetryMs = 15_000;

/** Socket codes and SQLSTATEs of a database that cannot be reached right now (restarting, failing over). */
const unreachableCodes = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '08001', '08004', '53300']);

/** The innermost SQLSTATE or socket code of a failure, for logs (never its message). */
export function failureCode(error: unknown): string | null {
  return errorCodes(error).at(-1) ?? null;
}

/** An SQLSTATE that is the server's answer, not the connection's state (classes 08, 53 and 57 are the latter). */
const isAnswer = (code: string): boolean => /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57)/.test(code);

/**
 * A failure of the connection, not of the statement: the server dropped the connection or could not
 * take it (57P01, 57P03, 08006, resets...), could not be reached, closed it while it was being opened
 * (a restart, a proxy with no server behind it), or refused the token on an open connection. Not a
 * refused login (the token login already tried a new token), nor any other answer of the server.
 */
export function isTransientDatabaseFailure(error: unknown): boolean {
  if (isConnectionLost(error)) return true;
  if (isAuthenticationFailure(error)) return !(error instanceof ConnectionError);
  const found = errorCodes(error);
  if (found.some((code) => unreachableCodes.has(code))) return true;
  // Slonik could not get a connection (nothing was sent): worth another try unless the server said why.
  return error instanceof ConnectionError && !found.some(isAnswer);
}

export interface RetryOptions {
  /** Date.now() after which the last failure is final. */
  deadline: number;
  /** Whether this failure may be retried (default: isTransientDatabaseFailure). */
  retryable?: (error: unknown) => boolean;
  /** Called before each new try. */
  onRetry?: (error: unknown, attempt: number) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `operation` until it succeeds, fails for another reason, or the deadline passes. The first
 * retry is immediate (a dropped connection is usually replaced at once); then 25 ms doubling up to
 * 1 s, with jitter so that the callers of a whole pool do not come back in step; the last try is
 * made at the deadline.
 */
export async function retryTransient<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  const retryable = options.retryable ?? isTransientDatabaseFailure;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      const remaining = options.deadline - Date.now();
      if (remaining <= 0 || !retryable(error)) throw error;
      options.onRetry?.(error, attempt);
      const delay = attempt === 1 ? 0 : Math.min(25 * 2 ** (attempt - 2), 1_000) * (0.5 + Math.random() / 2);
      if (delay > 0) await sleep(Math.min(delay, remaining));
    }
  }
}

/** What a pool wrapped with retries (src/lakebase/retrying-pool.ts) tells the code that retries by itself. */
export interface DatabaseRetry {
  /** DATABASE_RETRY_MS. */
  forMs: number;
  /** The same pool without the wrapper's retries. */
  unretried: object;
}

const retries = new WeakMap<object, DatabaseRetry>();

export function rememberDatabaseRetry(wrapped: object, retry: DatabaseRetry): void {
  retries.set(wrapped, retry);
}

/**
 * The retry policy of a pool, if it retries. The event store's appends retry by themselves, because
 * only they know what a lost answer means: a retried INSERT whose first try committed must be
 * answered as that first try, not as somebody else's duplicate.
 */
export function databaseRetryOf(pool: object): DatabaseRetry | undefined {
  return retries.get(pool);
}
