import '../src/node-version.ts'; // first: on an older Node, say so before anything else loads
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { checkFlags, invalidArgument, openScriptDatabase, ProgressMeter, parseFlags, pickProjections, positiveInt, runScript } from '../src/cli/index.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { buildAsOf, logExtent } from '../src/rebuild/index.ts';
import { exportEvents, lineFormats, type ReplayFormat, replayFilterSchema, replayFormats, resolveAsOf, streamAsOf, type TextSink, toReplayFilter } from '../src/replay/index.ts';

const usage = `npm run replay -- [filters] [--format ndjson|csv|json] [--out FILE] [--limit N]
npm run replay -- --as-of TIME|POSITION|CURSOR --stream STREAM_ID
npm run replay -- --as-of TIME|POSITION|CURSOR --into SCHEMA [--projection NAME]...

filters: --after CURSOR  --from-position N  --to-position N  --since TIME  --until TIME
         --type TYPE (repeatable)  --stream STREAM_ID  --stream-prefix PREFIX  --user EMAIL
See docs/replay.md.`;

/**
 * `npm run replay`: the event log as files analysts' tools read (NDJSON, CSV, JSON), to stdout or a
 * file, with constant memory; or the state as it was at a moment (`--as-of`), of one stream or of every
 * read model, built into a schema of its own. Progress goes to stderr when it is a terminal.
 */
await runScript('replay', async (signal) => {
  const flags = parseFlags(process.argv.slice(2), {
    after: { type: 'string' },
    'from-position': { type: 'string' },
    'to-position': { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    type: { type: 'string', multiple: true },
    stream: { type: 'string' },
    'stream-prefix': { type: 'string' },
    user: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    limit: { type: 'string' },
    'as-of': { type: 'string' },
    into: { type: 'string' },
    projection: { type: 'string', multiple: true },
    'batch-size': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (flags.help === true) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const input = checkFlags(replayFilterSchema, {
    after: flags.after,
    fromPosition: flags['from-position'],
    toPosition: flags['to-position'],
    since: flags.since,
    until: flags.until,
    type: flags.type,
    stream: flags.stream,
    streamPrefix: flags['stream-prefix'],
    user: flags.user,
  });
  const format = (flags.format ?? 'ndjson') as ReplayFormat;
  if (!replayFormats.includes(format)) throw invalidArgument('format', `one of ${replayFormats.join(', ')}`);
  const limit = flags.limit === undefined ? undefined : positiveInt('limit', flags.limit, 0);
  const asOfText = flags['as-of'];
  if (flags.into !== undefined && asOfText === undefined) throw invalidArgument('into', 'goes with --as-of');
  if (asOfText !== undefined && flags.into === undefined && flags.stream === undefined) throw invalidArgument('as-of', 'needs --stream STREAM_ID or --into SCHEMA');
  if (asOfText !== undefined && flags.into !== undefined && flags.stream !== undefined) throw invalidArgument('as-of', 'takes --stream or --into, not both');
  if (asOfText !== undefined) {
    const alone = ['after', 'from-position', 'to-position', 'since', 'until', 'type', 'stream-prefix', 'user', 'format', 'out', 'limit'] as const;
    const extra = alone.find((flag) => flags[flag] !== undefined);
    if (extra !== undefined) throw invalidArgument(extra, 'does not go with --as-of (the state is built from every event up to the moment)');
  }

  const config = loadConfig();
  const logger = createLogger({ level: config.env.LOG_LEVEL === 'info' ? 'warn' : config.logLevel, format: config.logFormat, destination: process.stderr as never });
  const database = await openScriptDatabase(config, logger, { poolSize: 4, migrate: false });
  try {
    if (asOfText !== undefined) {
      const asOf = await resolveAsOf(database.store, asOfText);
      if (flags.into === undefined) {
        const state = await streamAsOf(database.store, flags.stream!, asOf);
        process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
        return;
      }
      const meter = new ProgressMeter(process.stderr, `as of ${asOfText}`);
      const report = await buildAsOf({
        pool: database.pool,
        store: database.store,
        projections: pickProjections(flags.projection),
        schema: flags.into,
        asOf,
        batchSize: positiveInt('batch-size', flags['batch-size'], 10_000, 100_000),
        signal,
        logger,
        onProgress: (events) => meter.update(events),
      });
      meter.finish(report.events);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }

    const filter = toReplayFilter(input);
    // A cursor of another store (another database, or this one before a repair) means other events.
    if (typeof filter.after === 'string') await database.store.checkCursor(filter.after);
    const out = flags.out === undefined ? process.stdout : createWriteStream(flags.out);
    // A reader that goes away (| head) ends the replay quietly.
    out.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
    });
    // A total, for the bar and the ETA, only when the filters are positions alone.
    const onlyPositions = Object.keys(filter).every((key) => key === 'fromPosition' || key === 'toPosition');
    let total: number | null = null;
    if (onlyPositions && process.stderr.isTTY) {
      const extent = await logExtent(database.pool);
      if (extent.first !== null && extent.last !== null) {
        total = Math.max(0, Math.min(filter.toPosition ?? extent.last, extent.last) - Math.max(filter.fromPosition ?? extent.first, extent.first) + 1);
        if (limit !== undefined) total = Math.min(total, limit);
      }
    }
    const meter = new ProgressMeter(process.stderr, 'replay', total);
    const result = await exportEvents({
      store: database.store,
      database: database.pool,
      filter,
      format: lineFormats[format],
      out: out as TextSink,
      limit,
      signal,
      onProgress: (events) => meter.update(events),
    });
    meter.finish(result.events);
    if (out !== process.stdout) {
      out.end();
      await finished(out);
    }
    if (process.stderr.isTTY) process.stderr.write(`replay: ${result.events} events; continue with --after ${result.cursor ?? '(the beginning)'}\n`);
  } finally {
    await database.close();
  }
});
