import type { CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { selectRows } from '../projection-runner/index.ts';
import { ddl, qualified, quoteIdent } from './ddl.ts';
import type { TableDefinition } from './table-definition.ts';

/** What replacing a live table by its rebuilt twin would change. */
export interface TableDiff {
  table: string;
  /** Rows the rebuilt table has and the live one lacks (by primary key). */
  added: number;
  /** Rows the live table has and the rebuilt one lacks. */
  removed: number;
  /** Rows both have, with different values in some column. */
  changed: number;
  /** Rows in each, for scale. */
  liveRows: number;
  rebuiltRows: number;
}

const counts = z.object({
  added: z.coerce.number(),
  removed: z.coerce.number(),
  changed: z.coerce.number(),
  live_rows: z.coerce.number(),
  rebuilt_rows: z.coerce.number(),
});

/**
 * Compares a rebuilt table with the live one, row by row, by primary key; every column compared with
 * IS DISTINCT FROM (jsonb by value, NULL equal to NULL). A table without a primary key is compared as
 * a multiset of rows: a changed row counts as one removed and one added.
 */
export async function diffTables(db: CommonQueryMethods, live: TableDefinition, rebuilt: { schema: string; name: string }): Promise<TableDiff> {
  const l = qualified(live.schema, live.name);
  const r = qualified(rebuilt.schema, rebuilt.name);
  const query =
    live.primaryKey.length > 0
      ? (() => {
          const on = live.primaryKey.map((column) => `r.${quoteIdent(column)} = l.${quoteIdent(column)}`).join(' AND ');
          const first = quoteIdent(live.primaryKey[0]!);
          return `SELECT
              count(*) FILTER (WHERE l.${first} IS NULL) AS added,
              count(*) FILTER (WHERE r.${first} IS NULL) AS removed,
              count(*) FILTER (WHERE l.${first} IS NOT NULL AND r.${first} IS NOT NULL AND ROW(r.*) IS DISTINCT FROM ROW(l.*)) AS changed,
              count(l.${first}) AS live_rows, count(r.${first}) AS rebuilt_rows
            FROM ${r} AS r FULL JOIN ${l} AS l ON ${on}`;
        })()
      : `SELECT (SELECT count(*) FROM (SELECT * FROM ${r} EXCEPT ALL SELECT * FROM ${l}) AS a) AS added,
                (SELECT count(*) FROM (SELECT * FROM ${l} EXCEPT ALL SELECT * FROM ${r}) AS b) AS removed,
                0 AS changed, (SELECT count(*) FROM ${l}) AS live_rows, (SELECT count(*) FROM ${r}) AS rebuilt_rows`;
  const [row] = await selectRows(db, counts, ddl(query));
  return { table: live.name, added: row!.added, removed: row!.removed, changed: row!.changed, liveRows: row!.live_rows, rebuiltRows: row!.rebuilt_rows };
}
