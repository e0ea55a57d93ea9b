/**
 * `npm run projections:rebuild` and `npm run projections:status` as developers run them: Ctrl-C stops a
 * rebuild with its progress saved, the next run resumes and swaps, status says where things stand.
 */
import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEventLog } from '../../scripts/bench/seed-log.ts';
import { createLogBed, type LogBed, waitReadable } from '../replay/log-bed.ts';
import { runScriptFile, startScriptFile } from '../replay/run-script.ts';

let bed: LogBed;
const env = () => ({ LAKEBASE_PG_URL: bed.database.url });
const events = 40_000;

beforeAll(async () => {
  bed = await createLogBed();
  await seedEventLog(bed.database.url, { events, transactions: 4 });
  // Readable before any rebuild starts: another test file's open transaction could otherwise hide the
  // later seeding transactions from it, and it would rightly stop at the ones it can see.
  await waitReadable(bed.store, (await bed.pool.oneFirst(sql.unsafe`SELECT tx_id::text || '-' || position::text FROM events ORDER BY tx_id DESC, position DESC LIMIT 1`)) as string);
}, 120_000);

afterAll(async () => {
  await bed?.close();
});

async function eventsRebuilt(): Promise<number> {
  const saved = await bed.pool.maybeOneFirst(sql.unsafe`SELECT max(events) FROM projection_rebuilds`).catch(() => null);
  return Number(saved ?? 0);
}

describe('npm run projections:rebuild and projections:status', { timeout: 180_000 }, () => {
  it('stops on Ctrl-C with its progress saved, then resumes and swaps; status tells each step', async () => {
    const { child, done } = startScriptFile('rebuild-projections', ['--batch-size', '500'], env());
    while ((await eventsRebuilt()) < 2_000) await new Promise((resolve) => setTimeout(resolve, 10));
    child.kill('SIGINT');
    const stopped = await done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('LAKECHAT_ERR_REBUILD_INTERRUPTED');
    const saved = await eventsRebuilt();
    expect(saved).toBeGreaterThanOrEqual(2_000);
    expect(saved).toBeLessThan(events);

    const interrupted = await runScriptFile('projections-status', [], env());
    expect(interrupted.code).toBe(0);
    expect(interrupted.stdout).toMatch(/^messages\s+\(none\)\s+-\s+\d+\+?\s+\S+\s+interrupted, at \d+ /m);

    const resumed = await runScriptFile('rebuild-projections', ['--batch-size', '500'], env());
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^chats: resumed after \d+-\d+(\.[0-9a-z]+)?; now at \d+-\d+(\.[0-9a-z]+)?$/m);
    expect(resumed.stdout).toContain('Swapped in');
    // Not a terminal: no progress bar in the output.
    expect(resumed.stderr).not.toContain('events/s');

    const status = await runScriptFile('projections-status', ['--json'], env());
    const report = JSON.parse(status.stdout) as { headPosition: number; projections: { name: string; position: number; lag: { events: number }; rebuild: unknown }[] };
    expect(report.projections.map((projection) => [projection.name, projection.position, projection.lag.events, projection.rebuild])).toEqual(
      ['chats', 'messages', 'profiles', 'profile_history'].map((name) => [name, report.headPosition, 0, null]),
    );
    expect(Number(await bed.pool.oneFirst(sql.unsafe`SELECT count(*) FROM messages`))).toBeGreaterThan(events / 2);
  });

  it('reports a dry run without swapping or leaving anything behind, and names an unknown projection', async () => {
    await bed.pool.query(sql.unsafe`DELETE FROM messages WHERE position = 1`);
    const dry = await runScriptFile('rebuild-projections', ['--dry-run', '--projection', 'messages'], env());
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^ {2}messages: (\d+) added, 0 removed, 0 changed/m);
    expect(dry.stdout).toContain('Nothing swapped');
    // A dry run leaves nothing behind: no shadow tables, nothing for status to call interrupted.
    expect(await bed.pool.maybeOneFirst(sql.unsafe`SELECT to_regclass('messages__rebuild')::text`)).toBeNull();
    const status = await runScriptFile('projections-status', [], env());
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain('interrupted');
    const unknown = await runScriptFile('rebuild-projections', ['--projection', 'chatz'], env());
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('LAKECHAT_ERR_REBUILD_UNKNOWN_PROJECTION');
    const abandoned = await runScriptFile('rebuild-projections', ['--abandon', '--projection', 'messages'], env());
    expect(abandoned.code).toBe(0);
    expect(await bed.pool.maybeOneFirst(sql.unsafe`SELECT to_regclass('messages__rebuild')::text`)).toBeNull();
  });
});
