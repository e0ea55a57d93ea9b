import { type CommonQueryMethods, type DatabaseTransactionConnection, sql } from 'slonik';
import { z } from 'zod';
import { selectRows } from './rows.ts';
import type { TableNames } from './tables.ts';

const checkpointRow = z.object({ name: z.string(), cursor: z.string().nullable() });

/** Makes sure every named checkpoint has a row (at the start of the log when new). */
export async function ensureCheckpoints(db: CommonQueryMethods, tables: TableNames, names: readonly string[]): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO ${tables('projection_checkpoints')} (name)
    SELECT unnest(${sql.array(names, 'text')})
    ON CONFLICT (name) DO NOTHING`);
}

export async function readCheckpoints(db: CommonQueryMethods, tables: TableNames, names: readonly string[]): Promise<Map<string, string | null>> {
  const rows = await selectRows(
    db,
    checkpointRow,
    sql.unsafe`
    SELECT name, cursor FROM ${tables('projection_checkpoints')} WHERE name = ANY(${sql.array(names, 'text')})`,
  );
  return new Map(rows.map((row) => [row.name, row.cursor]));
}

/**
 * Takes the checkpoints for the rest of the transaction. Another instance applying the same events
 * waits here, then sees the new cursors and skips what was applied. Locked in name order, so two
 * runners with overlapping projections cannot deadlock.
 *
 * The transaction commits without waiting for its WAL flush (synchronous_commit off, for this
 * transaction only): read models are derived data and move atomically with their checkpoint, so a
 * crash can only lose the last few batches whole, and the runner applies them again from the
 * checkpoint that survived. Not waiting for the flush halves the time the transaction holds readers of
 * the log back, which is most of what a write waits for.
 */
export async function lockCheckpoints(tx: DatabaseTransactionConnection, tables: TableNames, names: readonly string[]): Promise<Map<string, string | null>> {
  const rows = await selectRows(
    tx,
    checkpointRow,
    sql.unsafe`
    SELECT name, cursor FROM ${tables('projection_checkpoints')} AS checkpoint,
      (SELECT set_config('synchronous_commit', 'off', true)) AS settings
    WHERE name = ANY(${sql.array(names, 'text')})
    ORDER BY name
    FOR UPDATE OF checkpoint`,
  );
  return new Map(rows.map((row) => [row.name, row.cursor]));
}

export async function advanceCheckpoints(tx: DatabaseTransactionConnection, tables: TableNames, names: readonly string[], to: { cursor: string; position: number }): Promise<void> {
  await tx.query(sql.unsafe`
    UPDATE ${tables('projection_checkpoints')}
    SET cursor = ${to.cursor}, position = ${to.position}, updated_at = now()
    WHERE name = ANY(${sql.array(names, 'text')})`);
}
