import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/global-setup.ts';

const chromiumPath = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = import.meta.resolve('tsx');
// In CI the browser test must run: .ci/run installs chromium, and its absence is a failure there.
const skip = !existsSync(chromiumPath) && process.env.CI === undefined;
if (skip) console.warn(`skipping the demo page browser test: ${chromiumPath} is missing (apt-get install -y chromium)`);

interface ServerProcess {
  url: string;
  stop(): Promise<void>;
}

/** A real lakechat server process on 127.0.0.1:port, on the shared test database. */
async function startServer(port: number, databaseUrl: string): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, 'src/server.ts'], {
    cwd: root,
    // Other test files share the PostgreSQL server: their transactions can hold the log's readers
    // (and so a write's wait for the read models) back for longer than the default 5 s.
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LAKEBASE_PG_URL: databaseUrl, STORAGE_FALLBACK: 'fail', LOG_LEVEL: 'warn', PROJECTION_WAIT_TIMEOUT_MS: '30000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${output}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 300) throw new Error(`the server did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

let database: TestDatabase;
let profile: string;
let context: BrowserContext | undefined;
const servers: ServerProcess[] = [];
beforeAll(async () => {
  if (skip) return;
  database = await createTestDatabase();
  await runMigrations({ connectionString: database.url });
  profile = mkdtempSync(path.join(tmpdir(), 'lakechat-chromium-'));
});
afterAll(async () => {
  if (skip) return;
  await context?.close();
  for (const server of servers) await server.stop();
  rmSync(profile, { recursive: true, force: true });
  await database.drop();
});

const messagesOf = (page: Page) => page.locator('#messages li .content');
/** What a page shows, polled until it matches (a browser and two servers share two busy cores). */
const poll = <T>(probe: () => Promise<T>) => expect.poll(probe, { timeout: 20_000, interval: 100 });

describe.skipIf(skip)('the demo page in a real browser', () => {
  it('chats between two tabs on two server instances, through a restart of one of them, live and without duplicates', async () => {
    const portA = await freePort();
    const portB = await freePort();
    const [serverA, serverB] = await Promise.all([startServer(portA, database.url), startServer(portB, database.url)]);
    servers.push(serverA, serverB);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const user = encodeURIComponent('alice@example.com');
    const first = await context.newPage();
    const second = await context.newPage();
    const pageErrors: string[] = [];
    for (const page of [first, second]) page.on('pageerror', (error) => pageErrors.push(error.message));
    await first.goto(`${serverA.url}/?user=${user}`);
    await second.goto(`${serverB.url}/?user=${user}`);
    await poll(() => first.locator('#status').getAttribute('data-state')).toBe('live');
    await poll(() => second.locator('#status').getAttribute('data-state')).toBe('live');

    // Tab 1 starts a chat: tab 2, on the other instance, sees it appear.
    await first.fill('#new-title', 'Groceries');
    await first.click('#new-chat button');
    await poll(() => second.locator('#chats li .title').allTextContents()).toEqual(['Groceries']);
    await second.click('#chats li');
    await poll(() => first.locator('#chat-title').textContent()).toBe('Groceries');

    // Typing in tab 1 shows in tab 2 (a signal, across instances through PostgreSQL).
    await first.locator('#content').pressSequentially('mil');
    await poll(() => second.locator('#typing').textContent()).toBe('alice@example.com is typing…');
    await first.fill('#content', 'milk');
    await first.click('#post button');
    await poll(() => messagesOf(second).allTextContents()).toEqual(['milk']);

    // Instance B restarts: tab 2 reconnects by itself and resumes after its last cursor.
    await serverB.stop();
    await poll(() => second.locator('#status').getAttribute('data-state')).toBe('reconnecting');
    await first.fill('#content', 'eggs');
    await first.click('#post button');
    await poll(() => messagesOf(first).allTextContents()).toEqual(['milk', 'eggs']);
    const restarted = await startServer(portB, database.url);
    servers.push(restarted);
    await poll(() => second.locator('#status').getAttribute('data-state')).toBe('live');
    await poll(() => messagesOf(second).allTextContents()).toEqual(['milk', 'eggs']);

    // And tab 2 posts through the restarted instance: tab 1 sees it, nothing twice anywhere.
    await second.fill('#content', 'bread');
    await second.click('#post button');
    await poll(() => messagesOf(first).allTextContents()).toEqual(['milk', 'eggs', 'bread']);
    await poll(() => messagesOf(second).allTextContents()).toEqual(['milk', 'eggs', 'bread']);
    expect(await second.locator('#chats li .preview').textContent()).toBe('bread');

    await second.screenshot({ path: path.join(tmpdir(), 'lakechat-demo-page.png') });
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
