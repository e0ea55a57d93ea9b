import { type CommonQueryMethods, type DatabaseTransactionConnection, sql } from 'slonik';
import { z } from 'zod';
import { ensureCheckpoints, liveTables, lockCheckpoints, selectRows, tableNames } from '../projection-runner/index.ts';

const live = tableNames(liveTables);

/**
 * Takes the live projections' checkpoint rows FOR UPDATE, as the live runner does before each batch:
 * once this returns, no live batch is half applied, and none starts until the transaction ends.
 */
export async function lockLiveCheckpoints(tx: DatabaseTransactionConnection, names: readonly string[]): Promise<Map<string, string | null>> {
  await ensureCheckpoints(tx, live, names);
  return lockCheckpoints(tx, live, names);
}

/** Moves a live checkpoint to where the tables swapped in stand. */
export async function setLiveCheckpoint(tx: CommonQueryMethods, name: string, cursor: string | null, position: number | null): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE projection_checkpoints SET cursor = ${cursor}, position = ${position}, updated_at = now() WHERE name = ${name}`);
}

export interface LiveCheckpoint {
  name: string;
  cursor: string | null;
  position: number | null;
  updatedAt: Date;
}

const checkpointRow = z.object({ name: z.string(), cursor: z.string().nullable(), position: z.coerce.number().nullable(), updated_at: z.coerce.date() });

export async function readLiveCheckpoints(db: CommonQueryMethods, names: readonly string[]): Promise<Map<string, LiveCheckpoint>> {
  const rows = await selectRows(
    db,
    checkpointRow,
    sql.unsafe`
    SELECT name, cursor, position, updated_at FROM projection_checkpoints WHERE name = ANY(${sql.array(names, 'text')})`,
  );
  return new Map(rows.map((row) => [row.name, { name: row.name, cursor: row.cursor, position: row.position, updatedAt: row.updated_at }]));
}
