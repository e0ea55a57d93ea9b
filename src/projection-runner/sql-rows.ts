import { type CommonQueryMethods, type FragmentSqlToken, type IdentifierSqlToken, sql } from 'slonik';
import type { ChangeSet, ReadSet, RowSource, TableChanges } from './fold.ts';
import { type AnyReadModel, type ColumnType, groupColumn, keyOf, keyString, type Row, type TableSpec } from './read-model.ts';
import type { TableNames } from './tables.ts';

/**
 * How a read model's rows travel to and from PostgreSQL, from its table declarations alone: every
 * column read back as the JSON value the fold wrote, every change written in one statement per table
 * and kind (rows as one jsonb array, cast to the declared types).
 */

const comma = sql.fragment`, `;

/** A type name as SQL text (declared by the read model, never user input). */
function raw(text: string): FragmentSqlToken {
  return sql.fragment(Object.freeze(Object.assign([text], { raw: Object.freeze([text]) })) as unknown as TemplateStringsArray);
}

/** A column read as the fold's value: ISO 8601 text for timestamps, text for dates and uuids, numbers for bigint and numeric. */
export function readColumn(column: string, type: ColumnType, alias?: string): FragmentSqlToken {
  const ref = sql.identifier(alias === undefined ? [column] : [alias, column]);
  const as = sql.identifier([column]);
  switch (type) {
    case 'timestamptz':
      return sql.fragment`to_char(${ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${as}`;
    case 'bigint':
    case 'numeric':
      return sql.fragment`${ref}::float8 AS ${as}`;
    case 'date':
    case 'uuid':
      return sql.fragment`${ref}::text AS ${as}`;
    default:
      return alias === undefined ? sql.fragment`${ref}` : sql.fragment`${ref} AS ${as}`;
  }
}

/** The SELECT list of every declared column of a table, read as the fold's values. */
export function selectList(spec: TableSpec, alias?: string): FragmentSqlToken {
  return sql.fragment`${sql.join(
    Object.entries(spec.columns).map(([column, type]) => readColumn(column, type, alias)),
    comma,
  )}`;
}

function recordType(spec: TableSpec, columns: readonly string[]): FragmentSqlToken {
  return sql.fragment`${sql.join(
    columns.map((column) => sql.fragment`${sql.identifier([column])} ${raw(spec.columns[column]!)}`),
    comma,
  )}`;
}

const ids = (columns: readonly string[], alias?: string): FragmentSqlToken =>
  sql.fragment`${sql.join(
    columns.map((column) => sql.identifier(alias === undefined ? [column] : [alias, column])),
    comma,
  )}`;

// ES2024 string methods (Node 20+), not in this project's TypeScript lib.
type WellFormable = string & { isWellFormed(): boolean; toWellFormed(): string };

/** Rows as one jsonb value; strings with a lone surrogate get U+FFFD in its place, as the driver does. */
export function rowsJson(rows: readonly Row[]): FragmentSqlToken {
  const text = JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'string' && !(value as WellFormable).isWellFormed() ? (value as WellFormable).toWellFormed() : value));
  return sql.fragment`${text}::jsonb`;
}

/** Loads what a batch's folds read, one statement per table and kind, into a RowSource. */
export async function loadRows(db: CommonQueryMethods, model: AnyReadModel, tables: TableNames, reads: ReadSet): Promise<RowSource> {
  const rows = new Map<string, Map<string, Row | null>>();
  const lasts = new Map<string, Map<string, Row | null>>();
  for (const [name, keys] of reads.keys) {
    const spec = model.tables[name]!;
    const found = new Map<string, Row | null>();
    for (const id of keys.keys()) found.set(id, null);
    for (const row of await selectByKeys(db, spec, tables(name), [...keys.values()])) found.set(keyString(keyOf(spec, row)), row);
    rows.set(name, found);
  }
  for (const [name, groups] of reads.lasts) {
    const spec = model.tables[name]!;
    const found = new Map<string, Row | null>();
    for (const id of groups.keys()) found.set(id, null);
    for (const row of await selectLasts(db, spec, tables(name), [...groups.values()])) found.set(String(row[groupColumn(spec)]), row);
    lasts.set(name, found);
  }
  return {
    get: (table, key) => rows.get(table)?.get(key),
    last: (table, group) => lasts.get(table)?.get(group),
  };
}

export async function selectByKeys(db: CommonQueryMethods, spec: TableSpec, table: IdentifierSqlToken, keys: readonly (readonly unknown[])[]): Promise<Row[]> {
  if (keys.length === 0) return [];
  if (spec.key.length === 1) {
    const [column] = spec.key;
    return [
      ...(await db.any(sql.unsafe`
        SELECT ${selectList(spec, 't')} FROM ${table} AS t
        WHERE ${sql.identifier(['t', column!])} = ANY(${sql.array(
          keys.map((key) => key[0] as string),
          raw(`${spec.columns[column!]!}[]`),
        )})`)),
    ] as Row[];
  }
  const records = keys.map((key) => Object.fromEntries(spec.key.map((column, i) => [column, key[i]])));
  return [
    ...(await db.any(sql.unsafe`
      SELECT ${selectList(spec, 't')} FROM ${table} AS t
      WHERE (${ids(spec.key, 't')}) IN (SELECT ${ids(spec.key)} FROM jsonb_to_recordset(${rowsJson(records)}) AS k(${recordType(spec, spec.key)}))`)),
  ] as Row[];
}

