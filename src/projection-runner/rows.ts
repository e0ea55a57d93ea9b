import type { CommonQueryMethods, QuerySqlToken } from 'slonik';
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
