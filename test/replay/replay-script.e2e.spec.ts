/**
 * `npm run replay` as analysts run it: output on stdout or in a file, nothing on stderr when it is not a
 * terminal, the "as of" forms, and clear failures with their exit codes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatStreamId } from '../../src/chats/stream-id.ts';
import { nameCursor, type RecordedEvent, readStoreIdentity } from '../../src/event-store/index.ts';
import { createLogBed, type LogBed, writeHistory } from './log-bed.ts';
import { runScriptFile, scriptEnv } from './run-script.ts';

let bed: LogBed;
let log: RecordedEvent[];
let folder: string;
const replay = (...args: string[]) => runScriptFile('replay', args, { LAKEBASE_PG_URL: bed.database.url });

beforeAll(async () => {
  // `npm run replay` starts from dist/: build it first, so the first run's one line about building
  // (on stderr) is not what the test below reads.
  await new Promise((resolve, reject) => execFile(process.execPath, ['scripts/build.mjs'], (error) => (error === null ? resolve(undefined) : reject(error))));
  bed = await createLogBed();
  await writeHistory(bed.writer, { users: 2, chatsPerUser: 2, messagesPerChat: 3 });
  await bed.readable();
  log = (await bed.store.readAll({ limit: 10_000 })).events;
  folder = mkdtempSync(path.join(tmpdir(), 'lakechat-replay-'));
}, 120_000);

afterAll(async () => {
  rmSync(folder, { recursive: true, force: true });
  await bed?.close();
});

describe('npm run replay', { timeout: 60_000 }, () => {
  it('writes NDJSON to stdout, and nothing to stderr when stderr is not a terminal', async () => {
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        'npm',
        ['run', '-s', 'replay', '--', '--type', 'MessagePosted', '--user', 'user1@example.com'],
        { env: scriptEnv({ LAKEBASE_PG_URL: bed.database.url }) },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
      ),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const ids = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { event_id: string }).event_id);
    expect(ids).toEqual(log.filter((event) => event.type === 'MessagePosted' && event.owner === 'user1@example.com').map((event) => event.eventId));
  });

  it('writes CSV or JSON to the file given with --out', async () => {
    const csv = path.join(folder, 'events.csv');
    const result = await replay('--format', 'csv', '--out', csv, '--from-position', String(log[2]!.position), '--limit', '5');
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const rows = readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(rows[0]).toBe('position,cursor,stream_id,stream_version,event_type,event_id,schema_version,owner,recorded_at,data,metadata');
    expect(rows.slice(1).map((row) => row.split(',')[5])).toEqual(log.slice(2, 7).map((event) => event.eventId));
    const json = path.join(folder, 'events.json');
    expect((await replay('--format', 'json', '--out', json)).code).toBe(0);
    expect((JSON.parse(readFileSync(json, 'utf8')) as unknown[]).length).toBe(log.length);
  });

  it('prints one stream as it was with --as-of and --stream', async () => {
    const stream = chatStreamId('user0@example.com', 'h0');
    const events = log.filter((event) => event.streamId === stream);
    const result = await replay('--as-of', events[2]!.cursor, '--stream', stream);
    expect(result.code).toBe(0);
    const state = JSON.parse(result.stdout) as { version: number; view: { messages: unknown[] }; state: { messageCount: number } };
    expect(state.version).toBe(3);
    expect(state.view.messages).toHaveLength(2);
    expect(state.state.messageCount).toBe(2);
  });

  it('builds the read models as of a moment into a schema with --into', async () => {
    const result = await replay('--as-of', String(log[9]!.position), '--into', 'replay_as_of');
    expect(result.code).toBe(0);
    // The script's cursors name the store (the bed's own store here issues them bare).
    expect(JSON.parse(result.stdout)).toMatchObject({ schema: 'replay_as_of', cursor: nameCursor(log[9]!.cursor, await readStoreIdentity(bed.pool)) });
    const count = await bed.pool.oneFirst(sql.unsafe`SELECT count(*) FROM replay_as_of.chats`);
    expect(Number(count)).toBe(
      new Set(
        log
          .slice(0, 10)
          .filter((event) => event.type === 'ChatStarted')
          .map((event) => event.streamId),
      ).size,
    );
  });

  it('refuses a bad argument with exit code 64 and the error code, and runs nowhere without a database', async () => {
    const unknown = await replay('--colour', 'blue');
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('LAKECHAT_ERR_REPLAY_INVALID_ARGUMENT');
    const badTime = await replay('--since', 'yesterday');
    expect(badTime.code).toBe(64);
    expect(badTime.stderr).toContain('--since');
    expect((await replay('--into', 'x')).code).toBe(64);
    const mixed = await replay('--as-of', '1', '--stream', 'chat-x', '--type', 'MessagePosted');
    expect(mixed.code).toBe(64);
    expect(mixed.stderr).toContain('--type');
    const nowhere = await runScriptFile('replay', [], {});
    expect(nowhere.code).toBe(69);
    expect(nowhere.stderr).toContain('LAKECHAT_ERR_REPLAY_NEEDS_DATABASE');
  });

  it('writes clean data through the pipes docs/replay.md shows (npm run --silent), where plain npm run would lead with its banner', async () => {
    const shell = (command: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile('sh', ['-c', command], { env: scriptEnv({ LAKEBASE_PG_URL: bed.database.url }), maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
        ),
      );
    // docs/replay.md: `npm run --silent replay -- --user ada@example.com --type MessagePosted | jq -r .data.content`,
    // with node reading each line as jq would.
    const readEachLine = `node -e "let t='';process.stdin.on('data',c=>t+=c).on('end',()=>{for(const l of t.trimEnd().split('\\n'))console.log(JSON.parse(l).data.content)})"`;
    const piped = await shell(`npm run --silent replay -- --user user1@example.com --type MessagePosted | ${readEachLine}`);
    expect(piped.stderr).toBe('');
    const contents = log.filter((event) => event.type === 'MessagePosted' && event.owner === 'user1@example.com').map((event) => (event.data as { content: string }).content);
    expect(contents.length).toBeGreaterThan(0);
    expect(piped.stdout.trimEnd()).toBe(contents.join('\n'));
    // `npm run --silent replay -- --as-of MOMENT --stream STREAM_ID`: one JSON document on stdout.
    const stream = chatStreamId('user0@example.com', 'h0');
    const asOf = await shell(`npm run --silent replay -- --as-of ${log.find((event) => event.streamId === stream)!.cursor} --stream ${stream}`);
    expect(JSON.parse(asOf.stdout)).toMatchObject({ version: 1 });
    // Why the docs say --silent: npm itself prints `> lakechat@0.1.0 replay` to stdout first.
    const plain = await shell('npm run replay -- --user user1@example.com --type MessagePosted --limit 1');
    expect(plain.stdout.trimStart()).toMatch(/^> lakechat@\S+ replay\n/);
  }, 180_000);
});
