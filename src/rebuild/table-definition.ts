import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { LakechatError } from '../errors.ts';
import { selectRows } from '../projection-runner/index.ts';

/** An index of a table, or the constraint it backs (primary key, unique, exclusion). */
export interface IndexDefinition {
  name: string;
  /** Set when the index backs a constraint of this name (its definition is the constraint's). */
  constraint: string | null;
  unique: boolean;
  /** `pg_get_constraintdef` for a constraint, else `pg_get_indexdef`. */
  definition: string;
}

/** What a rebuild needs to know about a live table to make its twin and put the twin in its place. */
export interface TableDefinition {
  logicalName: string;
  schema: string;
  name: string;
  owner: string;
  /** Storage parameters (`fillfactor=90`...), as `pg_class.reloptions` holds them. */
  options: readonly string[];
  /** Privileges granted on it: GRANT statements' grantee (null: PUBLIC) and privilege. */
  grants: readonly { grantee: string | null; privilege: string }[];
  indexes: readonly IndexDefinition[];
  /** Foreign keys it declares (copied by name; CHECK and NOT NULL come with the columns). */
  foreignKeys: readonly { name: string; definition: string }[];
  /** The primary key's columns, in order; empty without one. */
  primaryKey: readonly string[];
  /** Columns and their types, for the fingerprint. */
  columns: readonly string[];
}

const tableRow = z.object({
  oid: z.coerce.number(),
  schema: z.string(),
  name: z.string(),
  owner: z.string(),
  options: z.array(z.string()).nullable(),
  grants: z.array(z.object({ grantee: z.string().nullable(), privilege: z.string() })),
  columns: z.array(z.string()),
  primary_key: z.array(z.string()),
});
const indexRow = z.object({ name: z.string(), constraint: z.string().nullable(), unique: z.boolean(), definition: z.string() });
const foreignKeyRow = z.object({ name: z.string(), definition: z.string() });

/**
 * Reads a table's definition from the catalog. `schema` null resolves the name as queries do, through
 * the search path: where the live tables the projections query are.
 */
export async function describeTable(db: CommonQueryMethods, logicalName: string, schema: string | null, name: string): Promise<TableDefinition | null> {
  const regclass = schema === null ? sql.fragment`to_regclass(quote_ident(${name}))` : sql.fragment`to_regclass(quote_ident(${schema}) || '.' || quote_ident(${name}))`;
  const [table] = await selectRows(
    db,
    tableRow,
    sql.unsafe`
    SELECT c.oid, n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner, c.reloptions AS options,
      coalesce((SELECT json_agg(json_build_object('grantee', CASE WHEN acl.grantee = 0 THEN NULL ELSE pg_get_userbyid(acl.grantee) END,
                                                  'privilege', acl.privilege_type) ORDER BY acl.grantee, acl.privilege_type)
                FROM aclexplode(c.relacl) AS acl WHERE acl.grantee <> c.relowner), '[]') AS grants,
      array(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
              || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
            FROM pg_attribute AS a LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
      array(SELECT a.attname::text FROM pg_index AS x CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
            WHERE x.indrelid = c.oid AND x.indisprimary ORDER BY k.ord) AS primary_key
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = ${regclass} AND c.relkind IN ('r', 'p')`,
  );
  if (table === undefined) return null;
  const indexes = await selectRows(
    db,
    indexRow,
    sql.unsafe`
    SELECT i.relname AS name, con.conname AS constraint, x.indisunique AS unique,
      coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(i.oid)) AS definition
    FROM pg_index AS x
    JOIN pg_class AS i ON i.oid = x.indexrelid
    LEFT JOIN pg_constraint AS con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x')
    WHERE x.indrelid = ${table.oid}::oid
    ORDER BY i.relname`,
  );
  const foreignKeys = await selectRows(
    db,
    foreignKeyRow,
    sql.unsafe`
    SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
    WHERE conrelid = ${table.oid}::oid AND contype = 'f' ORDER BY conname`,
  );
  return {
    logicalName,
    schema: table.schema,
    name: table.name,
    owner: table.owner,
    options: table.options ?? [],
    grants: table.grants,
    indexes,
    foreignKeys,
    primaryKey: table.primary_key,
    columns: table.columns,
  };
}

/** Like describeTable, for a table that must exist. */
export async function describeLiveTable(db: CommonQueryMethods, logicalName: string): Promise<TableDefinition> {
  const table = await describeTable(db, logicalName, null, logicalName);
  if (table === null) throw new LakechatError('LAKECHAT_ERR_REBUILD_LIVE_TABLE_MISSING', undefined, { details: { table: logicalName } });
  return table;
}

/** The definition without names, which a swap changes: what must stay equal for a rebuild to resume. */
export function shapeOf(table: TableDefinition): unknown {
  return {
    table: table.logicalName,
    columns: table.columns,
    options: table.options,
    indexes: table.indexes.map((index) => ({
      constraint: index.constraint !== null,
      unique: index.unique,
      definition: index.constraint !== null ? index.definition : index.definition.replace(/^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ /, ''),
    })),
    foreignKeys: table.foreignKeys.map((key) => key.definition),
  };
}
