import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DatabasePool, sql } from 'slonik';
import { z } from 'zod';
import { selectRow } from '../projection-runner/index.ts';

const migrationsFolder = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** The highest migration this build ships (the NNN of the last `NNN.do.sql`). */
export function latestMigration(): number {
  const versions = readdirSync(migrationsFolder)
    .map((name) => /^(\d+)\.do\.sql$/.exec(name)?.[1])
    .filter((version) => version !== undefined)
    .map(Number);
  return Math.max(0, ...versions);
}

const versionRow = z.object({ version: z.coerce.number().nullable() });

/**
 * For /ready: true when the database has every migration this build ships. Reads postgrator's own
 * table (`schemaversion`, as src/migrate.ts names it); a database that was never migrated is not ready.
 */
export function migrationsAppliedOn(pool: DatabasePool): () => Promise<boolean> {
  const latest = latestMigration();
  return async () => {
    const exists = await pool.maybeOneFirst(sql.unsafe`SELECT to_regclass('schemaversion') IS NOT NULL`);
    if (exists !== true) return false;
    const row = await selectRow(pool, versionRow, sql.unsafe`SELECT max(version)::int8 AS version FROM schemaversion`);
    return (row?.version ?? 0) >= latest;
  };
}
