import { type CommonQueryMethods, sql } from 'slonik';
import { z } from 'zod';
import { selectRows } from './select-rows.ts';

/** How far readers are held behind writers; for /health and for operators. */
export interface VisibilityLag {
  /** Events committed but not yet readable, because an older transaction is still open (capped at 10,000). */
  heldBackEvents: number;
  /** Age of the oldest of those events, in milliseconds; null when none is held back. */
  oldestHeldBackMs: number | null;
  /**
   * Age of the oldest open transaction that has written something, in milliseconds, among the
   * sessions this role may see in pg_stat_activity (all of them with pg_read_all_stats); null when none.
   */
  oldestTransactionMs: number | null;
}

const lagRow = z.object({
  held_back: z.number(),
  oldest_held_back_ms: z.number().nullable(),
  oldest_transaction_ms: z.number().nullable(),
});

/**
 * Readers only see rows of transactions older than every transaction still running, so one
 * long-open transaction anywhere in the cluster holds every reader back. This measures it.
 */
export async function readVisibilityLag(db: CommonQueryMethods): Promise<VisibilityLag> {
  const [row] = await selectRows(
    db,
    lagRow,
    sql.unsafe`
    SELECT
      (SELECT count(*)::int FROM (
        SELECT 1 FROM events WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot()) LIMIT 10000) AS held) AS held_back,
      (SELECT (extract(epoch FROM clock_timestamp() - min(recorded_at)) * 1000)::float8
        FROM events WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot())) AS oldest_held_back_ms,
      (SELECT (extract(epoch FROM clock_timestamp() - min(xact_start)) * 1000)::float8
        FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()) AS oldest_transaction_ms`,
  );
  return { heldBackEvents: row!.held_back, oldestHeldBackMs: row!.oldest_held_back_ms, oldestTransactionMs: row!.oldest_transaction_ms };
}
