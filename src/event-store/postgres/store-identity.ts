import { type CommonQueryMethods, type FragmentSqlToken, sql } from 'slonik';
import { z } from 'zod';
import { sqlState } from './postgres-errors.ts';
import { selectRows } from './select-rows.ts';

const epochRow = z.object({ epoch: z.coerce.number() });
const identityRow = z.object({ system: z.string(), database: z.string(), epoch: z.coerce.number() });

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

const insufficientPrivilege = '42501';

/**
 * The name of this PostgreSQL log, compact (base 36): `p<system>d<database>e<epoch>`.
 * - the cluster's system identifier (pg_control_system(), callable by any role on PostgreSQL 16):
 *   a copy made with pg_dump and restore or logical replication lands in a cluster with another one;
 * - the database's OID: two databases of one cluster (two deployments on one Lakebase instance, or
 *   a restore into a new database beside the old) are two logs;
 * - the epoch (migration 031), bumped by `npm run repair:copied-log`.
 * Where pg_control_system() is refused, the system part is 0 and only the database and the epoch
 * name the log (docs/architecture.md, "Cursors name their store", says what that misses).
 */
export async function readStoreIdentity(db: CommonQueryMethods): Promise<string> {
  const read = (system: FragmentSqlToken) =>
    selectRows(
      db,
      identityRow,
      sql.unsafe`SELECT ${system}::text AS system,
        (SELECT oid FROM pg_database WHERE datname = current_database())::text AS database,
        (SELECT epoch FROM store_epoch) AS epoch`,
    );
  let rows;
  try {
    rows = await read(sql.fragment`(SELECT system_identifier FROM pg_control_system())`);
  } catch (error) {
    if (sqlState(error) !== insufficientPrivilege) throw error;
    rows = await read(sql.fragment`0`);
  }
  const row = rows[0]!;
  return `p${BigInt(row.system).toString(36)}d${BigInt(row.database).toString(36)}e${row.epoch.toString(36)}`;
}
