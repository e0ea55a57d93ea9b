import type { Interceptor } from 'slonik';
import type { Logger } from '../logger.ts';

const maxSqlLength = 500;

/** The SQL on one line, cut short: enough to recognise the query, never its parameter values. */
function summarise(sql: string): string {
  const oneLine = sql.replace(/\s+/g, ' ').trim();
  return oneLine.length > maxSqlLength ? `${oneLine.slice(0, maxSqlLength)}…` : oneLine;
}

/**
 * Reports queries slower than `slowQueryMs` (SLOW_QUERY_MS) as a pino warning with the SQL text and
 * how many parameters it had; the values stay out of the log, since they are user data.
 */
export function createSlowQueryInterceptor(logger: Logger, slowQueryMs: number): Interceptor {
  return {
    name: 'lakechat.slow-query',
    afterQueryExecution(context, query, result) {
      const started = context.queryInputTime;
      // Slonik stamps queries with process.hrtime.bigint(); the number form is milliseconds.
      const durationMs = typeof started === 'bigint' ? Number(process.hrtime.bigint() - started) / 1e6 : performance.now() - started;
      if (durationMs >= slowQueryMs) {
        logger.warn(
          {
            durationMs: Math.round(durationMs),
            slowQueryMs,
            sql: summarise(query.sql),
            parameterCount: query.values.length,
            rowCount: result.rowCount,
            queryId: context.queryId,
            connectionId: context.connectionId,
          },
          'slow query',
        );
      }
      return null;
    },
  };
}
