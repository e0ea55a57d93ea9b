// SCRATCH: PG-side cost of the append statement forms, serial, synchronous_commit off (no flush).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.ts';
import { runMigrations } from '../src/migrate.ts';
import { insertIfVersionsHold } from '../src/event-store/postgres/append-sql.ts';
import { optimisticGroup } from '../src/event-store/postgres/decide-group.ts';
import { prepareAppend } from '../src/event-store/validate-append.ts';
import type { QuerySqlToken } from 'slonik';
const server = await startEmbeddedPostgres();
await runMigrations({ connectionString: server.url });
const c = new pg.Client({ connectionString: server.url });
await c.connect();
await c.query('SET synchronous_commit = off');
const g = new pg.Client({ connectionString: server.url });
await g.connect();
await g.query('SET synchronous_commit = off');
await g.query('SET plan_cache_mode = force_generic_plan');
await c.query('CREATE TABLE raw_events (LIKE events INCLUDING ALL)');
const capture = (append: ReturnType<typeof prepareAppend>): QuerySqlToken => {
  let captured: QuerySqlToken | undefined;
  const fake = { query: async (q: QuerySqlToken) => { captured = q; return { rows: [] }; } };
  const { checks, columns } = optimisticGroup([append]);
  void insertIfVersionsHold(fake as never, checks, columns);
  return captured!;
};
const streams = 1000; const v = { raw: new Array(streams).fill(0), gen: new Array(streams).fill(0), one: new Array(streams).fill(0), gg: new Array(streams).fill(0) };
let n = 0;
const data = () => ({ chatId: 'c', text: `message ${n}: a line of chat about the weather, the news and lunch plans` });
const meta = () => ({ actor: 'u@example.com', correlationId: randomUUID(), client: 'bench' });
const single = `INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, owner, text_escaped)
  SELECT $1, head.version + 1, $2, $3, 1, $4::jsonb, $5::jsonb, $6, false
  FROM (SELECT coalesce((SELECT stream_version FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1), 0) AS version) AS head
  WHERE head.version = $7
  RETURNING event_id::text AS event_id, position, tx_id::text AS tx, stream_version AS version`;
const ops = {
  raw: async () => { const s = n++ % streams; v.raw[s]++; await c.query({ name: 'raw', text: "INSERT INTO raw_events (stream_id, stream_version, event_id, event_type, data, metadata, owner) VALUES ($1, $2, $3, 'MessagePosted', $4, $5, $6) RETURNING position", values: [`r-${s}`, v.raw[s], randomUUID(), JSON.stringify(data()), JSON.stringify(meta()), 'u@example.com'] }); },
  general: async () => { const s = n++ % streams; const q = capture(prepareAppend(`g-${s}`, [{ type: 'MessagePosted', data: data(), metadata: meta() }], { expectedVersion: v.gen[s], owner: 'u@example.com' })); const r = await c.query({ name: (q as { name?: string }).name, text: q.sql.replaceAll('$slonik_', '$'), values: q.values as unknown[] }); if (r.rows.length !== 1) throw new Error('gen'); v.gen[s]++; },
  generalGeneric: async () => { const s = n++ % streams; const q = capture(prepareAppend(`gg-${s}`, [{ type: 'MessagePosted', data: data(), metadata: meta() }], { expectedVersion: v.gg[s], owner: 'u@example.com' })); const r = await g.query({ name: (q as { name?: string }).name, text: q.sql.replaceAll('$slonik_', '$'), values: q.values as unknown[] }); if (r.rows.length !== 1) throw new Error('gg'); v.gg[s]++; },
  captureOnly: async () => { const s = n++ % streams; capture(prepareAppend(`x-${s}`, [{ type: 'MessagePosted', data: data(), metadata: meta() }], { expectedVersion: 0, owner: 'u@example.com' })); await Promise.resolve(); },
  single: async () => { const s = n++ % streams; const r = await c.query({ name: 'single', text: single, values: [`o-${s}`, randomUUID(), 'MessagePosted', JSON.stringify(data()), JSON.stringify(meta()), 'u@example.com', v.one[s]] }); if (r.rows.length !== 1) throw new Error('one'); v.one[s]++; },
};
const time = async (f: () => Promise<void>, k: number) => { const t = performance.now(); for (let i = 0; i < k; i++) await f(); return (performance.now() - t) * 1000 / k; };
for (const f of Object.values(ops)) await time(f, 300);
const totals: Record<string, number[]> = { raw: [], general: [], single: [], captureOnly: [], generalGeneric: [] };
for (let r = 0; r < 12; r++) for (const [k, f] of Object.entries(ops)) totals[k]!.push(await time(f, 300));
const med = (a: number[]) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(JSON.stringify(Object.fromEntries(Object.entries(totals).map(([k, a]) => [k, Math.round(med(a))]))), 'µs per op (median of 12 rounds of 300)');
for (const [cl, name] of [[c, 'custom/auto'], [g, 'generic']] as const) { const r = await cl.query("SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'lakechat_%'"); console.log(name, JSON.stringify(r.rows)); }
await c.end(); await g.end(); await server.stop();
