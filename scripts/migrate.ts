import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { runMigrations } from '../src/migrate.ts';

/** `npm run migrate`: applies migrations/ to the database of LAKEBASE_PG_URL (the server also does at start-up). */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel });
const url = config.env.LAKEBASE_PG_URL;
if (url === undefined) {
  logger.error('LAKEBASE_PG_URL is not set: nothing to migrate');
  process.exit(78); // EX_CONFIG
}
try {
  const result = await runMigrations({ connectionString: url }, logger);
  logger.info({ applied: result.applied, version: result.version }, result.applied.length > 0 ? 'migrations applied' : 'database already up to date');
} catch (error) {
  logger.error({ err: error }, 'migration failed');
  process.exit(1);
}
