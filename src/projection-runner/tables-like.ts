import { type CommonQueryMethods, sql } from 'slonik';
import type { AnyReadModel } from './read-model.ts';
import { liveTables, type TableLocation } from './tables.ts';

function identifier(location: TableLocation, logicalName: string) {
  const name = `${logicalName}${location.suffix}`;
  return sql.identifier(location.schema === null ? [name] : [location.schema, name]);
}

/**
 * Creates a projection's tables (and the checkpoint and parked-event tables) at `to` with the structure of the ones at
 * `from` (the live tables by default): columns, defaults, constraints and indexes, through
 * `CREATE TABLE ... (LIKE ... INCLUDING ALL)`. How a rebuild makes its shadow tables, or an "as of"
 * build its schema, without a second copy of the migrations' DDL.
 */
export async function createTablesLike(db: CommonQueryMethods, projections: readonly AnyReadModel[], to: TableLocation, from: TableLocation = liveTables): Promise<void> {
  if (to.schema !== null) await db.query(sql.unsafe`CREATE SCHEMA IF NOT EXISTS ${sql.identifier([to.schema])}`);
  const logicalNames = new Set(['projection_checkpoints', 'projection_parked_events', ...projections.flatMap((projection) => Object.keys(projection.tables))]);
  for (const logicalName of logicalNames) {
    await db.query(sql.unsafe`CREATE TABLE IF NOT EXISTS ${identifier(to, logicalName)} (LIKE ${identifier(from, logicalName)} INCLUDING ALL)`);
  }
}
