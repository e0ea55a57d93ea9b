import { fileURLToPath } from 'node:url';
import pg from 'pg';
import Postgrator from 'postgrator';
import { LakechatError } from './errors.ts';
import { isAuthenticationFailure, type LakebasePool } from './lakebase/index.ts';
import type { Logger } from './logger.ts';

/** Everyone who migrates this database takes this lock first (an arbitrary, fixed 64-bit key). */
const migrationLockKey = '7283916450192837461';

const migrationsFolder = fileURLToPath(new URL('../migrations/', import.meta.url));

export interface MigrationResult {
  /** Versions this run applied (empty when another instance, or an earlier run, already had). */
  applied: number[];
  version: number;
}

/**
 * Applies the SQL files in migrations/ with postgrator, on a dedicated connection holding a session
 * advisory lock: instances starting together queue here, and the second finds nothing left to do.
 */
export async function runMigrations(clientConfig: pg.ClientConfig, logger?: Logger): Promise<MigrationResult> {
  const client = new pg.Client({ application_name: 'lakechat-migrate', ...clientConfig });
  client.on('error', (error) => logger?.warn({ err: error }, 'migration connection error'));
  try {
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1::int8)', [migrationLockKey]);
    const postgrator = new Postgrator({
      migrationPattern: `${migrationsFolder}*.sql`,
      driver: 'pg',
      // No `database`: postgrator would paste it into SQL; information_schema shows only this one anyway.
      schemaTable: 'schemaversion',
      execQuery: (query) => client.query(query),
    });
    postgrator.on('migration-started', (migration) => logger?.info({ version: migration.version, name: migration.name }, 'applying migration'));
    const applied = await postgrator.migrate();
    const version = await postgrator.getDatabaseVersion();
    return { applied: applied.map((migration) => migration.version), version };
  } catch (error) {
    if (error instanceof LakechatError) throw error;
    throw new LakechatError('LAKECHAT_ERR_MIGRATION_FAILED', undefined, { cause: error });
  } finally {
    // Ending the session releases the advisory lock too.
    await client.end().catch(() => undefined);
  }
}

/**
 * The migrations on a Lakebase pool's own connection, with its current token; a token refused at
 * login (revoked, or expired between issue and use) is replaced once. The server and the scripts
 * both start this way.
 */
export async function migrateLakebase(lakebase: Pick<LakebasePool, 'clientConfig' | 'tokens'>, logger: Logger): Promise<MigrationResult> {
  const config = await lakebase.clientConfig();
  try {
    return await runMigrations(config, logger);
  } catch (error) {
    if (lakebase.tokens === undefined || !isAuthenticationFailure(error)) throw error;
    // Only the token this login used: one refreshed meanwhile is kept.
    lakebase.tokens.invalidate(typeof config.password === 'string' ? config.password : undefined);
    return runMigrations(await lakebase.clientConfig(), logger);
  }
}
