import { type QuerySqlToken, sql } from 'slonik';

/** An identifier quoted for SQL text. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * A DDL statement built from identifiers quoted above and from definitions the catalog printed
 * (pg_get_indexdef, pg_get_constraintdef): Slonik's tag binds values, and DDL takes none, so the text
 * is passed as the template's only part. Never give it anything a user typed.
 */
export function ddl(text: string): QuerySqlToken {
  const parts = Object.freeze(Object.assign([text], { raw: Object.freeze([text]) })) as unknown as TemplateStringsArray;
  return sql.unsafe(parts);
}

/** A name with a suffix, kept within PostgreSQL's 63 bytes (the end of the name gives way, not the suffix). */
export function withSuffix(name: string, suffix: string): string {
  if (suffix === '') return name;
  let base = name;
  while (Buffer.byteLength(base + suffix) > 63) base = base.slice(0, -1);
  return base + suffix;
}