/** The last row (highest key) of each group. */
export async function selectLasts(db: CommonQueryMethods, spec: TableSpec, table: IdentifierSqlToken, groups: readonly unknown[]): Promise<Row[]> {
  if (groups.length === 0) return [];
  const column = groupColumn(spec);
  const order = sql.join(
    spec.key.filter((key) => key !== column).map((key) => sql.fragment`${sql.identifier(['t', key])} DESC`),
    comma,
  );
  return [
    ...(await db.any(sql.unsafe`
      SELECT DISTINCT ON (${sql.identifier(['t', column])}) ${selectList(spec, 't')} FROM ${table} AS t
      WHERE ${sql.identifier(['t', column])} = ANY(${sql.array(groups as string[], raw(`${spec.columns[column]!}[]`))})
      ORDER BY ${sql.identifier(['t', column])}, ${order}`)),
  ] as Row[];
}

/**
 * The statements that write a table's changes, in the order they must run: group deletions,
 * deletions, replacements (INSERT ... ON CONFLICT DO UPDATE), inserts unless present (ON CONFLICT DO
 * NOTHING). Each writes nothing unless `guard` holds.
 */
export function changeStatements(table: IdentifierSqlToken, changes: TableChanges, guard: FragmentSqlToken): FragmentSqlToken[] {
  return [...deleteStatements(table, changes, guard), ...insertStatements(table, changes, guard)];
}

/** The group deletions and deletions of a table's changes (they run first). */
export function deleteStatements(table: IdentifierSqlToken, changes: TableChanges, guard: FragmentSqlToken): FragmentSqlToken[] {
  const { spec } = changes;
  const statements: FragmentSqlToken[] = [];
  if (changes.deletedGroups.size > 0) {
    const column = groupColumn(spec);
    statements.push(sql.fragment`
      DELETE FROM ${table} WHERE ${sql.identifier([column])} = ANY(${sql.array([...changes.deletedGroups.values()] as string[], raw(`${spec.columns[column]!}[]`))}) AND ${guard}`);
  }
  const deletes = changes.rows('delete');
  if (deletes.length > 0) {
    const records = deletes.map(({ key }) => Object.fromEntries(spec.key.map((column, i) => [column, key[i]])));
    statements.push(sql.fragment`
      DELETE FROM ${table} WHERE (${ids(spec.key)}) IN (SELECT ${ids(spec.key)} FROM jsonb_to_recordset(${rowsJson(records)}) AS k(${recordType(spec, spec.key)})) AND ${guard}`);
  }
  return statements;
}

function insertStatements(table: IdentifierSqlToken, changes: TableChanges, guard: FragmentSqlToken): FragmentSqlToken[] {
  const { spec } = changes;
  const statements: FragmentSqlToken[] = [];
  const columns = Object.keys(spec.columns);
  const insert = (rows: readonly Row[], conflict: FragmentSqlToken): FragmentSqlToken => sql.fragment`
    INSERT INTO ${table} (${ids(columns)})
    SELECT ${ids(columns)} FROM jsonb_to_recordset(${rowsJson(rows)}) AS r(${recordType(spec, columns)})
    WHERE ${guard}
    ${conflict}`;
  const puts = changes.rows('put').map((change) => change.row!);
  if (puts.length > 0) {
    const rest = columns.filter((column) => !spec.key.includes(column));
    const set =
      rest.length === 0
        ? sql.fragment`DO NOTHING`
        : sql.fragment`DO UPDATE SET (${ids(rest)}) = ROW(${sql.join(
            rest.map((column) => sql.identifier(['excluded', column])),
            comma,
          )})`;
    statements.push(insert(puts, sql.fragment`ON CONFLICT (${ids(spec.key)}) ${set}`));
  }
  const fresh = changes.rows('ifAbsent').map((change) => change.row!);
  if (fresh.length > 0) statements.push(insert(fresh, sql.fragment`ON CONFLICT (${ids(spec.key)}) DO NOTHING`));
  return statements;
}

/** Every statement of a change set, table by table. */
export function changeSetStatements(changes: ChangeSet, tables: TableNames, guard: FragmentSqlToken): FragmentSqlToken[] {
  const statements: FragmentSqlToken[] = [];
  for (const [name, table] of changes.tables) statements.push(...changeStatements(tables(name), table, guard));
  return statements;
}

/** Every row of a table, as the fold's values, in key order (the contract suite compares them). */
export async function selectAll(db: CommonQueryMethods, spec: TableSpec, table: IdentifierSqlToken): Promise<Row[]> {
  return [...(await db.any(sql.unsafe`SELECT ${selectList(spec)} FROM ${table} ORDER BY ${ids(spec.key)}`))] as Row[];
}
