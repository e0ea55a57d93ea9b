import { sql, type CommonQueryMethods, type FragmentSqlToken, type QuerySqlToken } from 'slonik';
import type { z } from 'zod';

/**
 * Rows checked (and shaped) by a zod schema at the boundary. Slonik only does that with a result
 * parser interceptor, which the pool may not have, so read models parse their rows themselves.
 */
export async function selectRows<S extends z.ZodType>(db: CommonQueryMethods, schema: S, query: QuerySqlToken): Promise<z.output<S>[]> {
  const rows = await db.any(query);
  return rows.map((row) => schema.parse(row));
}

export async function selectRow<S extends z.ZodType>(db: CommonQueryMethods, schema: S, query: QuerySqlToken): Promise<z.output<S> | null> {
  const row = await db.maybeOne(query);
  return row === null ? null : schema.parse(row);
}

/**
 * A timestamp column read as the ISO 8601 text the API returns (`2026-06-15T12:00:00.000Z`): formatted
 * once by PostgreSQL instead of parsed into a Date and formatted again for every row of every read.
 */
export function isoTimestamp(column: string): FragmentSqlToken {
  return sql.fragment`to_char(${sql.identifier([column])} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${sql.identifier([column])}`;
}
