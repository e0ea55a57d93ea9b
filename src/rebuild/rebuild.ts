import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { LakechatError } from '../errors.ts';
import type { EventStore } from '../event-store/index.ts';
import type { AnyReadModel } from '../projection-runner/index.ts';
import { type Comparison, compareWithLive } from './compare.ts';
import { gapBehind, logExtent } from './log-extent.ts';
import { projectLog } from './projector.ts';
import { withRebuildLocks } from './rebuild-lock.ts';
import { lowestCursor, type ProjectionPlan, planProjection } from './rebuild-plan.ts';
import { clearProgress, readProgress, saveProgress, startProgress, targetsProgress } from './rebuild-progress.ts';
import { completeTwin, createTwin, dropTwin, shadowSuffix, twinTableName } from './shadow-tables.ts';
import { swapIn } from './swap.ts';
import { describeTable } from './table-definition.ts';

export interface RebuildOptions {
  pool: DatabasePool;
  store: EventStore;
  /** The projections to rebuild, together (one pass over the log, one swap). */
  projections: readonly AnyReadModel[];
  /** Events per transaction (default 5,000): larger is faster, but each transaction holds the log's live readers back while it writes. */
  batchSize?: number;
  /**
   * About how long each batch's transaction may take (default 50 ms; 0: fixed batches of batchSize):
   * while one holds its transaction id, every reader of the log, and so every write, waits.
   */
  transactionBudgetMs?: number;
  /** Build and compare, but do not swap; then drop what was built (a dry run leaves nothing behind). */
  dryRun?: boolean;
  /** Start from the beginning of the log even when an interrupted rebuild could resume. */
  restart?: boolean;
  /** How long the swap waits for each lock before trying again (default 2 s; five tries): queries on a live table queue behind a waiting swap. */
  swapLockTimeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  onProgress?: (progress: RebuildProgress) => void;
  /** Runs after the last catch-up, just before the swap (tests make the live side move meanwhile). */
  beforeSwap?: () => Promise<void>;
}

export interface RebuildProgress {
  phase: 'build' | 'catch-up';
  /** Events read in this phase so far. */
  events: number;
  /** About how many events the phase reads in all (positions have gaps), when known. */
  total: number | null;
}

export interface ProjectionOutcome {
  name: string;
  /** Null when it started from the beginning of the log; else the cursor it resumed from. */
  resumedFrom: string | null;
  /** Why it started from the beginning, when it did. */
  startedBecause: 'no saved progress' | 'asked to restart' | 'tables or code changed' | 'shadow tables missing' | null;
  /** Where the rebuilt tables stand: with the swap, the live checkpoint. */
  cursor: string | null;
  position: number | null;
}

export interface RebuildReport {
  projections: ProjectionOutcome[];
  /** Events read from the log by this run. */
  events: number;
  swapped: boolean;
  /** With `dryRun`, what a swap would change. */
  comparisons?: Comparison[];
}

const shadowPlace = (live: { schema: string }) => ({ schema: live.schema, suffix: shadowSuffix });

/** Leaves half of each page free in tables rebuilt by in-place updates, so those stay on their page. */
const inPlaceFillfactor = 50;

/**
 * Rebuilds projections into shadow tables beside the live ones, from the start of the log (or from
 * where an interrupted rebuild stopped), while the app keeps serving the live tables; builds their
 * indexes concurrently; catches up until little is left; then swaps the shadow tables in, with the
 * checkpoints, in one short transaction. No transaction of it holds a transaction id for long: each
 * would hold every reader of the log back (docs/rebuild.md, "What blocks, and for how long"). One
 * rebuild per projection at a time (advisory locks).
 */
