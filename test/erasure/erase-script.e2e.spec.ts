import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresTestBed, type PostgresTestBed } from '../event-store/postgres-support.ts';
import { runScriptFile, startScriptFile } from '../replay/run-script.ts';
import { allEvents, databaseText } from './helpers.ts';

const victim = 'script-victim@example.com';
const keeper = 'script-keeper@example.com';
let bed: PostgresTestBed;

beforeAll(async () => {
  bed = await createPostgresTestBed(4);
  const store = bed.openStore();
  for (const [owner, count] of [
    [victim, 3_000],
    [keeper, 20],
  ] as const) {
    const streamId = `chat-${randomUUID()}`;
    for (let version = 0; version < count; version += 100) {
      const events = Array.from({ length: Math.min(100, count - version) }, (_, i) => ({
        type: 'MessagePosted',
        data: { chatId: 'c', messageId: randomUUID(), position: version + i + 1, role: 'user', content: `${owner} words ${version + i}` },
        metadata: { actor: owner },
      }));
      await store.append(streamId, events, { expectedVersion: version, owner });
    }
  }
});
afterAll(async () => {
  await bed.close();
});

const env = (): Record<string, string> => ({ LAKEBASE_PG_URL: bed.database.url });

describe('npm run erase', () => {
  it('--dry-run lists what would be erased, per event type and table, and changes nothing', { timeout: 120_000 }, async () => {
    const result = await runScriptFile('erase', ['--user', victim, '--dry-run'], env());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('events MessagePosted: 3000');
    expect((await allEvents(bed.openStore(), { owner: victim })).length).toBe(3_000);
  });

  it('killed with SIGKILL mid-way, a rerun takes the erasure up again and completes it, and says it resumed', { timeout: 180_000 }, async () => {
    const run = startScriptFile('erase', ['--user', victim, '--requested-by', 'operator-jo', '--batch', '20'], env());
    // Kill it once it has erased some of the events (its record says how many).
    for (const deadline = Date.now() + 90_000; ; ) {
      const { rows } = await bed.pool.query(sql.unsafe`SELECT events_erased FROM erasures WHERE state = 'running'`);
      if (rows.length > 0 && Number((rows[0] as { events_erased: unknown }).events_erased) > 0) break;
      if (Date.now() > deadline) throw new Error(`the script did not start erasing: ${JSON.stringify(await run.done)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    run.child.kill('SIGKILL');
    await run.done;
    const left = (await allEvents(bed.openStore(), { owner: victim })).length;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(3_000);

    const rerun = await runScriptFile('erase', [], env());
    expect(rerun.code, rerun.stderr).toBe(0);
    const summary = /completed, (\d+) events and \d+ rows erased, requested by operator-jo, resumed 1 time\(s\)/.exec(rerun.stdout);
    expect(summary, rerun.stdout).not.toBeNull();
    // Each batch and its count are one statement: whenever the kill came, the count is exact
    // (docs/privacy.md, "The audit record").
    expect(Number(summary![1])).toBe(3_000);
    expect(await allEvents(bed.openStore(), { owner: victim })).toEqual([]);
    const dump = await databaseText(bed.database.url);
    expect(dump).not.toContain(victim);
    expect(dump).toContain(`${keeper} words 19`);
  });
});
