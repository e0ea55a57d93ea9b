import type { DatabasePool } from 'slonik';
import type { AnyReadModel } from '../projection-runner/index.ts';
import { withRebuildLocks } from './rebuild-lock.ts';
import { planProjection } from './rebuild-plan.ts';
import { clearProgress } from './rebuild-progress.ts';
import { dropTwin, shadowSuffix } from './shadow-tables.ts';

/** Drops an interrupted (or dry-run) rebuild's shadow tables and progress; the live tables are untouched. */
export async function abandonRebuild(pool: DatabasePool, projections: readonly AnyReadModel[]): Promise<void> {
  const names = projections.map((projection) => projection.name);
  await withRebuildLocks(
    pool,
    names.map((name) => `rebuild:${name}`),
    async () => {
      await pool.transaction(async (tx) => {
        for (const projection of projections) {
          const plan = await planProjection(tx, projection, (live) => ({ schema: live.schema, suffix: shadowSuffix }));
          for (const table of plan.live) await dropTwin(tx, table, plan.place(table));
        }
        await clearProgress(tx, names);
      });
    },
  );
}
