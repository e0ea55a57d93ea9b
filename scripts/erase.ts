import '../src/node-version.ts'; // first: on an older Node, say so before anything else loads
import { userInfo } from 'node:os';
import { invalidArgument, openScriptDatabase, ProgressMeter, parseFlags, runScript } from '../src/cli/index.ts';
import { loadConfig } from '../src/config.ts';
import { countOwnerData, type ErasureRecord, Erasures } from '../src/erasure/index.ts';
import { createLogger } from '../src/logger.ts';
import { openProjections } from '../src/projection-runner/index.ts';

/**
 * `npm run erase -- --user <email> [--dry-run] [--requested-by <name>]`: erases everything of a user,
 * as DELETE /api/me does (docs/privacy.md). Without --user: takes up the erasures left open.
 */
await runScript('erase', async (signal) => {
  const flags = parseFlags(process.argv.slice(2), {
    user: { type: 'string' },
    'dry-run': { type: 'boolean' },
    'requested-by': { type: 'string' },
    batch: { type: 'string' },
  });
  const user = flags.user?.trim().toLowerCase();
  if (user !== undefined && !user.includes('@')) throw invalidArgument('user', 'must be an email address');
  const requestedBy = flags['requested-by'] ?? userInfo().username;
  const config = loadConfig();
  const logger = createLogger({ level: 'warn', destination: process.stderr as never });
  const database = await openScriptDatabase(config, logger, { poolSize: 4, migrate: true });
  try {
    if (flags['dry-run'] === true) {
      if (user === undefined) throw invalidArgument('dry-run', 'needs --user');
      const counts = await countOwnerData(database.pool, user);
      process.stdout.write(`would erase (nothing changed):\n${formatCounts(counts)}`);
      return;
    }
    // A runner of the read models here too, so the erasure can wait for them to pass what it erased
    // (several runners share the work safely); the app's instances may be running or not.
    const projections = await openProjections({ store: database.store, pool: database.pool, logger });
    const meter = new ProgressMeter(process.stderr, 'erasing events');
    const erasures = new Erasures({
      store: database.store,
      projections,
      pool: database.pool,
      logger,
      signal,
      ...(flags.batch === undefined ? {} : { batchSize: Number(flags.batch) }),
      afterBatch: (_record, erased) => meter.update(erased),
    });
    try {
      const done: ErasureRecord[] = [];
      if (user !== undefined) {
        const counts = await countOwnerData(database.pool, user);
        meter.phase(
          'erasing events',
          Object.values(counts.events).reduce((sum, n) => sum + n, 0),
        );
        const { record } = await erasures.records.open(user, requestedBy);
        done.push(await erasures.run(record));
      }
      // Erasures left open by a run that was killed, this user's included if it was one of them.
      for (const record of await erasures.resumeOpen()) if (!done.some((d) => d.id === record.id)) done.push(record);
      meter.finish(done.reduce((sum, record) => sum + record.eventsErased, 0));
      process.stdout.write(done.length === 0 ? 'no erasure to run\n' : done.map(summary).join(''));
    } finally {
      await projections.runner.stop();
    }
  } finally {
    await database.close();
  }
});

function formatCounts(counts: { events: Record<string, number>; rows: Record<string, number> }): string {
  const lines = [...Object.entries(counts.events).map(([type, n]) => `  events ${type}: ${n}`), ...Object.entries(counts.rows).map(([table, n]) => `  rows in ${table}: ${n}`)];
  return lines.length === 0 ? '  nothing: no event or row of this user\n' : `${lines.join('\n')}\n`;
}

function summary(record: ErasureRecord): string {
  return (
    `erasure ${record.id}: ${record.state}, ${record.eventsErased} events and ${record.rowsErased} rows erased, ` +
    `requested by ${record.requestedBy}${record.resumed > 0 ? `, resumed ${record.resumed} time(s) after an interruption` : ''}\n`
  );
}
