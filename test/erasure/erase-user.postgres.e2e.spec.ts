import { sql } from 'slonik';
import { allProjections } from '../../src/projection-runner/index.ts';
import { rebuildProjections } from '../../src/rebuild/index.ts';
import { postgresApp } from '../http/app-under-test.ts';
import { databaseText } from './database-text.ts';
import { describeUserErasure } from './erase-user.ts';

describeUserErasure('PostgreSQL', async () => {
  const t = await postgresApp();
  return {
    t,
    dump: () => databaseText(t.bed.database.url),
    rebuild: async () => {
      const dry = await rebuildProjections({ pool: t.bed.pool, store: t.store, projections: allProjections, dryRun: true });
      const differences = (dry.comparisons ?? []).flatMap((comparison) => comparison.tables).reduce((sum, diff) => sum + diff.added + diff.removed + diff.changed, 0);
      await rebuildProjections({ pool: t.bed.pool, store: t.store, projections: allProjections });
      await t.bed.pool.query(sql.unsafe`SELECT 1`);
      return differences;
    },
  };
});
