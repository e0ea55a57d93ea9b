import { type CommonQueryMethods, type IdentifierSqlToken, type QuerySqlToken, sql } from 'slonik';
import { z } from 'zod';
import { selectRows } from '../../projection-runner/rows.ts';

export interface RowWriterOptions {
  /** The columns written (by their table names), in any order. */
  columns: readonly string[];
  /** The primary key's columns: the conflict target. */
  key: readonly string[];
  /**
   * What a row whose key exists does: replaces the stored one, or is dropped; 'fail' for rows known
   * to be new (a plain INSERT: PostgreSQL skips the conflict check, a third of an insert's cost).
   */
  onConflict: 'replace' | 'ignore' | 'fail';
}

/** Rows as columns: for each column, its values in row order (all the same length). */
export type Columns = Record<string, unknown[]>;

export type RowWriter = (db: CommonQueryMethods, columns: Columns) => Promise<void>;

const columnType = z.object({ name: z.string(), type: z.string(), json: z.boolean() });

/** The table's name as regclass input text. */
export function qualifiedName(table: IdentifierSqlToken): string {
  return table.names.map((name) => `"${name.replaceAll('"', '""')}"`).join('.');
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Writes rows into `table` with one statement. Each column travels as one JSON array (serialized
 * natively by V8, split natively by PostgreSQL's json_array_elements, about twice as fast on both
 * sides as array literals) and is cast to the column's type, read from the catalog on first use: this
 * code knows the names, not the types. Values are JSON values: strings, numbers, booleans, null (SQL
 * NULL, in every column), and objects or arrays for json columns.
 */
export function rowWriter(table: IdentifierSqlToken, options: RowWriterOptions): RowWriter {
  let statement: string[] | undefined;
  const build = async (db: CommonQueryMethods): Promise<string[]> => {
    const types = new Map((await readColumnTypes(db, table)).map((column) => [column.name, column]));
    const target = qualifiedName(table);
    const names = options.columns.map(quote).join(', ');
    // A JSON null is SQL NULL here, as a null parameter is for the handlers (never a jsonb 'null').
    const casts = options.columns
      .map((column) => {
        const { type, json } = types.get(column)!;
        return json ? `CASE WHEN json_typeof(r.${quote(column)}) = 'null' THEN NULL ELSE r.${quote(column)}::${type} END` : `r.${quote(column)}::${type}`;
      })
      .join(', ');
    const rest = options.columns.filter((column) => !options.key.includes(column));
    const conflict =
      options.onConflict === 'fail'
        ? ''
        : options.onConflict === 'ignore' || rest.length === 0
          ? `ON CONFLICT (${options.key.map(quote).join(', ')}) DO NOTHING`
          : `ON CONFLICT (${options.key.map(quote).join(', ')}) DO UPDATE SET (${rest.map(quote).join(', ')}) = ROW(${rest.map((column) => `EXCLUDED.${quote(column)}`).join(', ')})`;
    // The parts of a template literal: the values (one JSON text per column) go between them.
    const parts = [`INSERT INTO ${target} (${names}) SELECT ${casts} FROM ROWS FROM (`];
    options.columns.forEach((column, index) => {
      const open = types.get(column)!.json ? 'json_array_elements(' : 'json_array_elements_text(';
      if (index === 0) parts[0] += open;
      else parts[parts.length - 1] += `::json), ${open}`;
      parts.push('');
    });
    parts[parts.length - 1] += `::json)) AS r(${names}) ${conflict}`;
    return parts;
  };

  return async (db, columns) => {
    const count = columns[options.columns[0]!]?.length ?? 0;
    if (count === 0) return;
    statement ??= await build(db);
    const values = options.columns.map((column) => JSON.stringify(wellFormed(columns[column]!)));
    await db.query(template(statement, values));
  };
}

/** Turns rows into columns. */
export function toColumns(rows: readonly Record<string, unknown>[], columns: readonly string[]): Columns {
  const result: Columns = {};
  for (const column of columns) result[column] = rows.map((row) => row[column] ?? null);
  return result;
}

/** Strings with an unpaired surrogate get U+FFFD in its place, as the driver's UTF-8 encoding gives them. */
function wellFormed(values: unknown[]): unknown[] {
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as WellFormable;
    if (typeof value === 'string' && !value.isWellFormed()) values[i] = value.toWellFormed();
  }
  return values;
}

// ES2024 string methods (Node 20+), not in this project's TypeScript lib.
type WellFormable = string & { isWellFormed(): boolean; toWellFormed(): string };

function template(parts: string[], values: string[]): QuerySqlToken {
  const strings = Object.freeze(Object.assign([...parts], { raw: Object.freeze([...parts]) })) as unknown as TemplateStringsArray;
  return sql.unsafe(strings, ...values);
}

async function readColumnTypes(db: CommonQueryMethods, table: IdentifierSqlToken): Promise<z.output<typeof columnType>[]> {
  return selectRows(
    db,
    columnType,
    sql.unsafe`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.atttypid IN ('json'::regtype, 'jsonb'::regtype) AS json
    FROM pg_attribute AS a
    WHERE a.attrelid = ${qualifiedName(table)}::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
  );
}

/** A timestamp as a JSON value PostgreSQL reads back to the same microsecond. */
export function isoTime(value: Date | number | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