export async function rebuildProjections(options: RebuildOptions): Promise<RebuildReport> {
  const { pool, store, signal, logger } = options;
  const batchSize = options.batchSize ?? 5_000;
  const transactionBudgetMs = options.transactionBudgetMs === 0 ? undefined : (options.transactionBudgetMs ?? 50);
  const names = options.projections.map((projection) => projection.name);
  return withRebuildLocks(
    pool,
    names.map((name) => `rebuild:${name}`),
    async () => {
      const plans: ProjectionPlan[] = [];
      for (const projection of options.projections) plans.push(await planProjection(pool, projection, shadowPlace));
      const outcomes = await prepareShadows(pool, plans, options.restart === true, logger);

      let events = 0;
      /** Applies the log up to the head as it is now, a batch per transaction; returns the events read. */
      const build = async (phase: RebuildProgress['phase']): Promise<number> => {
        const extent = await logExtent(pool);
        const from = Math.min(...plans.map((plan) => plan.target.position ?? (extent.first ?? 1) - 1));
        const total = extent.last === null ? 0 : Math.max(0, extent.last - from);
        let done = 0;
        options.onProgress?.({ phase, events: 0, total });
        // Up to the head as it is now: under a steady stream of writes a phase still ends (the swap takes the rest).
        const head = await store.headCursor();
        const read = await projectLog({
          store,
          pool,
          targets: plans.map((plan) => plan.target),
          batchSize,
          transactionBudgetMs,
          stopAfter: head,
          signal,
          logger,
          record: (tx, targets, read) => saveProgress(tx, targetsProgress(targets, read)),
          onBatch: (batch) => {
            done += batch.events;
            options.onProgress?.({ phase, events: done, total: Math.max(total, done) });
          },
        });
        events += read;
        return read;
      };
      // Catches up in batches until what is left fits in the swap's bounded last catch-up.
      const catchUp = async (): Promise<void> => {
        for (let pass = 0; pass < maxCatchUpPasses; pass++) {
          await build('catch-up');
          if ((await gapBehind(pool, lowestCursor(plans), swapGap)) <= swapGap) return;
        }
      };

      const dryRun = options.dryRun === true;
      try {
        try {
          await build('build');
          // Indexes built CONCURRENTLY, on the pool: no transaction id held while they build.
          for (const plan of plans) for (const table of plan.live) await completeTwin(pool, table, plan.place(table));
          // Building the indexes took a while: catch up again before comparing or swapping.
          await catchUp();
        } catch (error) {
          if (signal?.aborted === true) throw new LakechatError('LAKECHAT_ERR_REBUILD_INTERRUPTED', undefined, { cause: error });
          throw error;
        }

        const report = (swapped: boolean, comparisons?: Comparison[]): RebuildReport => ({
          projections: plans.map((plan) => ({ ...outcomes.get(plan.projection.name)!, cursor: plan.target.cursor, position: plan.target.position })),
          events,
          swapped,
          ...(comparisons === undefined ? {} : { comparisons }),
        });
        if (dryRun) return report(false, await compareWithLive({ pool, store, plans, batchSize, transactionBudgetMs, maxGap: swapGap, catchUp, logger }));
        signal?.throwIfAborted();
        await options.beforeSwap?.();
        await swapIn({ pool, store, plans, batchSize, maxGap: swapGap, catchUp, lockTimeoutMs: options.swapLockTimeoutMs ?? 2_000, logger });
        logger?.info({ projections: names, cursor: plans[0]?.target.cursor }, 'rebuilt projections swapped in');
        return report(true);
      } finally {
        // A dry run leaves nothing behind, whatever happened: no shadow tables, no saved progress.
        if (dryRun) {
          await dropShadows(pool, plans).catch((error: unknown) => logger?.warn({ err: error }, 'could not drop the shadow tables of the dry run (--abandon drops them)'));
        }
      }
    },
  );
}

/** Events at most in the swap's last catch-up, under its locks (more: it catches up outside first). */
const swapGap = 1_000;
const maxCatchUpPasses = 10;

async function dropShadows(pool: DatabasePool, plans: readonly ProjectionPlan[]): Promise<void> {
  await pool.transaction(async (tx) => {
    for (const plan of plans) for (const table of plan.live) await dropTwin(tx, table, plan.place(table));
    await clearProgress(
      tx,
      plans.map((plan) => plan.projection.name),
    );
  });
}

/** Resumes each projection's shadow tables where its saved progress says, or makes them anew. */
async function prepareShadows(
  pool: DatabasePool,
  plans: readonly ProjectionPlan[],
  restart: boolean,
  logger: Logger | undefined,
): Promise<Map<string, Omit<ProjectionOutcome, 'cursor' | 'position'>>> {
  const saved = await readProgress(
    pool,
    plans.map((plan) => plan.projection.name),
  );
  const outcomes = new Map<string, Omit<ProjectionOutcome, 'cursor' | 'position'>>();
  for (const plan of plans) {
    const name = plan.projection.name;
    const progress = saved.get(name);
    let reason: ProjectionOutcome['startedBecause'] = null;
    if (restart) reason = 'asked to restart';
    else if (progress === undefined) reason = 'no saved progress';
    else if (progress.fingerprint !== plan.fingerprint) reason = 'tables or code changed';
    else {
      for (const table of plan.live) {
        const place = plan.place(table);
        if ((await describeTable(pool, table.logicalName, place.schema, twinTableName(table, place))) === null) reason = 'shadow tables missing';
      }
    }
    if (reason === null) {
      plan.target.cursor = progress!.cursor;
      plan.target.position = progress!.position;
      outcomes.set(name, { name, resumedFrom: progress!.cursor, startedBecause: null });
      logger?.info({ projection: name, cursor: progress!.cursor, events: progress!.events }, 'resuming an interrupted rebuild');
      continue;
    }
    await pool.transaction(async (tx) => {
      for (const table of plan.live) {
        const place = plan.place(table);
        await dropTwin(tx, table, place);
        await createTwin(tx, table, place, { fillfactor: plan.projection.tables[table.logicalName]?.updatedInPlace === true ? inPlaceFillfactor : undefined });
      }
      await startProgress(tx, name, plan.fingerprint);
    });
    plan.applier.startEmpty();
    outcomes.set(name, { name, resumedFrom: null, startedBecause: reason });
    logger?.info({ projection: name, because: reason }, 'rebuilding from the beginning of the log');
  }
  return outcomes;
}
