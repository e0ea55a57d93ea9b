import type { Logger } from 'pino';
import { type DatabasePool, sql } from 'slonik';
import { LakechatError } from '../errors.ts';
import { compareCursors, type EventStore } from '../event-store/index.ts';
import { lockLiveCheckpoints, setLiveCheckpoint } from './live-checkpoints.ts';
import { gapBehind } from './log-extent.ts';
import { withOpenTransaction } from './open-transaction.ts';
import { projectLog } from './projector.ts';
import { lowestCursor, type ProjectionPlan } from './rebuild-plan.ts';
import { clearProgress, readProgress } from './rebuild-progress.ts';
import { lockLiveTables, replaceLiveTable } from './shadow-tables.ts';

export interface SwapOptions {
  pool: DatabasePool;
  store: EventStore;
  plans: readonly ProjectionPlan[];
  batchSize: number;
  /** How long the swap waits for a lock (the checkpoints, then each live table) before it gives up. */
  lockTimeoutMs: number;
  /** The most events the swap applies under its locks; with more behind, it lets go and catches up first. */
  maxGap: number;
  /** Catches the shadow tables up (in batches, each its own transaction) until at most `maxGap` events are left. */
  catchUp: () => Promise<void>;
  logger?: Logger | undefined;
}

// Short waits, retried: while the swap waits for a table lock, queries on that table queue behind it.
const attempts = 5;
// Times the log may outrun the catch-up before the swap gives up (writers faster than the rebuild).
const gapAttempts = 10;

/** The log moved on too far between the last catch-up and the swap's locks: catch up, then try again. */
class GapTooLarge extends Error {}

/**
 * A lock not granted in time (55P03), a deadlock PostgreSQL broke by aborting the swap (40P01), or a
 * transaction one of those left aborted (25P02, when it surfaces only at the next statement). The
 * transaction rolled back whole either way, so the swap can start again.
 */
function lockFailed(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === '55P03' || code === '40P01' || code === '25P02') return true;
  }
  return false;
}

/**
 * Puts the rebuilt tables in place of the live ones and moves the live checkpoints with them, in one
 * short transaction. It locks the live tables, then takes the checkpoint rows FOR UPDATE, as each live
 * batch does: a live batch in flight finishes first, and the next one waits. Then, if at most `maxGap`
 * events separate the rebuilt tables from the head, it applies them in the same transaction (which
 * includes everything the live tables had applied), so the new checkpoint is at or past the old one and
 * the live runner goes on from there, on the new tables, which it finds by name at its next batch. With
 * more behind (a burst of writes since the last catch-up), it lets go at once, catches up outside in
 * batches and tries again: this transaction holds a transaction id, which holds every log reader back.
 *
 * Tables before rows: the live runner's one-statement batch locks the tables it names when the
 * statement starts, then the checkpoint rows; taking them in the same order cannot deadlock with it.
 * Its transaction path takes the rows first; should one wait on the other, PostgreSQL breaks the
 * deadlock within a second and whichever it aborts tries again (the swap, up to five times).
 */
export async function swapIn(options: SwapOptions): Promise<void> {
  const { pool, store, plans } = options;
  const names = plans.map((plan) => plan.projection.name);
  let gaps = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await withOpenTransaction(pool, 'BEGIN', async (tx) => {
        await tx.query(sql.unsafe`SELECT set_config('lock_timeout', ${`${options.lockTimeoutMs}ms`}, true)`);
        await lockLiveTables(
          tx,
          plans.flatMap((plan) => plan.live),
        );
        const live = await lockLiveCheckpoints(tx, names);
        // Bounded: the transaction holds a transaction id (and the live tables) while it applies these.
        if ((await gapBehind(tx, lowestCursor(plans), options.maxGap)) > options.maxGap) throw new GapTooLarge();
        await projectLog({
          store,
          pool,
          targets: plans.map((plan) => plan.target),
          batchSize: options.batchSize,
          transaction: (work) => work(tx),
          reader: tx,
          logger: options.logger,
        });
        for (const plan of plans) {
          const liveCursor = live.get(plan.projection.name) ?? null;
          if (compareCursors(liveCursor, plan.target.cursor) > 0) {
            throw new Error(`the live checkpoint of ${plan.projection.name} (${liveCursor}) is past the head read by the swap (${plan.target.cursor})`);
          }
          for (const table of plan.live) await replaceLiveTable(tx, table, plan.place(table));
          await setLiveCheckpoint(tx, plan.projection.name, plan.target.cursor, plan.target.position);
        }
        await clearProgress(tx, names);
      });
      return;
    } catch (error) {
      // The transaction rolled back: the targets and the appliers' memory are ahead of the tables.
      for (const plan of plans) plan.applier.forget();
      const saved = await readProgress(pool, names);
      for (const plan of plans) {
        plan.target.cursor = saved.get(plan.projection.name)?.cursor ?? null;
        plan.target.position = saved.get(plan.projection.name)?.position ?? null;
        plan.target.saved = { cursor: plan.target.cursor, position: plan.target.position };
      }
      if (error instanceof GapTooLarge) {
        if (++gaps >= gapAttempts) {
          throw new LakechatError('LAKECHAT_ERR_REBUILD_SWAP_TIMEOUT', 'The log grows faster than the rebuild catches up; try again when writes are quieter', {
            details: { attempts: gaps, maxGap: options.maxGap },
          });
        }
        attempt--;
        options.logger?.info({ maxGap: options.maxGap }, 'more events than the swap applies under its locks came in; catching up first');
        await options.catchUp();
        continue;
      }
      if (!lockFailed(error)) throw error;
      if (attempt >= attempts) throw new LakechatError('LAKECHAT_ERR_REBUILD_SWAP_TIMEOUT', undefined, { details: { attempts, lockTimeoutMs: options.lockTimeoutMs }, cause: error });
      options.logger?.warn({ attempt, lockTimeoutMs: options.lockTimeoutMs }, 'the swap waited too long for a lock; trying again');
    }
  }
}
