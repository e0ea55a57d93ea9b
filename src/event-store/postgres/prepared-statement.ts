import { hash } from 'node:crypto';
import type { QuerySqlToken } from 'slonik';

const names = new Map<string, string>();
const rememberedNames = 1_000;

function nameOf(text: string): string {
  const known = names.get(text);
  if (known !== undefined) return known;
  const name = `lakechat_${hash('sha1', text).slice(0, 24)}`;
  if (names.size < rememberedNames) names.set(text, name);
  return name;
}

/**
 * The query as a named prepared statement: each connection parses and plans its text once, then
 * only binds and executes it. For the statements every append and every projection batch runs,
 * where parsing and planning cost PostgreSQL about a third of its time (see docs/architecture.md).
 * The name is derived from the text, so the same text always has the same name and a different one
 * never reuses it. Only for statements of a bounded set of texts (values as parameters): each text
 * stays prepared on every connection of the pool. `preparedStatements: false` in the pool's
 * configuration turns it off (a transaction-mode pooler without prepared statement support).
 */
export function prepared<Query extends QuerySqlToken>(query: Query): Query {
  return Object.freeze({ ...query, name: nameOf(query.sql) });
}
