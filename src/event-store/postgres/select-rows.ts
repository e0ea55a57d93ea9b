import type { CommonQueryMethods, QuerySqlToken } from 'slonik';
import type { z } from 'zod';

/**
 * Runs a query and parses its rows with `schema`, here rather than in a Slonik result-parser
 * interceptor: the pool comes from the caller (the Lakebase connection code), and the store must
 * read int8, xid8 and timestamptz the same whatever type parsers and interceptors that pool has.
 */
export async function selectRows<S extends z.ZodType>(db: CommonQueryMethods, schema: S, query: QuerySqlToken): Promise<z.output<S>[]> {
  const { rows } = await db.query(query);
  const parsed: z.output<S>[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) parsed[i] = schema.parse(rows[i]);
  return parsed;
}
