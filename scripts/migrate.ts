import '../src/node-version.ts'; // first: on an older Node, say so before anything else loads
import { loadConfig } from '../src/config.ts';
import { detectMode, pgClientConfig, resolveConnection } from '../src/lakebase/index.ts';
import { createLogger } from '../src/logger.ts';
import { runMigrations } from '../src/migrate.ts';

/**
 * `npm run migrate`: applies migrations/ to the configured database, in any connection mode (a URL,
 * the PG* variables, an instance or an endpoint, with a fresh token); the server also does at start-up.
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, format: config.logFormat });
const decision = detectMode(config.env);
if (decision.mode === 'memory') {
  logger.error(`No database configured (${decision.reason}): nothing to migrate`);
  process.exit(78); // EX_CONFIG
}
try {
  const resolved = await resolveConnection(config);
  const password = resolved.credential.kind === 'token' ? (await resolved.credential.source.fetch()).token : resolved.credential.secret();
  const result = await runMigrations(pgClientConfig(resolved, password, 'migrate'), logger);
  logger.info({ applied: result.applied, version: result.version }, result.applied.length > 0 ? 'migrations applied' : 'database already up to date');
} catch (error) {
  logger.error({ err: error }, 'migration failed');
  process.exit(1);
}
