import { sql, type CommonQueryMethods, type IdentifierSqlToken } from 'slonik';
import { z } from 'zod';
import { selectRows } from '../../projections/rows.ts';

export interface RowWriterOptions {
  /** The columns each row object holds (by their table names), in any order. */
  columns: readonly string[];
  /** The primary key's columns: the conflict target. */
  key: readonly string[];
  /** What a row whose key exists does: replaces the stored one, or is dropped. */
  onConflict: 'replace' | 'ignore';
}

export type RowWriter = (db: CommonQueryMethods, rows: readonly Record<string, unknown>[]) => Promise<void>;

const columnType = z.object({ name: z.string(), type: z.string(), simple: z.boolean() });

/** The table's name as regclass input text. */
export function qualifiedName(table: IdentifierSqlToken): string {
  return table.names.map((name) => `"${name.replaceAll('"', '""')}"`).join('.');
}

/**
 * Writes rows into `table` with one statement, each column sent as one array of its own type and
 * unnested (PostgreSQL reads arrays of plain values about three times faster than the same rows as
 * JSON). The column types come from the catalog on first use, so this code knows only the names.
 * Values are the JSON forms: strings, numbers, booleans, null; objects and arrays for json columns.
 */
export function rowWriter(table: IdentifierSqlToken, options: RowWriterOptions): RowWriter {
  let types: Map<string, { type: string; simple: boolean }> | undefined;
  const columns = sql.join(options.columns.map((column) => sql.identifier([column])), sql.fragment`, `);
  const key = sql.join(options.key.map((column) => sql.identifier([column])), sql.fragment`, `);
  const rest = options.columns.filter((column) => !options.key.includes(column));
  const conflict =
    options.onConflict === 'ignore' || rest.length === 0
      ? sql.fragment`DO NOTHING`
      : sql.fragment`DO UPDATE SET (${sql.join(rest.map((column) => sql.identifier([column])), sql.fragment`, `)}) =
          ROW(${sql.join(rest.map((column) => sql.fragment`EXCLUDED.${sql.identifier([column])}`), sql.fragment`, `)})`;

  return async (db, rows) => {
    if (rows.length === 0) return;
    types ??= await readColumnTypes(db, table);
    const known = types;
    const simple = options.columns.every((column) => known.get(column)?.simple === true);
    if (!simple) {
      // A column of an array or non-catalog type: JSON carries any value PostgreSQL can convert.
      await db.query(sql.unsafe`
        INSERT INTO ${table} (${columns})
        SELECT ${columns} FROM json_populate_recordset(NULL::${table}, ${JSON.stringify(rows)}::json)
        ON CONFLICT (${key}) ${conflict}`);
      return;
    }
    const arrays = options.columns.map((column) => {
      const { type } = known.get(column)!;
      const json = type === 'json' || type === 'jsonb';
      const values = rows.map((row) => {
        const value = row[column];
        if (value === undefined || value === null) return null;
        return json ? JSON.stringify(value) : (value as string | number | boolean);
      });
      return sql.array(values, type);
    });
    await db.query(sql.unsafe`
      INSERT INTO ${table} (${columns})
      SELECT * FROM unnest(${sql.join(arrays, sql.fragment`, `)})
      ON CONFLICT (${key}) ${conflict}`);
  };
}

async function readColumnTypes(db: CommonQueryMethods, table: IdentifierSqlToken): Promise<Map<string, { type: string; simple: boolean }>> {
  const rows = await selectRows(db, columnType, sql.unsafe`
    SELECT a.attname AS name, t.typname AS type,
      (t.typnamespace = 'pg_catalog'::regnamespace AND t.typcategory <> 'A') AS simple
    FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid
    WHERE a.attrelid = ${qualifiedName(table)}::regclass AND a.attnum > 0 AND NOT a.attisdropped`);
  return new Map(rows.map((row) => [row.name, { type: row.type, simple: row.simple }]));
}

/** A timestamp as a JSON value PostgreSQL reads back to the same microsecond. */
export function isoTime(value: Date | number | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
