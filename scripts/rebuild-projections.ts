import '../src/node-version.ts'; // first: on an older Node, say so before anything else loads
import { openScriptDatabase, ProgressMeter, parseFlags, pickProjections, positiveInt, runScript } from '../src/cli/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { abandonRebuild, type RebuildReport, rebuildProjections } from '../src/rebuild/index.ts';

const usage = `npm run projections:rebuild -- [--projection NAME]... [--batch-size N] [--transaction-ms N] [--dry-run] [--restart] [--abandon]
See docs/rebuild.md.`;

/**
 * `npm run projections:rebuild`: rebuilds read models from the whole log into shadow tables while the
 * app keeps serving, then swaps them in with their checkpoints; resumes when interrupted. Progress on
 * stderr, the outcome on stdout.
 */
await runScript('projections:rebuild', async (signal) => {
  const flags = parseFlags(process.argv.slice(2), {
    projection: { type: 'string', multiple: true },
    'batch-size': { type: 'string' },
    'dry-run': { type: 'boolean' },
    restart: { type: 'boolean' },
    abandon: { type: 'boolean' },
    'lock-timeout-ms': { type: 'string' },
    'transaction-ms': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (flags.help === true) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const projections = pickProjections(flags.projection);
  const batchSize = positiveInt('batch-size', flags['batch-size'], 5_000, 100_000);
  const lockTimeoutMs = positiveInt('lock-timeout-ms', flags['lock-timeout-ms'], 2_000, 600_000);
  // 0: fixed batches of --batch-size (an offline rebuild, nobody waiting).
  const transactionBudgetMs = flags['transaction-ms'] === '0' ? 0 : positiveInt('transaction-ms', flags['transaction-ms'], 50, 60_000);
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, destination: process.stderr as never });
  const database = await openScriptDatabase(config, logger, { poolSize: 8, migrate: true });
  try {
    if (flags.abandon === true) {
      await abandonRebuild(database.pool, projections);
      process.stdout.write(`Dropped the shadow tables and saved progress of: ${projections.map((p) => p.name).join(', ')}\n`);
      return;
    }
    const meter = new ProgressMeter(process.stderr, 'rebuild');
    let phase = '';
    let done = 0;
    const report = await rebuildProjections({
      pool: database.pool,
      store: database.store,
      projections,
      batchSize,
      transactionBudgetMs,
      dryRun: flags['dry-run'] === true,
      restart: flags.restart === true,
      swapLockTimeoutMs: lockTimeoutMs,
      signal,
      logger,
      onProgress: (progress) => {
        if (progress.phase !== phase) {
          phase = progress.phase;
          meter.phase(progress.phase === 'build' ? 'rebuild ' : 'catch-up', progress.total);
        }
        done = progress.events;
        meter.update(progress.events, progress.events === 0);
      },
    });
    meter.finish(done);
    process.stdout.write(describe(report));
  } finally {
    await database.close();
  }
});

function describe(report: RebuildReport): string {
  const lines: string[] = [];
  for (const outcome of report.projections) {
    const start = outcome.resumedFrom === null ? `from the beginning (${outcome.startedBecause})` : `resumed after ${outcome.resumedFrom}`;
    lines.push(`${outcome.name}: ${start}; now at ${outcome.cursor ?? '(empty log)'}`);
  }
  lines.push(`${report.events} events read.`);
  if (report.swapped) lines.push('Swapped in: the live tables are the rebuilt ones, their checkpoints moved with them.');
  for (const comparison of report.comparisons ?? []) {
    const note = comparison.rebuiltAhead ? ' (the rebuilt tables were past the live checkpoint: differences include the events in between)' : '';
    lines.push(`dry run, ${comparison.name} at ${comparison.liveCursor ?? '(start)'}${note}:`);
    for (const table of comparison.tables) {
      lines.push(`  ${table.table}: ${table.added} added, ${table.removed} removed, ${table.changed} changed (live ${table.liveRows} rows, rebuilt ${table.rebuiltRows})`);
    }
  }
  if (report.comparisons !== undefined) lines.push('Nothing swapped, nothing left behind (the rebuilt tables were dropped).');
  return `${lines.join('\n')}\n`;
}
