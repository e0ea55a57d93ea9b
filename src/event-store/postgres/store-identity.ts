import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { selectRows } from './select-rows.ts';

const epochRow = z.object({ epoch: z.coerce.number() });
const identityRow = z.object({ system: z.string(), epoch: z.coerce.number() });

/** The store's epoch (migration 031): bumped by a repair of a copied database. */
export async function readStoreEpoch(db: CommonQueryMethods): Promise<number> {
  const [row] = await selectRows(db, epochRow, sql.unsafe`SELECT epoch FROM store_epoch`);
  return row!.epoch;
}

/** Moves the store to its next epoch and returns it: cursors that named the previous one are refused. */
export async function bumpStoreEpoch(db: CommonQueryMethods): Promise<number> {
  const [row] = await selectRows(db, epochRow, sql.unsafe`UPDATE store_epoch SET epoch = epoch + 1, changed_at = now() RETURNING epoch`);
  return row!.epoch;
}

/**
 * The name of this PostgreSQL log: the cluster's system identifier (a copy made with pg_dump or
 * logical replication lands in a cluster with another one) and the epoch, compact (base 36).
 */
export async function readStoreIdentity(db: CommonQueryMethods): Promise<string> {
  const [row] = await selectRows(
    db,
    identityRow,
    sql.unsafe`SELECT (SELECT system_identifier FROM pg_control_system())::text AS system, (SELECT epoch FROM store_epoch) AS epoch`,
  );
  return `p${BigInt(row!.system).toString(36)}e${row!.epoch.toString(36)}`;
}
