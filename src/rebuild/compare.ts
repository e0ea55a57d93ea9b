import type { Logger } from 'pino';
import { type DatabasePool, sql } from 'slonik';
import { compareCursors, type EventStore } from '../event-store/index.ts';
import { lockLiveCheckpoints } from './live-checkpoints.ts';
import { gapBehind } from './log-extent.ts';
import { withOpenTransaction } from './open-transaction.ts';
import { projectLog } from './projector.ts';
import { lowestCursor, type ProjectionPlan } from './rebuild-plan.ts';
import { saveProgress, targetsProgress } from './rebuild-progress.ts';
import { twinTableName } from './shadow-tables.ts';
import { diffTables, type TableDiff } from './table-diff.ts';

export interface Comparison {
  name: string;
  /** The live checkpoint the rebuilt tables were compared at. */
  liveCursor: string | null;
  /**
   * True when the rebuilt tables were already past the live checkpoint (the live runner lags behind
   * the log): their differences then include the events in between.
   */
  rebuiltAhead: boolean;
  tables: TableDiff[];
}

/**
 * What a swap would change, measured at one point of the log: with the live checkpoints held FOR
 * UPDATE (briefly: no live batch runs meanwhile), the rebuilt tables are brought to exactly the live
 * checkpoint and a REPEATABLE READ snapshot is taken; the locks are released and the tables compared
 * in that snapshot, at leisure, while the live runner goes on.
 */
export async function compareWithLive(options: {
  pool: DatabasePool;
  store: EventStore;
  plans: readonly ProjectionPlan[];
  batchSize: number;
  transactionBudgetMs?: number | undefined;
  /** The most events applied while the checkpoints are held (their transaction holds a transaction id). */
  maxGap: number;
  catchUp: () => Promise<void>;
  logger?: Logger | undefined;
}): Promise<Comparison[]> {
  for (let attempt = 1; ; attempt++) {
    const compared = await compareOnce(options, attempt < 10);
    if (compared !== null) return compared;
    await options.catchUp();
  }
}

/** Null when more than `maxGap` events separate the rebuilt tables from the log (nothing compared). */
async function compareOnce(options: Parameters<typeof compareWithLive>[0], bounded: boolean): Promise<Comparison[] | null> {
  const { pool, store, plans } = options;
  const names = plans.map((plan) => plan.projection.name);
  return withOpenTransaction(pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY', async (snapshot) => {
    const live = new Map<string, string | null>();
    const locked = await withOpenTransaction(pool, 'BEGIN', async (lock) => {
      for (const [name, cursor] of await lockLiveCheckpoints(lock, names)) live.set(name, cursor);
      if (bounded && (await gapBehind(lock, lowestCursor(plans), options.maxGap)) > options.maxGap) return false;
      for (const plan of plans) plan.target.until = live.get(plan.projection.name) ?? null;
      try {
        await projectLog({
          store,
          pool,
          targets: plans.map((plan) => plan.target),
          batchSize: options.batchSize,
          transactionBudgetMs: options.transactionBudgetMs,
          stopAfter: [...live.values()].reduce<string | null>((high, cursor) => (compareCursors(cursor, high) > 0 ? cursor : high), null),
          record: (tx, targets, events) => saveProgress(tx, targetsProgress(targets, events)),
          logger: options.logger,
        });
      } finally {
        for (const plan of plans) plan.target.until = undefined;
      }
      // The snapshot is taken at its first query: now, while no live batch can commit.
      await snapshot.query(sql.unsafe`SELECT 1`);
      return true;
    });
    if (!locked) return null;
    const comparisons: Comparison[] = [];
    for (const plan of plans) {
      const liveCursor = live.get(plan.projection.name) ?? null;
      const tables: TableDiff[] = [];
      for (const table of plan.live) {
        const place = plan.place(table);
        tables.push(await diffTables(snapshot, table, { schema: place.schema, name: twinTableName(table, place) }));
      }
      // Ahead only if an event lies between: a rebuilt cursor at the log's boundary past the live one is not.
      let rebuiltAhead = false;
      if (compareCursors(plan.target.cursor, liveCursor) > 0) {
        const next = (await store.readAll({ after: liveCursor, limit: 1 })).events[0];
        rebuiltAhead = next !== undefined && compareCursors(next.cursor, plan.target.cursor) <= 0;
      }
      comparisons.push({ name: plan.projection.name, liveCursor, rebuiltAhead, tables });
    }
    return comparisons;
  });
}
