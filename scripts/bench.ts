import '../src/node-version.ts'; // first: on an older Node, say so before anything else loads
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.ts';
import { abuseScenario } from './bench/abuse.ts';
import { appendScenario } from './bench/append.ts';
import { batchScenario } from './bench/batch.ts';
import { catchupScenario } from './bench/catchup.ts';
import { eraseScenario } from './bench/erase.ts';
import { exportScenario } from './bench/export.ts';
import { httpScenario } from './bench/http.ts';
import { liveScenario } from './bench/live.ts';
import { memoryScenario } from './bench/memory.ts';
import { readallScenario } from './bench/readall.ts';
import { rebuildScenario } from './bench/rebuild.ts';
import { rebuildLiveScenario } from './bench/rebuild-live.ts';
import type { BenchContext, BenchRow, BenchScenario } from './bench/scenario.ts';
import { closeSeededLogs } from './bench/support.ts';
import { wsScenario } from './bench/ws.ts';

/**
 * `npm run bench [-- --only a,b]`: runs the scenarios against BENCH_DATABASE_URL, or against a
 * PostgreSQL 16 it starts itself exactly as the tests do; prints a table, then one JSON line with
 * every figure. Not a test: nothing here passes or fails, it measures.
 */
const scenarios: BenchScenario[] = [
  appendScenario,
  batchScenario,
  readallScenario,
  catchupScenario,
  liveScenario,
  memoryScenario,
  httpScenario,
  wsScenario,
  rebuildScenario,
  rebuildLiveScenario,
  exportScenario,
  abuseScenario,
  eraseScenario,
];

function parseOnly(argv: readonly string[]): Set<string> | undefined {
  const index = argv.findIndex((arg) => arg === '--only' || arg.startsWith('--only='));
  if (index === -1) return undefined;
  const value = argv[index]!.includes('=') ? argv[index]!.split('=')[1]! : (argv[index + 1] ?? '');
  const names = new Set(
    value
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name.length > 0),
  );
  const unknown = [...names].filter((name) => !scenarios.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown scenario(s) ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}\n`);
    process.exit(64);
  }
  return names;
}

function formatTable(rows: readonly BenchRow[]): string {
  const header = ['scenario', 'metric', 'value', 'unit', 'baseline', 'ratio', 'target'];
  const cells = rows.map((row) => [
    row.scenario,
    row.metric,
    String(row.value),
    row.unit,
    row.baseline === undefined ? '' : String(row.baseline),
    row.ratio === undefined ? '' : row.ratio.toFixed(2),
    row.target ?? '',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((value, column) => value.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const only = parseOnly(process.argv.slice(2));
  const config = loadConfig();
  const local = config.env.BENCH_DATABASE_URL === undefined ? await startEmbeddedPostgres() : undefined;
  const adminDatabaseUrl = config.env.BENCH_DATABASE_URL ?? local!.url;
  const created: string[] = [];
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminDatabaseUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  const context: BenchContext = {
    adminDatabaseUrl,
    async createDatabase(prefix) {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      await admin(`CREATE DATABASE ${name}`);
      created.push(name);
      const url = new URL(adminDatabaseUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
  };

  const rows: BenchRow[] = [];
  const figures: Record<string, number> = {};
  const started = performance.now();
  try {
    for (const scenario of scenarios) {
      if (only !== undefined && !only.has(scenario.name)) continue;
      const scenarioStarted = performance.now();
      process.stderr.write(`bench: ${scenario.name}...\n`);
      const result = await scenario.run(context);
      rows.push(...result.rows);
      Object.assign(figures, result.figures);
      process.stderr.write(`bench: ${scenario.name} took ${((performance.now() - scenarioStarted) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await closeSeededLogs();
    for (const name of created) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await local?.stop();
  }
  process.stdout.write(`${formatTable(rows)}\n\n`);
  process.stderr.write(`bench: total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

await main();
