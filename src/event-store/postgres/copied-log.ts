import pg from 'pg';
import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { LakechatError } from '../../errors.ts';
import { selectRows } from './select-rows.ts';

/** The command that repairs a copied log (package.json, scripts/repair-copied-log.ts). */
export const repairCopiedLogCommand = 'npm run repair:copied-log';

export interface CopiedLogCheck {
  /** True when the log's transaction ids come from another cluster's counter (see detectCopiedLog). */
  copied: boolean;
  /** The highest tx_id stored, or null for an empty log. */
  maxTxId: string | null;
  /** The id the cluster gives its next transaction. */
  nextTxId: string;
}

const checkRow = z.object({ max_tx: z.string().nullable(), next_tx: z.string() });

/**
 * Readers order the log by tx_id, which comes from the cluster's transaction counter. A log copied
 * into another cluster (pg_dump and restore, logical replication, moving between Lakebase
 * Provisioned and Autoscaling) keeps its old ids; when the new cluster's counter is lower, every new
 * append sorts below every cursor and checkpoint and is never seen. That is the case exactly when a
 * stored tx_id is at or above the id the cluster gives its next transaction: no transaction of this
 * cluster can have written it. Reads the snapshot's xmax, which assigns no transaction id.
 */
export async function detectCopiedLog(db: CommonQueryMethods): Promise<CopiedLogCheck> {
  const [row] = await selectRows(db, checkRow, sql.unsafe`SELECT (SELECT max(tx_id) FROM events)::text AS max_tx, pg_snapshot_xmax(pg_current_snapshot())::text AS next_tx`);
  const maxTxId = row?.max_tx ?? null;
  const nextTxId = row?.next_tx ?? '0';
  return { copied: maxTxId !== null && BigInt(maxTxId) >= BigInt(nextTxId), maxTxId, nextTxId };
}

/** Start-up: refuses a copied log with LAKECHAT_ERR_STORE_COPIED_LOG, which names the repair. */
export async function assertLogNotCopied(db: CommonQueryMethods): Promise<void> {
  const check = await detectCopiedLog(db);
  if (!check.copied) return;
  throw new LakechatError(
    'LAKECHAT_ERR_STORE_COPIED_LOG',
    `The event log was copied from another PostgreSQL cluster (its highest transaction id ${check.maxTxId} is at or above this cluster's next, ${check.nextTxId}): new events would be hidden from every reader. Stop every instance and run: ${repairCopiedLogCommand}`,
    { details: { maxTxId: check.maxTxId, nextTxId: check.nextTxId, command: repairCopiedLogCommand } },
  );
}

export interface RepairCopiedLogResult {
  /** False when the log was not copied: nothing was changed. */
  repaired: boolean;
  /** Distinct transactions of the log, now numbered 1..transactions. */
  transactions: number;
  events: number;
  /** Transactions run to move the cluster's counter above `transactions` first. */
  burnedTransactions: number;
  /** Rows whose stored cursor was remapped, by table. */
  cursors: Record<string, number>;
}

export interface RepairCopiedLogOptions {
  /**
   * Runs inside the repair's transaction after every id and cursor is remapped: cursors issued
   * before the repair no longer mean the same events, so a store identity that cursors carry should
   * change here (the store epoch).
   */
  onRemapped?: (client: pg.ClientBase) => Promise<void>;
  log?: (line: string) => void;
}

/**
 * The position of a stored cursor, bare (`tx-position`) or naming its store (`tx-position.store`).
 * The repair writes every cursor back bare: the epoch moves, so a name written before would be refused,
 * and a bare cursor is this store's.
 */
const storedPosition = `split_part(split_part(t.cursor, '.', 1), '-', 2)`;

/** Tables whose `cursor` column holds a cursor of an event (never a boundary): remapped by equality. */
const eventCursorTables = ['messages', 'profile_history', 'projection_parked_events'];
/** Tables whose cursor may be a boundary (x, 0): remapped by counting the transactions below x. */
const boundaryCursorTables = ['projection_checkpoints', 'projection_rebuilds'];

async function tableExists(client: pg.ClientBase, table: string): Promise<boolean> {
  return (await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table])).rows[0]?.found === true;
}

