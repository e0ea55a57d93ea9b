import { loadConfig } from '../src/config.ts';
import { repairCopiedLog } from '../src/event-store/index.ts';
import { detectMode, pgClientConfig, resolveConnection } from '../src/lakebase/index.ts';
import { createLogger } from '../src/logger.ts';

/**
 * `npm run repair:copied-log`: renumbers the transaction ids of an event log copied from another
 * PostgreSQL cluster (and every stored cursor with them), so that new events sort after it. Run it
 * with every instance stopped; see docs/operations.md ("A copied database").
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel });
const decision = detectMode(config.env);
if (decision.mode === 'memory') {
  logger.error(`No database configured (${decision.reason}): nothing to repair`);
  process.exit(78); // EX_CONFIG
}
try {
  const resolved = await resolveConnection(config);
  const password = resolved.credential.kind === 'token' ? (await resolved.credential.source.fetch()).token : resolved.credential.secret();
  const result = await repairCopiedLog(pgClientConfig(resolved, password, 'repair-copied-log'), {
    log: (line) => process.stdout.write(`${line}\n`),
    // The log's transaction ids mean something else now: the next epoch names it in cursors (migration 031).
    onRemapped: async (client) => {
      await client.query('UPDATE store_epoch SET epoch = epoch + 1, changed_at = now()');
    },
  });
  process.stdout.write(
    result.repaired
      ? `repaired: ${result.events} events in ${result.transactions} transactions renumbered; every stored cursor remapped. Clients' old cursors no longer apply: they resume from the start of what they keep.\n`
      : 'nothing to repair\n',
  );
} catch (error) {
  logger.error({ err: error }, 'repair failed; nothing was changed');
  process.exit(1);
}
