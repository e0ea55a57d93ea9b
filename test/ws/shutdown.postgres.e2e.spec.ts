import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes } from '../../src/ws/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/global-setup.ts';
import { Client, eventually } from './ws-support.ts';

let database: TestDatabase;
let server: ChildProcess | undefined;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  server?.kill('SIGKILL');
  await database.drop();
});

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the server process on SIGTERM', () => {
  it('closes every WebSocket client with 1012, cuts off one that does not answer, and exits cleanly', async () => {
    const port = await freePort();
    const output: string[] = [];
    server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), LAKEBASE_PG_URL: database.url, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    await eventually('the server to listen', () => output.join('').includes('Server listening'), 30_000);

    const url = `ws://127.0.0.1:${port}/ws`;
    const polite = await Client.open(url, { user: 'alice@example.com' });
    const subscribed = await Client.open(url, { user: 'bob@example.com' });
    const deaf = await Client.open(url, { user: 'carol@example.com' });
    expect((await subscribed.subscribe({ id: 's', scope: 'user', after: null })).type).toBe('caught_up');
    // This one never reads again, so it never answers the close: the server must not wait for it forever.
    deaf.socket.pause();

    server.kill('SIGTERM');
    expect(await polite.closed).toEqual({ code: closeCodes.serverRestarting, reason: 'LAKECHAT_ERR_WS_SERVER_RESTARTING' });
    expect(await subscribed.closed).toEqual({ code: closeCodes.serverRestarting, reason: 'LAKECHAT_ERR_WS_SERVER_RESTARTING' });
    // Stopping: the server waits (2 s) for the deaf client, and takes no one new meanwhile.
    const late = new Client(url, { user: 'dave@example.com' });
    await expect(late.opened).rejects.toThrow();
    // Exit code 0: the graceful path finished; the forced exit (9 s) would exit with 1.
    expect(await exited).toBe(0);
    server = undefined;
    expect(output.join('')).toContain('"msg":"stopped"');
    deaf.socket.resume();
    await deaf.closed;
  });
});
