/**
 * Hidden: a copied database hides every new event. A log built in one PostgreSQL whose transaction
 * counter is high, copied into a fresh PostgreSQL whose counter is lower (as pg_dump and restore, or
 * a move between Lakebase Provisioned and Autoscaling, do), is detected at start-up and by the
 * doctor, and after `npm run repair:copied-log` lakechat works on the copy: every old and new event
 * once, in order, in the read models, on a live subscription and in a replay.
 */
import pg from 'pg';
import { createPool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { isLakechatError } from '../../src/errors.ts';
import { decodeCursor, encodeCursor, type RecordedEvent, readStoreIdentity } from '../../src/event-store/index.ts';
import { detectCopiedLog } from '../../src/event-store/postgres/copied-log.ts';
import { runDoctor } from '../../src/lakebase/doctor.ts';
import { createLogger } from '../../src/logger.ts';
import { runMigrations } from '../../src/migrate.ts';
import { openStorage } from '../../src/storage.ts';
import { runScriptFile } from '../replay/run-script.ts';
import { type LocalPostgres, startEmbeddedPostgres } from '../support/embedded-postgres.ts';
import { Client, eventsPage, startInstance } from '../ws/ws-support.ts';

const user = 'copied@example.com';
/** Every table lakechat keeps, in an order that can be loaded one after another. */
const tables = ['events', 'projection_checkpoints', 'projection_parked_events', 'projection_rebuilds', 'chats', 'messages', 'profiles', 'profile_history'];

let source: LocalPostgres;
let target: LocalPostgres;
beforeAll(async () => {
  [source, target] = await Promise.all([startEmbeddedPostgres(), startEmbeddedPostgres()]);
  await runMigrations({ connectionString: source.url });
  await runMigrations({ connectionString: target.url });
}, 120_000);
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Copies every row of lakechat's tables, ids and transaction ids as they are (what a dump keeps). */
async function copyDatabase(from: string, to: string): Promise<void> {
  await withClient(from, (reader) =>
    withClient(to, async (writer) => {
      await writer.query(`TRUNCATE ${tables.join(', ')}`);
      for (const table of tables) {
        const { rows } = await reader.query<{ rows: unknown }>(`SELECT coalesce(json_agg(t), '[]') AS rows FROM ${table} AS t`);
        await writer.query(`INSERT INTO ${table} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(null::${table}, $1)`, [JSON.stringify(rows[0]!.rows)]);
      }
      await writer.query(`SELECT setval(pg_get_serial_sequence('events', 'position'), (SELECT max(position) FROM events))`);
    }),
  );
}

async function readLog(url: string): Promise<{ id: string; tx: string }[]> {
  return withClient(url, async (client) => (await client.query<{ id: string; tx: string }>('SELECT event_id::text AS id, tx_id::text AS tx FROM events ORDER BY tx_id, position')).rows);
}

describe('Hidden: a copied database hides every new event', () => {
  it('is refused at start-up with the repair command, reported by the doctor, and after the repair every old and new event is read once, in order, everywhere', async () => {
    // A log in the source, written across a high transaction counter.
    const origin = await startInstance({ databaseUrl: source.url });
    expect((await origin.http(user, 'POST', '/api/chats', { id: 'c', title: 'Budget' })).status).toBe(201);
    for (const content of ['one', 'two']) expect((await origin.http(user, 'POST', '/api/chats/c/messages', { content })).status).toBe(201);
    await withClient(source.url, (client) => client.query('DO $$ BEGIN FOR i IN 1..3000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$'));
    let fromSource = '';
    for (const content of ['three', 'four']) {
      const posted = await origin.http(user, 'POST', '/api/chats/c/messages', { content });
      expect(posted.status).toBe(201);
      fromSource = posted.body.cursor as string; // names the source's cluster
    }
    expect((await origin.http(user, 'PATCH', '/api/profile', { jobTitle: 'Analyst' })).status).toBeLessThan(300);
    await origin.close();
    const original = await readLog(source.url);
    expect(original.length).toBeGreaterThanOrEqual(6);

    await copyDatabase(source.url, target.url);
    const probe = await createPool(target.url);
    const check = await detectCopiedLog(probe);
    const beforeRepair = await readStoreIdentity(probe);
    await probe.end();
    expect(check.copied).toBe(true);
    expect(BigInt(check.maxTxId!)).toBeGreaterThan(BigInt(check.nextTxId));

    // Start-up refuses (whatever STORAGE_FALLBACK says), naming the error and the command.
    const refused = await openStorage(loadConfig({ LAKEBASE_PG_URL: target.url, LOG_LEVEL: 'silent' }, { envFile: false }), createLogger({ level: 'silent' })).then(
      async (storage) => {
        await storage.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(isLakechatError(refused, 'LAKECHAT_ERR_STORE_COPIED_LOG')).toBe(true);
    expect((refused as Error).message).toContain('npm run repair:copied-log');

    const lines: string[] = [];
    const report = await runDoctor({ env: { LAKEBASE_PG_URL: target.url }, envFile: false, write: (line) => lines.push(line) });
    expect(report.ok).toBe(false);
    expect(report.steps.at(-1)).toMatchObject({ step: 'copied log', ok: false, fix: expect.stringContaining('npm run repair:copied-log') });

    const repair = await runScriptFile('repair-copied-log', [], { LAKEBASE_PG_URL: target.url });
    expect(repair.stderr).toBe('');
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain('repaired');
    const repaired = await readLog(target.url);
    expect(repaired.map((row) => row.id)).toEqual(original.map((row) => row.id)); // same order
    expect((await runDoctor({ env: { LAKEBASE_PG_URL: target.url }, envFile: false, write: () => {} })).ok).toBe(true);
    // Running it again changes nothing.
    expect((await runScriptFile('repair-copied-log', [], { LAKEBASE_PG_URL: target.url })).stdout).toContain('nothing to repair');

    // lakechat on the copy: a live subscriber from the start, a new post, the read models, a replay.
    const copy = await startInstance({ databaseUrl: target.url, env: { ANALYST_EMAILS: user } });
    try {
      const subscriber = await Client.open(copy.url, { user });
      const caughtUp = await subscriber.subscribe({ id: 'all', scope: 'user', after: null });
      expect(caughtUp.type).toBe('caught_up');
      expect((await copy.http(user, 'POST', '/api/chats/c/messages', { content: 'five, on the copy' })).status).toBe(201);
      expect((await copy.http(user, 'POST', '/api/chats', { id: 'd' })).status).toBe(201);
      const messages = await copy.http(user, 'GET', '/api/chats/c/messages');
      expect(messages.body.messages.map((m: { content: string }) => m.content)).toEqual(['one', 'two', 'three', 'four', 'five, on the copy']);
      expect((await copy.http(user, 'GET', '/api/chats/d')).status).toBe(200);

      // Cursors name their store: the copy is another store than its source, and than itself before the repair.
      const copyName = (await eventsPage(copy, user, '?limit=1')).events[0]!.cursor.split('.')[1]!;
      expect(copyName).not.toBe(beforeRepair);
      expect(copyName).not.toBe(fromSource.split('.')[1]);
      expect(messages.body.messages.map((m: { cursor: string }) => m.cursor.split('.')[1])).toEqual(Array(5).fill(copyName));
      const { tx, position } = decodeCursor(messages.body.messages[3].cursor as string);
      for (const foreign of [fromSource, encodeCursor({ tx, position, store: beforeRepair })]) {
        const answer = await copy.http(user, 'GET', `/api/events?after=${encodeURIComponent(foreign)}`);
        expect([foreign, answer.status, answer.body?.error?.code]).toEqual([foreign, 400, 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
        const client = await Client.open(copy.url, { user });
        const frame = await client.subscribe({ id: 'f', scope: 'user', after: foreign });
        expect([foreign, frame.type, frame.code]).toEqual([foreign, 'error', 'LAKECHAT_ERR_STORE_INVALID_CURSOR']);
        client.close();
      }
      const printed = await runScriptFile('replay', ['--format', 'ndjson'], { LAKEBASE_PG_URL: target.url });
      expect(printed.code).toBe(0);
      const lines = printed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { cursor: string });
      expect(lines.length).toBeGreaterThanOrEqual(original.length);
      expect(new Set(lines.map((line) => line.cursor.split('.')[1]))).toEqual(new Set([copyName]));

      const replay: RecordedEvent[] = [];
      for (let after: string | null = null; ; ) {
        const page = await copy.store.readAll({ after, limit: 2 });
        replay.push(...page.events);
        if (page.events.length === 0) break;
        after = page.cursor;
      }
      expect(replay.slice(0, original.length).map((event) => event.eventId)).toEqual(original.map((row) => row.id));
      expect(replay).toHaveLength(original.length + 2);
      expect(new Set(replay.map((event) => event.eventId)).size).toBe(replay.length);

      const live = await subscriber.until(() => (subscriber.events('all').length >= replay.length ? subscriber.events('all') : undefined), 'every event live', 15_000);
      expect(live.map((frame) => `${frame.streamId}@${frame.version}`)).toEqual(replay.map((event) => `${event.streamId}@${event.version}`));
      subscriber.close();
    } finally {
      await copy.close();
    }
  }, 180_000);
});