/**
 * Renumbers a copied log so that the cluster it now lives in can append after it, in ONE
 * transaction, with the app stopped (it takes an exclusive lock on `events`):
 * - each distinct tx_id becomes its dense rank (1, 2, 3...), which keeps the log's order;
 * - every stored cursor moves the same way: (x, p) becomes (1 + number of distinct tx ids below x, p),
 *   which is the rank for an event's cursor and the right boundary for a boundary cursor (x, 0);
 * - first, if the cluster's counter is not above the number of transactions, transactions are run
 *   until it is, so that every renumbered id is below every id the cluster will give from now on.
 * Idempotent: a log that is not copied is left alone.
 */
export async function repairCopiedLog(config: pg.ClientConfig, options: RepairCopiedLogOptions = {}): Promise<RepairCopiedLogResult> {
  const log = options.log ?? (() => {});
  const client = new pg.Client(config);
  await client.connect();
  try {
    const check = (
      await client.query<{ max_tx: string | null; next_tx: string; transactions: string; events: string }>(
        `SELECT (SELECT max(tx_id) FROM events)::text AS max_tx, pg_snapshot_xmax(pg_current_snapshot())::text AS next_tx,
              (SELECT count(DISTINCT tx_id) FROM events)::text AS transactions, (SELECT count(*) FROM events)::text AS events`,
      )
    ).rows[0]!;
    const transactions = Number(check.transactions);
    const result: RepairCopiedLogResult = { repaired: false, transactions, events: Number(check.events), burnedTransactions: 0, cursors: {} };
    if (check.max_tx === null || BigInt(check.max_tx) < BigInt(check.next_tx)) {
      log(`the log was not copied (highest tx_id ${check.max_tx ?? '(none)'}, next transaction ${check.next_tx}): nothing to repair`);
      return result;
    }
    // Every new id (1..transactions) must be below the id of any transaction to come.
    const needed = BigInt(transactions) + 1n;
    let next = BigInt(check.next_tx);
    while (next <= needed) {
      const batch = Number(needed - next + 1n < 100_000n ? needed - next + 1n : 100_000n);
      await client.query(`DO $$ BEGIN FOR i IN 1..${batch} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`);
      result.burnedTransactions += batch;
      next = BigInt((await client.query<{ next_tx: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next_tx')).rows[0]!.next_tx);
    }
    if (result.burnedTransactions > 0) log(`ran ${result.burnedTransactions} transactions to move the counter to ${next}`);

    await client.query('BEGIN');
    try {
      await client.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      await client.query(`CREATE TEMP TABLE copied_tx ON COMMIT DROP AS
        SELECT tx_id AS old, dense_rank() OVER (ORDER BY tx_id) AS new FROM (SELECT DISTINCT tx_id FROM events) AS distinct_tx`);
      await client.query('CREATE UNIQUE INDEX ON copied_tx (old)');
      await client.query('ANALYZE copied_tx');
      const events = await client.query(`UPDATE events SET tx_id = copied_tx.new::text::xid8 FROM copied_tx WHERE events.tx_id = copied_tx.old`);
      log(`renumbered ${events.rowCount} events in ${transactions} transactions`);
      for (const table of eventCursorTables) {
        if (!(await tableExists(client, table))) continue;
        const updated = await client.query(`
          UPDATE ${pg.escapeIdentifier(table)} AS t SET cursor = copied_tx.new::text || '-' || ${storedPosition}
          FROM copied_tx WHERE split_part(t.cursor, '-', 1)::xid8 = copied_tx.old`);
        result.cursors[table] = updated.rowCount ?? 0;
      }
      for (const table of boundaryCursorTables) {
        if (!(await tableExists(client, table))) continue;
        const updated = await client.query(`
          UPDATE ${pg.escapeIdentifier(table)} AS t
          SET cursor = (1 + (SELECT count(*) FROM copied_tx WHERE copied_tx.old < split_part(t.cursor, '-', 1)::xid8))::text || '-' || ${storedPosition}
          WHERE t.cursor IS NOT NULL`);
        result.cursors[table] = updated.rowCount ?? 0;
      }
      log(`remapped stored cursors: ${JSON.stringify(result.cursors)}`);
      await options.onRemapped?.(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    result.repaired = true;
    return result;
  } finally {
    await client.end().catch(() => {});
  }
}
