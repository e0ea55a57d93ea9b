import '../src/node-version.ts'; // first: on an older Node, say so before anything else loads
import { formatDuration, openScriptDatabase, parseFlags, pickProjections, runScript } from '../src/cli/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { projectionsStatus, type StatusReport } from '../src/rebuild/index.ts';

/** `npm run projections:status`: per projection, its cursor, its lag behind the log, and any rebuild. */
await runScript('projections:status', async () => {
  const flags = parseFlags(process.argv.slice(2), { projection: { type: 'string', multiple: true }, json: { type: 'boolean' } });
  const config = loadConfig();
  const logger = createLogger({ level: 'warn', destination: process.stderr as never });
  const database = await openScriptDatabase(config, logger, { poolSize: 2, migrate: false });
  try {
    const report = await projectionsStatus(database.pool, pickProjections(flags.projection));
    process.stdout.write(flags.json === true ? `${JSON.stringify(report, null, 2)}\n` : table(report));
  } finally {
    await database.close();
  }
});

function table(report: StatusReport): string {
  const rows = [['projection', 'cursor', 'position', 'lag (events)', 'lag (time)', 'rebuild']];
  for (const status of report.projections) {
    const rebuild =
      status.rebuild === null
        ? '-'
        : `${status.rebuild.state}, at ${status.rebuild.position ?? 'start'} (${status.rebuild.events} events read${status.rebuild.updatedAt === null ? '' : `, last saved ${status.rebuild.updatedAt.toISOString()}`})`;
    rows.push([
      status.name,
      status.cursor ?? '(none)',
      status.position === null ? '-' : String(status.position),
      `${status.lag.events}${status.lag.capped ? '+' : ''}`,
      status.lag.events === 0 ? '0s' : formatDuration(status.lag.seconds),
      rebuild,
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
  const parked = report.parkedEvents === 0 ? '' : `parked events (the live projections could not apply them; see docs/operations.md): ${report.parkedEvents}\n`;
  return `${lines.join('\n')}\nhead of the log: position ${report.headPosition ?? '(empty)'}\n${parked}`;
}
